import pytest
from cityline_common.settings import load_settings
from dispatcher.bootstrap import bootstrap
from dispatcher.config import Settings
from dispatcher.entrypoints.flask_app import create_app

pytestmark = pytest.mark.integration


def test_health_and_readiness(service_env):
    client = create_app(bootstrap(load_settings(Settings))).test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.json


def test_not_ready_when_the_broker_is_away(service_env, monkeypatch):
    monkeypatch.setenv("AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2F")
    client = create_app(bootstrap(load_settings(Settings))).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["checks"]["broker"].startswith("unavailable")
    assert ready.json["checks"]["database"] == "ok"


def test_unknown_paths_get_a_json_404_without_internals(service_env):
    client = create_app(bootstrap(load_settings(Settings))).test_client()
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json["error"] == "Not Found"
