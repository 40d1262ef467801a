"""Field encryption for personal data: AES-256-GCM envelope encryption with key ids and rotation,
plus an HMAC blind index for equality look-ups (design: shared/reference/security.md §5).

Every value gets its own random data key (DEK). The value is sealed with the DEK; the DEK is sealed
with a key-encryption key (KEK) named by a key id. A token is text, safe for a ``text`` column::

    v1:<kek_id>:<base64url(dek_nonce | sealed_dek | nonce | ciphertext+tag)>   context as given
    v2:<kek_id>:<base64url(…the same…)>                                        bound to a row

* The *context* is bound as associated data. A ``v1`` token binds the context its caller gives
  (a message sealed for one resident id, a LINE event for its webhookEventId). A ``v2`` token is a
  value stored in a table: it binds :func:`row_context` — the column *and the row's id* — so a token
  copied into another column, or into another row of the same column, does not decrypt there. The
  version is itself bound (it is the sealed DEK's associated data), so a ``v1`` token cannot pass
  for a ``v2`` one; :meth:`FieldCipher.decrypt_for_row` refuses the column-only tokens written before
  row binding, which ``cityline-keys rotate`` re-seals once (see docs/architecture.md).
* Rotation: new writes use the first (active) KEK of the keyring; older KEKs stay listed for
  decryption until every token is re-sealed (``cityline-keys rotate``); then they are dropped.
  Destroying every KEK makes every copy of the data (replicas, backups) unreadable.
* The blind index is ``HMAC-SHA256(index_key, purpose ":" value)`` with keys separate from the
  KEKs, so equality look-ups (find the resident for this LINE user id) need no decryption. Index
  keys form a keyring too (:class:`BlindIndex`); a stored index names its key, ``<kid>:<hex>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"  # associated data: the context as given
ROW_BOUND_VERSION = "v2"  # associated data: row_context(column, row id)
_VERSIONS = (VERSION, ROW_BOUND_VERSION)
# The key id a bare blind-index key (BLIND_INDEX_KEY before it was a keyring) stands for. Indexes
# under it are stored as they always were, bare hex, so a deployment that keeps its bare key writes
# exactly what the previous release wrote and reads what it wrote.
LEGACY_INDEX_KEY_ID = "k0"
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


def row_context(column: str, row_id: uuid.UUID | int | str) -> str:
    """The associated data of a value stored in one row: its column context and the row's identity.

    The one way every encrypted column binds its tokens to their rows (``v2`` tokens)."""
    return f"{column}:{row_id}"


@dataclass(frozen=True)
class Keyring:
    """Keys by id; the first is the active one for new writes."""

    keys: tuple[tuple[str, bytes], ...]

    @classmethod
    def parse(cls, spec: str, *, bare_key_id: str | None = None) -> Keyring:
        """Parse ``"kid:base64key,kid2:base64key"`` (first = active).

        With ``bare_key_id``, an entry without ``kid:`` is that key id's key (a single-key setting
        from before it became a keyring); otherwise every entry must name its key id."""
        entries: list[tuple[str, bytes]] = []
        for position, part in enumerate(filter(None, (item.strip() for item in spec.split(","))), start=1):
            key_id, sep, material = part.partition(":")
            if not sep and bare_key_id is not None:
                key_id, material, what = bare_key_id, part, f"key {bare_key_id!r} (given without a key id)"
            elif not sep:  # never echo the entry: it is probably a key
                raise CryptoError(f"keyring entry {position} must be <key id>:<base64 key>, "
                                  "key id of 1-32 letters, digits, - or _")
            elif not _KEY_ID.match(key_id):
                raise CryptoError(f"keyring entry {key_id[:32]!r}… must be <key id>:<base64 key>, "
                                  "key id of 1-32 letters, digits, - or _")
            else:
                what = f"key {key_id!r}"
            if any(existing == key_id for existing, _ in entries):
                raise CryptoError(f"key id {key_id!r} appears twice")
            entries.append((key_id, _b64decode_key(material, what)))
        if not entries:
            raise CryptoError("the keyring is empty")
        return cls(tuple(entries))

    @property
    def active_id(self) -> str:
        return self.keys[0][0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(key_id for key_id, _ in self.keys)

    def key(self, key_id: str) -> bytes:
        for each_id, material in self.keys:
            if each_id == key_id:
                return material
        raise CryptoError(f"unknown key id {key_id!r} (retired before every token was rotated?)")


class FieldCipher:
    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        # One AEAD object per key-encryption key, made once (building one per value was a measurable
        # share of ingress's CPU per webhook); they hold only the key, so threads may share them.
        self._keks = {key_id: AESGCM(material) for key_id, material in keyring.keys}

    @classmethod
    def from_spec(cls, spec: str) -> FieldCipher:
        return cls(Keyring.parse(spec))

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    # --- values bound to a caller's context (messages, sealed events): v1 ---------------------------

    def encrypt(self, plaintext: str, context: str) -> str:
        return self._seal(VERSION, plaintext, context)

    def decrypt(self, token: str, context: str) -> str:
        version, _, _ = self._split(token)
        if version != VERSION:
            raise CryptoError("a row-bound token opens with decrypt_for_row")
        return self._open(token, context)

    def needs_rotation(self, token: str) -> bool:
        return self.key_id_of(token) != self._keyring.active_id

    def rotate(self, token: str, context: str) -> str:
        """Re-seal a ``v1`` token under the active key (a no-op for tokens already under it)."""
        if not self.needs_rotation(token):
            return token
        return self.encrypt(self.decrypt(token, context), context)

    # --- values stored in a table: v2, bound to their column and row ---------------------------------

    def encrypt_for_row(self, plaintext: str, column: str, row_id: uuid.UUID | int | str) -> str:
        """Seal a value for one row of one column: it decrypts nowhere else."""
        return self._seal(ROW_BOUND_VERSION, plaintext, row_context(column, row_id))

    def decrypt_for_row(
        self, token: str, column: str, row_id: uuid.UUID | int | str, *, accept_legacy: bool = False
    ) -> str:
        """Open a value stored in row ``row_id`` of ``column``.

        A token sealed before row binding (``v1``, the column context only) is refused: it would open
        in any row it were copied to. Only key rotation passes ``accept_legacy`` to re-seal such
        tokens once; it checks them against the row's blind index first."""
        parts = self._split(token)  # once: a frozen recipient list opens a million of these per send
        if parts[0] == VERSION:
            if not accept_legacy:
                raise CryptoError("token was sealed before row binding (column context only); "
                                  "run `cityline-keys rotate` to re-seal it")
            return self._open_parts(parts, column)
        return self._open_parts(parts, row_context(column, row_id))

    def needs_reseal_for_row(self, token: str) -> bool:
        """True unless the token is row-bound and under the active key."""
        version, key_id, _ = self._split(token)
        return version != ROW_BOUND_VERSION or key_id != self._keyring.active_id

    # --- both -------------------------------------------------------------------------------------------

    def key_id_of(self, token: str) -> str:
        return self._split(token)[1]

    def version_of(self, token: str) -> str:
        return self._split(token)[0]

    def _seal(self, version: str, plaintext: str, context: str) -> str:
        key_id = self._keyring.active_id
        dek = AESGCM.generate_key(bit_length=256)
        dek_nonce, nonce = os.urandom(_NONCE), os.urandom(_NONCE)
        # The version and key id are the sealed DEK's associated data: neither can be relabelled.
        sealed_dek = self._kek(key_id).encrypt(dek_nonce, dek, f"{version}:{key_id}".encode())
        ciphertext = AESGCM(dek).encrypt(nonce, plaintext.encode(), context.encode())
        blob = base64.urlsafe_b64encode(dek_nonce + sealed_dek + nonce + ciphertext).decode().rstrip("=")
        return f"{version}:{key_id}:{blob}"

    def _open(self, token: str, context: str) -> str:
        return self._open_parts(self._split(token), context)

    def _open_parts(self, parts: tuple[str, str, bytes], context: str) -> str:
        version, key_id, blob = parts
        dek_nonce = blob[:_NONCE]
        sealed_dek = blob[_NONCE:_NONCE + _SEALED_DEK]
        nonce = blob[_NONCE + _SEALED_DEK:_NONCE * 2 + _SEALED_DEK]
        ciphertext = blob[_NONCE * 2 + _SEALED_DEK:]
        try:
            dek = self._kek(key_id).decrypt(dek_nonce, sealed_dek, f"{version}:{key_id}".encode())
            return AESGCM(dek).decrypt(nonce, ciphertext, context.encode()).decode()
        except InvalidTag:
            raise CryptoError("token does not decrypt: wrong key, wrong context or row, or tampered") from None

    def _kek(self, key_id: str) -> AESGCM:
        return self._keks.get(key_id) or AESGCM(self._keyring.key(key_id))  # an unknown id: the keyring says so

    @staticmethod
    def _split(token: str) -> tuple[str, str, bytes]:
        version, sep, rest = token.partition(":")
        key_id, sep2, blob_text = rest.partition(":")
        if version not in _VERSIONS or not sep or not sep2:
            raise CryptoError("not a field-encryption token")
        try:
            blob = base64.urlsafe_b64decode(blob_text + "=" * (-len(blob_text) % 4))
        except (binascii.Error, ValueError):
            raise CryptoError("token body is not base64") from None
        if len(blob) < _NONCE * 2 + _SEALED_DEK + 16:
            raise CryptoError("token is truncated")
        return version, key_id, blob


