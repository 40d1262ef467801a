import pytest
from admin_ui.bootstrap import bootstrap
from admin_ui.config import Settings
from admin_ui.entrypoints.flask_app import create_app
from cityline_common.manifest import all_processes
from cityline_common.settings import load_settings
from segment_service.bootstrap import bootstrap as segment_bootstrap
from segment_service.config import Settings as SegmentSettings
from segment_service.entrypoints.flask_app import create_app as create_segment_app

from testsupport.emulator import serve
from testsupport.processes import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def segment_url(service_env):
    """A real segment-service on a loopback port (admin-ui only ever calls its HTTP API)."""
    with serve(create_segment_app(segment_bootstrap(load_settings(SegmentSettings)))) as url:
        yield url


def test_status_page_in_japanese_with_live_and_missing_services(service_env, monkeypatch, segment_url):
    monkeypatch.setenv("SEGMENT_SERVICE_URL", segment_url)
    dead = f"http://127.0.0.1:{free_port()}"
    for process in all_processes():  # every process the manifests declare, found where its _URL says
        monkeypatch.setenv(process.url_env, dead)
    monkeypatch.setenv("SEGMENT_SERVICE_URL", segment_url)
    client = create_app(bootstrap(load_settings(Settings))).test_client()
    page = client.get("/")
    assert page.status_code == 200
    html = page.data.decode()
    assert "伊丹市公式LINE 管理画面" in html
    assert "受信設定・セグメント" in html and "正常" in html  # segment-service answered
    assert "停止または異常" in html  # the others did not
    assert "友だち登録中" in html
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
