import base64
import hashlib
import hmac
import uuid

import pytest
from cityline_common.crypto import BlindIndex, CryptoError, FieldCipher, Keyring, generate_key, row_context

OLD, NEW = generate_key(), generate_key()


def test_round_trip_and_random_nonce():
    cipher = FieldCipher.from_spec(f"k1:{OLD}")
    first = cipher.encrypt("U4af4980629...", "segment.residents.line_user_id")
    second = cipher.encrypt("U4af4980629...", "segment.residents.line_user_id")
    assert first != second  # random DEK and nonce: equal values do not look equal at rest
    assert first.startswith("v1:k1:")
    assert cipher.decrypt(first, "segment.residents.line_user_id") == "U4af4980629..."


def test_context_is_bound():
    cipher = FieldCipher.from_spec(f"k1:{OLD}")
    token = cipher.encrypt("山田太郎", "segment.residents.name")
    with pytest.raises(CryptoError):
        cipher.decrypt(token, "segment.residents.line_user_id")


def test_tampering_is_detected():
    cipher = FieldCipher.from_spec(f"k1:{OLD}")
    token = cipher.encrypt("secret", "c")
    flipped = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    with pytest.raises(CryptoError):
        cipher.decrypt(flipped, "c")
    with pytest.raises(CryptoError):
        cipher.decrypt(token[:20], "c")
    with pytest.raises(CryptoError):
        cipher.decrypt("plain text", "c")


def test_rotation_reseals_under_the_active_key():
    old_cipher = FieldCipher.from_spec(f"k1:{OLD}")
    token = old_cipher.encrypt("U0123", "c")
    rotated_keyring = FieldCipher.from_spec(f"k2:{NEW},k1:{OLD}")
    assert rotated_keyring.needs_rotation(token)
    rotated = rotated_keyring.rotate(token, "c")
    assert rotated.startswith("v1:k2:")
    assert not rotated_keyring.needs_rotation(rotated)
    assert rotated_keyring.rotate(rotated, "c") == rotated
    # Once every token is rotated the old key can be dropped; new-only keyring still reads it.
    assert FieldCipher.from_spec(f"k2:{NEW}").decrypt(rotated, "c") == "U0123"
    with pytest.raises(CryptoError, match="unknown key id"):
        FieldCipher.from_spec(f"k2:{NEW}").decrypt(token, "c")


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("", "empty"),
        ("nokey", "must be <key id>:<base64 key>"),
        ("k1:abcd", "32 bytes"),
        (f"k1:{OLD},k1:{NEW}", "appears twice"),
        (f"bad id!:{OLD}", "must be <key id>"),
    ],
)
def test_keyring_errors_are_clear(spec, reason):
    with pytest.raises(CryptoError, match=reason):
        Keyring.parse(spec)


def test_blind_index_is_deterministic_keyed_and_per_purpose():
    index = BlindIndex(OLD)
    assert index.compute("line_user_id", "U1") == index.compute("line_user_id", "U1")
    assert index.compute("line_user_id", "U1") != index.compute("line_user_id", "U2")
    assert index.compute("line_user_id", "U1") != index.compute("phone", "U1")
    assert BlindIndex(NEW).compute("line_user_id", "U1") != index.compute("line_user_id", "U1")
    assert len(index.compute("line_user_id", "U1")) == 64


# --- values bound to their row -------------------------------------------------------------------------

COLUMN = "segment.residents.line_user_id"


def test_a_row_bound_token_opens_only_in_its_row_and_column():
    cipher = FieldCipher.from_spec(f"k1:{OLD}")
    alice, bob = uuid.uuid4(), uuid.uuid4()
    token = cipher.encrypt_for_row("U-alice", COLUMN, alice)
    assert token.startswith("v2:k1:")
    assert cipher.decrypt_for_row(token, COLUMN, alice) == "U-alice"
    assert cipher.decrypt_for_row(token, COLUMN, str(alice)) == "U-alice"  # the id's text form is the binding
    with pytest.raises(CryptoError, match="wrong context or row"):
        cipher.decrypt_for_row(token, COLUMN, bob)  # copied into bob's row
    with pytest.raises(CryptoError):
        cipher.decrypt_for_row(token, "segment.residents.name", alice)  # copied into another column
    assert row_context(COLUMN, 7) == f"{COLUMN}:7"


