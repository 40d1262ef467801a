import pytest
from cityline_common.settings import CommonSettings, ConfigError, CryptoSettings, LineSettings, load_settings


class Both(CommonSettings, CryptoSettings):
    pass


def test_defaults_and_postgres_url_normalised(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    settings = load_settings(CommonSettings)
    assert settings.database_url == "postgresql+psycopg2://u@h/db"


def test_missing_values_name_the_variable(monkeypatch):
    monkeypatch.delenv("FIELD_ENCRYPTION_KEYS", raising=False)
    monkeypatch.delenv("BLIND_INDEX_KEY", raising=False)
    with pytest.raises(ConfigError) as error:
        load_settings(Both)
    assert "FIELD_ENCRYPTION_KEYS: is required but not set" in str(error.value)
    assert "BLIND_INDEX_KEY: is required but not set" in str(error.value)


@pytest.mark.parametrize(
    ("var", "value", "reason"),
    [
        ("DATABASE_URL", "mysql://x/y", "DATABASE_URL: must be a postgresql://"),
        ("AMQP_URL", "http://broker", "AMQP_URL: must be an amqp://"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL: must be one of"),
        ("AMQP_PREFETCH", "0", "AMQP_PREFETCH:"),
        ("AMQP_PREFETCH", "many", "AMQP_PREFETCH:"),
    ],
)
def test_malformed_values_are_explained(monkeypatch, var, value, reason):
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=reason):
        load_settings(CommonSettings)


def test_bad_keys_are_explained_without_echoing_them(monkeypatch):
    monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", "k1:c2hvcnQ")
    monkeypatch.setenv("BLIND_INDEX_KEY", "c2hvcnQ")
    with pytest.raises(ConfigError) as error:
        load_settings(Both)
    assert "FIELD_ENCRYPTION_KEYS: key 'k1' must be 32 bytes" in str(error.value)
    assert "c2hvcnQ" not in str(error.value)


def test_line_urls(monkeypatch):
    monkeypatch.setenv("LINE_CHANNEL_SECRET", "s")
    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", "t")
    monkeypatch.setenv("LINE_API_BASE_URL", "http://127.0.0.1:8090/")
    assert load_settings(LineSettings).line_api_base_url == "http://127.0.0.1:8090"
    monkeypatch.setenv("LINE_API_BASE_URL", "api.line.me")
    with pytest.raises(ConfigError, match="LINE_API_BASE_URL: must be an http"):
        load_settings(LineSettings)


def test_blind_index_key_is_a_keyring_and_a_bare_key_still_loads(monkeypatch):
    from cityline_common.crypto import BlindIndex

    monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", "k1:" + "MTEx" * 10 + "MTE")
    monkeypatch.setenv("BLIND_INDEX_KEY", "FIsmlGEj-RdmJdk7L6kY3bKi0R1v6U4otLJMTs_6YDI")  # .env.example's, bare
    bare = load_settings(Both)
    assert BlindIndex(bare.blind_index_key.get_secret_value()).key_ids == ("k0",)
    monkeypatch.setenv("BLIND_INDEX_KEY", "i2:" + "MjIy" * 10 + "MjI," + "FIsmlGEj-RdmJdk7L6kY3bKi0R1v6U4otLJMTs_6YDI")
    ring = load_settings(Both)
    assert BlindIndex(ring.blind_index_key.get_secret_value()).key_ids == ("i2", "k0")
    monkeypatch.setenv("BLIND_INDEX_KEY", "i2:c2hvcnQ")
    with pytest.raises(ConfigError, match="BLIND_INDEX_KEY: key 'i2' must be 32 bytes") as error:
        load_settings(Both)
    assert "c2hvcnQ" not in str(error.value)
