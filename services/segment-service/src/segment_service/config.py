from __future__ import annotations

from cityline_common.settings import CommonSettings, CryptoSettings, InternalAuthSettings


class Settings(CommonSettings, CryptoSettings, InternalAuthSettings):
    """segment-service: keys for the personal data it stores, and for its internal API's tokens."""
