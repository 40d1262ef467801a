from __future__ import annotations

from cityline_common.settings import CommonSettings, CryptoSettings


class Settings(CommonSettings, CryptoSettings):
    """segment-service: keys for the personal data it stores."""
