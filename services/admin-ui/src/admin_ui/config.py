from __future__ import annotations

import hashlib
import hmac

from cityline_common.crypto import Keyring
from cityline_common.internal_auth import InternalTokenSigner
from cityline_common.settings import CommonSettings, CryptoSettings, InternalAuthSettings
from pydantic import Field, SecretStr

ISSUER = "admin"  # admin-ui's manifest name: the ``iss`` of the internal API tokens it signs


class Settings(CommonSettings, CryptoSettings, InternalAuthSettings):
    segment_service_url: str = Field(default="http://127.0.0.1:8002")
    dispatcher_url: str = Field(default="http://127.0.0.1:8004")  # DISPATCHER_URL (the manifest's url_env)
    richmenu_service_url: str = Field(default="http://127.0.0.1:8003")  # RICHMENU_SERVICE_URL (url_env)
    # The dispatcher's SECOND_CONFIRMATION_THRESHOLD: above it, the 送信 page says a second person confirms.
    second_confirmation_threshold: int = Field(default=10_000, ge=1)
    internal_api_timeout_seconds: float = Field(default=2.0, gt=0, le=30)
    # admin-ui calls the other services' internal APIs on behalf of its signed-in staff: it needs
    # a signing key (optional for other processes, required here).
    internal_token_signing_key: SecretStr = Field(
        description="'kid:base64url(32-byte Ed25519 private seed)' admin-ui signs internal API tokens with.",
    )

    # --- staff access (docs/architecture.md, "Staff access (admin-ui)") ---
    # Cookies are Secure and __Host- prefixed; only the local demo on http://127.0.0.1 turns this off.
    admin_ui_cookie_secure: bool = Field(default=True)
    # Signs the small cookie that carries the CSRF secret (Flask's session; sign-in lives in PostgreSQL).
    # Unset: derived from the active FIELD_ENCRYPTION_KEYS key (HMAC, own purpose label).
    admin_ui_secret_key: SecretStr | None = Field(default=None)
    # argon2id cost: about 50 ms per hash on the reference machine (adapters/passwords.py).
    admin_ui_argon2_time_cost: int = Field(default=4, ge=1, le=10)
    admin_ui_argon2_memory_kib: int = Field(default=24_576, ge=8_192, le=1_048_576)

    def flask_secret_key(self) -> bytes:
        if self.admin_ui_secret_key is not None:
            return self.admin_ui_secret_key.get_secret_value().encode()
        keyring = Keyring.parse(self.field_encryption_keys.get_secret_value())
        return hmac.new(keyring.key(keyring.active_id), b"admin-ui flask session (csrf)", hashlib.sha256).digest()

    def token_signer(self) -> InternalTokenSigner:
        return InternalTokenSigner.from_spec(self.internal_token_signing_key.get_secret_value(), ISSUER)


class HousekeepingSettings(CommonSettings, CryptoSettings):
    """``admin-ui-housekeeping``: the database and the field keys of admin-ui's unit of work; no
    internal API keys (it calls no service, and the signing key stays with the web process)."""
