"""Field encryption for personal data: AES-256-GCM envelope encryption with key ids and rotation,
plus an HMAC blind index for equality look-ups (design: shared/reference/security.md §5).

Every value gets its own random data key (DEK). The value is sealed with the DEK; the DEK is sealed
with a key-encryption key (KEK) named by a key id. A token is text, safe for a ``text`` column::

    v1:<kek_id>:<base64url(dek_nonce | sealed_dek | nonce | ciphertext+tag)>

* The *context* (e.g. ``"segment.resident.line_user_id"``) is bound as associated data, so a
  token copied into another column does not decrypt there.
* Rotation: new writes use the first (active) KEK of the keyring; older KEKs stay listed for
  decryption until :meth:`FieldCipher.rotate` has re-sealed every token; then they are dropped.
  Destroying every KEK makes every copy of the data (replicas, backups) unreadable.
* The blind index is ``HMAC-SHA256(index_key, purpose ":" value)`` with a key separate from the
  KEKs, so equality look-ups (find the resident for this LINE user id) need no decryption.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_NONCE = 12
_SEALED_DEK = 32 + 16


class CryptoError(Exception):
    """A key is malformed, unknown or wrong, or a token was tampered with."""


def _b64decode_key(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.strip() + "=" * (-len(text.strip()) % 4), altchars=b"-_", validate=False)
    except (binascii.Error, ValueError):
        raise CryptoError(f"{what} is not base64") from None
    if len(raw) != 32:
        raise CryptoError(f"{what} must be 32 bytes (256 bits) of base64, got {len(raw)} bytes")
    return raw


def generate_key() -> str:
    """A fresh 256-bit key in the base64 form the settings expect."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")


@dataclass(frozen=True)
class Keyring:
    """Key-encryption keys by id; the first is the active one for new writes."""

    keys: tuple[tuple[str, bytes], ...]

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """Parse ``"kid:base64key,kid2:base64key"`` (first = active)."""
        entries: list[tuple[str, bytes]] = []
        for part in filter(None, (item.strip() for item in spec.split(","))):
            key_id, sep, material = part.partition(":")
            if not sep or not _KEY_ID.match(key_id):
                raise CryptoError(f"keyring entry {key_id[:32]!r}… must be <key id>:<base64 key>, "
                                  "key id of 1-32 letters, digits, - or _")
            if any(existing == key_id for existing, _ in entries):
                raise CryptoError(f"key id {key_id!r} appears twice")
            entries.append((key_id, _b64decode_key(material, f"key {key_id!r}")))
        if not entries:
            raise CryptoError("the keyring is empty")
        return cls(tuple(entries))

    @property
    def active_id(self) -> str:
        return self.keys[0][0]

    def key(self, key_id: str) -> bytes:
        for each_id, material in self.keys:
            if each_id == key_id:
                return material
        raise CryptoError(f"unknown key id {key_id!r} (retired before every token was rotated?)")


class FieldCipher:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring

    @classmethod
    def from_spec(cls, spec: str) -> FieldCipher:
        return cls(Keyring.parse(spec))

    def encrypt(self, plaintext: str, context: str) -> str:
        key_id = self._keyring.active_id
        dek = AESGCM.generate_key(bit_length=256)
        dek_nonce, nonce = os.urandom(_NONCE), os.urandom(_NONCE)
        sealed_dek = AESGCM(self._keyring.key(key_id)).encrypt(dek_nonce, dek, f"{VERSION}:{key_id}".encode())
        ciphertext = AESGCM(dek).encrypt(nonce, plaintext.encode(), context.encode())
        blob = base64.urlsafe_b64encode(dek_nonce + sealed_dek + nonce + ciphertext).decode().rstrip("=")
        return f"{VERSION}:{key_id}:{blob}"

    def decrypt(self, token: str, context: str) -> str:
        key_id, blob = self._split(token)
        dek_nonce = blob[:_NONCE]
        sealed_dek = blob[_NONCE:_NONCE + _SEALED_DEK]
        nonce = blob[_NONCE + _SEALED_DEK:_NONCE * 2 + _SEALED_DEK]
        ciphertext = blob[_NONCE * 2 + _SEALED_DEK:]
        try:
            dek = AESGCM(self._keyring.key(key_id)).decrypt(dek_nonce, sealed_dek, f"{VERSION}:{key_id}".encode())
            return AESGCM(dek).decrypt(nonce, ciphertext, context.encode()).decode()
        except InvalidTag:
            raise CryptoError("token does not decrypt: wrong key, wrong context or tampered") from None

    def key_id_of(self, token: str) -> str:
        return self._split(token)[0]

    def needs_rotation(self, token: str) -> bool:
        return self.key_id_of(token) != self._keyring.active_id

    def rotate(self, token: str, context: str) -> str:
        """Re-seal under the active key (a no-op for tokens already under it)."""
        if not self.needs_rotation(token):
            return token
        return self.encrypt(self.decrypt(token, context), context)

    @staticmethod
    def _split(token: str) -> tuple[str, bytes]:
        version, sep, rest = token.partition(":")
        key_id, sep2, blob_text = rest.partition(":")
        if version != VERSION or not sep or not sep2:
            raise CryptoError("not a field-encryption token")
        try:
            blob = base64.urlsafe_b64decode(blob_text + "=" * (-len(blob_text) % 4))
        except (binascii.Error, ValueError):
            raise CryptoError("token body is not base64") from None
        if len(blob) < _NONCE * 2 + _SEALED_DEK + 16:
            raise CryptoError("token is truncated")
        return key_id, blob


class BlindIndex:
    def __init__(self, key_b64: str) -> None:
        self._key = _b64decode_key(key_b64, "blind index key")

    def compute(self, purpose: str, value: str) -> str:
        """Deterministic, keyed, irreversible: equal values give equal indexes, per purpose."""
        return hmac.new(self._key, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
