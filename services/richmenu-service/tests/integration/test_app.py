import pytest
from cityline_common.settings import load_settings
from richmenu_service.bootstrap import bootstrap
from richmenu_service.config import Settings
from richmenu_service.entrypoints.flask_app import create_app

pytestmark = pytest.mark.integration


def test_health_and_readiness(service_env):
    client = create_app(bootstrap(load_settings(Settings))).test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json
    assert ready.json["checks"] == {"database": "ok", "broker": "ok"}
    assert client.get("/metrics").status_code == 200


def test_not_ready_without_its_schema(service_env, monkeypatch, database_url):
    # A database where nothing was migrated: ready must say so rather than serve.
    monkeypatch.setenv("DATABASE_URL", database_url.rsplit("/", 1)[0] + "/postgres")
    client = create_app(bootstrap(load_settings(Settings))).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["checks"]["database"].startswith("unavailable")