def test_tokens_sealed_before_row_binding_open_only_for_rotation():
    cipher = FieldCipher.from_spec(f"k1:{OLD}")
    legacy = cipher.encrypt("U-alice", COLUMN)  # what the repository wrote before row binding
    with pytest.raises(CryptoError, match=r"sealed before row binding.*cityline-keys rotate"):
        cipher.decrypt_for_row(legacy, COLUMN, uuid.uuid4())
    assert cipher.decrypt_for_row(legacy, COLUMN, uuid.uuid4(), accept_legacy=True) == "U-alice"
    assert cipher.needs_reseal_for_row(legacy)
    assert not cipher.needs_reseal_for_row(cipher.encrypt_for_row("U-alice", COLUMN, 1))
    assert FieldCipher.from_spec(f"k2:{NEW},k1:{OLD}").needs_reseal_for_row(cipher.encrypt_for_row("U", COLUMN, 1))


def test_the_token_version_is_authenticated():
    cipher = FieldCipher.from_spec(f"k1:{OLD}")
    row_id = uuid.uuid4()
    # A v1 token whose context happens to equal the row context cannot pass for a row-bound one …
    relabelled = "v2" + cipher.encrypt("U-alice", row_context(COLUMN, row_id))[2:]
    with pytest.raises(CryptoError):
        cipher.decrypt_for_row(relabelled, COLUMN, row_id)
    # … and a row-bound token does not open through the v1 path.
    with pytest.raises(CryptoError, match="decrypt_for_row"):
        cipher.decrypt(cipher.encrypt_for_row("U-alice", COLUMN, row_id), row_context(COLUMN, row_id))


# --- the blind index keyring ---------------------------------------------------------------------------


def test_a_bare_blind_index_key_is_k0_and_indexes_exactly_as_before():
    index = BlindIndex(OLD)
    assert index.key_ids == ("k0",) and index.active_id == "k0"
    before = hmac.new(base64.urlsafe_b64decode(OLD + "="), b"line_user_id:U1", hashlib.sha256).hexdigest()
    assert index.compute("line_user_id", "U1") == before  # rows written before keyrings are still found
    assert BlindIndex.key_id_of(before) == "k0"
    assert BlindIndex(f"k0:{OLD}").compute("line_user_id", "U1") == before


def test_a_versioned_blind_index_names_its_key_and_looks_up_under_every_key():
    old, new = BlindIndex(f"i1:{OLD}"), BlindIndex(f"i2:{NEW},i1:{OLD}")
    stored = old.compute("line_user_id", "U1")
    assert stored.startswith("i1:") and len(stored) == len("i1:") + 64
    assert new.compute("line_user_id", "U1").startswith("i2:")
    assert new.candidates("line_user_id", "U1") == (new.compute("line_user_id", "U1"), stored)
    assert new.key_id_of(stored) == "i1" and new.needs_rotation(stored)
    assert not new.needs_rotation(new.compute("line_user_id", "U1"))
    # A ring may keep the old bare key: it is k0, and its indexes stay bare.
    mixed = BlindIndex(f"i2:{NEW},{OLD}")
    assert mixed.key_ids == ("i2", "k0")
    assert BlindIndex(OLD).compute("line_user_id", "U1") in mixed.candidates("line_user_id", "U1")


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("", "empty"),
        ("abcd", "key 'k0' .given without a key id. must be 32 bytes"),
        (f"{OLD},{NEW}", "key id 'k0' appears twice"),
        (f"k0:{OLD},{NEW}", "key id 'k0' appears twice"),
        (f"i1:{OLD},i1:{NEW}", "appears twice"),
        (f"bad id!:{OLD}", "must be <key id>"),
    ],
)
def test_blind_index_ring_errors_are_clear(spec, reason):
    with pytest.raises(CryptoError, match=reason):
        BlindIndex(spec)


def test_a_field_key_without_key_id_is_refused_without_echoing_it():
    with pytest.raises(CryptoError, match="entry 2 must be <key id>:<base64 key>") as error:
        Keyring.parse(f"k1:{OLD},{NEW}")
    assert NEW[:8] not in str(error.value)
