"""richmenu-service: which rich menu each resident sees (tabs, segments, periods, 防災)."""
