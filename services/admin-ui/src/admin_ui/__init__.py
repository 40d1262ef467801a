"""admin-ui: the staff console (管理画面), in Japanese."""