class BlindIndex:
    """HMAC-SHA256 blind indexes under a keyring of index keys (``BLIND_INDEX_KEY``).

    ``"kid:base64key,kid2:base64key"``, the first writes; a bare base64 key is key id ``k0``. A stored
    index names its key, ``<kid>:<hex>`` (``k0``'s is bare hex, as before keyrings), so a look-up
    computes :meth:`candidates` under every key of the ring and matches any, new rows get
    :meth:`compute` under the active key, and rotation can tell which rows still use an old key.
    """

    def __init__(self, spec: str) -> None:
        self._keyring = Keyring.parse(spec, bare_key_id=LEGACY_INDEX_KEY_ID)

    @property
    def active_id(self) -> str:
        return self._keyring.active_id

    @property
    def key_ids(self) -> tuple[str, ...]:
        return self._keyring.key_ids

    def compute(self, purpose: str, value: str) -> str:
        """The index a row written now stores: deterministic, keyed, irreversible, per purpose."""
        return self.compute_with(self.active_id, purpose, value)

    def compute_with(self, key_id: str, purpose: str, value: str) -> str:
        digest = hmac.new(self._keyring.key(key_id), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
        return digest if key_id == LEGACY_INDEX_KEY_ID else f"{key_id}:{digest}"

    def candidates(self, purpose: str, value: str) -> tuple[str, ...]:
        """The index of ``value`` under every key of the ring: what a look-up matches during rotation."""
        return tuple(self.compute_with(key_id, purpose, value) for key_id in self.key_ids)

    @staticmethod
    def key_id_of(stored: str) -> str:
        key_id, sep, _ = stored.partition(":")
        return key_id if sep else LEGACY_INDEX_KEY_ID

    def needs_rotation(self, stored: str) -> bool:
        return self.key_id_of(stored) != self.active_id
