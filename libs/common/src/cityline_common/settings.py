"""Settings read from the environment, validated at start-up.

Every service subclasses :class:`CommonSettings`. A missing or malformed value stops the process
with one clear line per problem that names the environment variable, never a stack trace.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from cityline_common.internal_auth import InternalTokenSigner, InternalTokenVerifier


class ConfigError(Exception):
    """The environment does not describe a runnable configuration."""


class CommonSettings(BaseSettings):
    """What every process of the platform needs. Field names map to upper-case env vars."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    database_url: str = Field(
        default="postgresql+psycopg2://postgres@127.0.0.1:5432/cityline",
        description="SQLAlchemy URL of the PostgreSQL database; each service uses its own schema in it.",
    )
    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/%2F",
        description="RabbitMQ URL (amqp:// or amqps://).",
    )
    log_level: str = Field(default="INFO")
    log_format: str = Field(default="json", description="json (default) or text for local reading.")
    log_tag_key: SecretStr | None = Field(
        default=None,
        description="Key of the tags that stand for LINE ids in logs (HMAC); the same in every process.",
    )
    amqp_prefetch: int = Field(default=50, ge=1, le=1000)
    amqp_heartbeat_seconds: int = Field(default=15, ge=5, le=120)

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str) -> str:
        if not value.startswith(("postgresql://", "postgresql+psycopg2://")):
            raise ValueError("must be a postgresql:// or postgresql+psycopg2:// URL")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg2://" + value.removeprefix("postgresql://")
        return value

    @field_validator("amqp_url")
    @classmethod
    def _amqp_only(cls, value: str) -> str:
        if not value.startswith(("amqp://", "amqps://")):
            raise ValueError("must be an amqp:// or amqps:// URL")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return value

    @field_validator("log_format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in {"json", "text"}:
            raise ValueError("must be json or text")
        return value


S = TypeVar("S", bound=BaseSettings)


def describe_errors(error: ValidationError, settings_cls: type[BaseSettings]) -> str:
    """One line per problem, naming the environment variable as the operator must write it."""
    prefix = str(settings_cls.model_config.get("env_prefix", "") or "")
    lines = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"]) or "?"
        env_name = (prefix + field).upper()
        reason = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "missing":
            reason = "is required but not set"
        lines.append(f"{env_name}: {reason}")
    return "; ".join(lines)


def load_settings(settings_cls: type[S], **overrides: Any) -> S:
    """Build settings from the environment or raise :class:`ConfigError` with a readable reason."""
    try:
        return settings_cls(**overrides)
    except ValidationError as exc:
        raise ConfigError(f"invalid configuration: {describe_errors(exc, settings_cls)}") from None


def load_settings_or_exit(settings_cls: type[S]) -> S:
    """For entrypoints: print the reason and exit 2 instead of a traceback."""
    try:
        return load_settings(settings_cls)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from None


class CryptoSettings(BaseSettings):
    """Keys for field encryption of personal data. Mix into a service's settings when it stores PII."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    field_encryption_keys: SecretStr = Field(
        description="Keyring 'kid:base64key,…'; the first key encrypts new values, all decrypt.",
    )
    blind_index_key: SecretStr = Field(
        description="Keyring 'kid:base64key,…' of HMAC blind-index keys; the first indexes new rows, all are "
                    "looked up. A bare base64 key (the form before keyrings) is key id 'k0'.",
    )

    @field_validator("field_encryption_keys")
    @classmethod
    def _valid_keyring(cls, value: SecretStr) -> SecretStr:
        from cityline_common.crypto import CryptoError, Keyring

        try:
            Keyring.parse(value.get_secret_value())
        except CryptoError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("blind_index_key")
    @classmethod
    def _valid_index_key(cls, value: SecretStr) -> SecretStr:
        from cityline_common.crypto import BlindIndex, CryptoError

        try:
            BlindIndex(value.get_secret_value())
        except CryptoError as exc:
            raise ValueError(str(exc)) from None
        return value


class LineSettings(BaseSettings):
    """How to reach the LINE Platform (or the emulator: the same code, another base URL)."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    line_channel_secret: SecretStr = Field(description="Messaging API channel secret (webhook signatures).")
    line_channel_access_token: SecretStr = Field(description="Messaging API channel access token.")
    line_api_base_url: str = Field(
        default="https://api.line.me", description="api.line.me, or the emulator's URL."
    )
    line_api_data_base_url: str = Field(
        default="https://api-data.line.me", description="api-data.line.me, or the emulator's URL."
    )

    @field_validator("line_api_base_url", "line_api_data_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be an http(s):// URL")
        return value.rstrip("/")


class InternalAuthSettings(BaseSettings):
    """Keys of the signed tokens internal APIs require (``cityline_common.internal_auth``). Mix into
    the settings of every service that serves ``/internal/`` routes or calls another's.

    The verify ring is required: a process of such a service does not start without it, so no
    instance ever serves its internal API unguarded (and an app built without a verifier refuses
    every ``/internal/`` request anyway). The signing key is only for processes that call others."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    internal_token_verify_keys: str = Field(
        description="Ring 'kid:base64url(Ed25519 public key),…' the internal API tokens are verified against; "
                    "every key of the ring is accepted (rotation: add the new key, switch signers, drop the old).",
    )
    internal_token_signing_key: SecretStr | None = Field(
        default=None,
        description="'kid:base64url(32-byte Ed25519 private seed)' this process signs internal API tokens with; "
                    "only for processes that call other services.",
    )

    @field_validator("internal_token_verify_keys")
    @classmethod
    def _valid_verify_ring(cls, value: str) -> str:
        from cityline_common.internal_auth import parse_verify_keys

        parse_verify_keys(value)  # InternalKeyError is a ValueError: one line naming the key id
        return value.strip()

    @field_validator("internal_token_signing_key")
    @classmethod
    def _valid_signing_key(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        from cityline_common.internal_auth import parse_signing_key, parse_verify_keys, public_key_text

        if value is None:
            return None
        key_id, private = parse_signing_key(value.get_secret_value())
        ring = info.data.get("internal_token_verify_keys")
        listed = parse_verify_keys(ring).get(key_id) if ring else None
        if listed is not None and public_key_text(listed) != public_key_text(private):
            raise ValueError(f"key {key_id!r} is not the private half of the key "
                             "INTERNAL_TOKEN_VERIFY_KEYS lists under that id")
        return value

    def internal_token_verifier(self, audience: str) -> InternalTokenVerifier:
        """The verifier of a service's internal API: ``audience`` is its manifest name."""
        from cityline_common.internal_auth import InternalTokenVerifier

        return InternalTokenVerifier.from_spec(self.internal_token_verify_keys, audience)

    def internal_token_signer(self, issuer: str) -> InternalTokenSigner | None:
        """The signer of a calling process (``issuer``: its service's manifest name), None without a key."""
        from cityline_common.internal_auth import InternalTokenSigner

        if self.internal_token_signing_key is None:
            return None
        return InternalTokenSigner.from_spec(self.internal_token_signing_key.get_secret_value(), issuer)
