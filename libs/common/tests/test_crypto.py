import pytest
from cityline_common.crypto import BlindIndex, CryptoError, FieldCipher, Keyring, generate_key

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
