"""HSTS only over TLS (also behind a trusted TLS-terminating proxy, never on a client's say-so),
cookie attributes in both cookie modes, and ``next`` only ever to a path on this site."""

import re

import pytest
import requests
from admin_ui.bootstrap import bootstrap
from admin_ui.config import Settings
from admin_ui.entrypoints.access import safe_next
from admin_ui.entrypoints.flask_app import create_app
from cityline_common.settings import load_settings
from cityline_common.unit_of_work import InMemoryUnitOfWork

from testsupport.processes import RunningProcess, free_port

pytestmark = pytest.mark.integration

HSTS = "max-age=31536000; includeSubDomains"


def console(monkeypatch, *, proxies: str, secure: bool):
    monkeypatch.setenv("TRUSTED_PROXIES", proxies)
    monkeypatch.setenv("ADMIN_UI_COOKIE_SECURE", "true" if secure else "false")
    monkeypatch.setenv("ADMIN_UI_ARGON2_TIME_COST", "1")
    monkeypatch.setenv("ADMIN_UI_ARGON2_MEMORY_KIB", "8192")
    # The sign-in page and the language switch need no table: an in-memory unit of work will do.
    return create_app(bootstrap(load_settings(Settings), uow_factory=InMemoryUnitOfWork)).test_client()


def test_hsts_over_tls_only(service_env, monkeypatch):
    client = console(monkeypatch, proxies="0", secure=True)
    assert client.get("/signin", base_url="https://admin.example.jp").headers["Strict-Transport-Security"] == HSTS
    assert "Strict-Transport-Security" not in client.get("/signin", base_url="http://admin.example.jp").headers
    # No proxy is trusted: a client claiming TLS through X-Forwarded-Proto is not believed.
    spoofed = client.get("/signin", base_url="http://admin.example.jp", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in spoofed.headers


def test_hsts_behind_a_trusted_tls_terminating_proxy(service_env, monkeypatch):
    client = console(monkeypatch, proxies="1", secure=True)  # the chart's TRUSTED_PROXIES=1
    behind = client.get("/signin", base_url="http://admin-ui:8000",
                        headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert behind.headers["Strict-Transport-Security"] == HSTS
    plain = client.get("/signin", base_url="http://admin-ui:8000", headers={"X-Forwarded-Proto": "http"})
    assert "Strict-Transport-Security" not in plain.headers
    # The proxy's own value is the last one: a client's extra "https" in front does not count.
    appended = client.get("/signin", base_url="http://admin-ui:8000", headers={"X-Forwarded-Proto": "https, http"})
    assert "Strict-Transport-Security" not in appended.headers


def test_as_deployed_gunicorn_leaves_the_scheme_to_the_app(service_env):
    """gunicorn believes X-Forwarded-Proto from loopback peers by default; ours must not, so that
    TRUSTED_PROXIES alone decides (here 0: nobody is believed)."""
    port = free_port()
    server = RunningProcess("admin-ui-tls", ["cityline-serve", "admin-ui"],
                            {"ADMIN_UI_PORT": str(port), "TRUSTED_PROXIES": "0", "LOG_LEVEL": "WARNING"},
                            f"http://127.0.0.1:{port}/healthz").start()
    try:
        spoofed = requests.get(f"http://127.0.0.1:{port}/signin", headers={"X-Forwarded-Proto": "https"}, timeout=5)
        assert spoofed.status_code == 200
        assert "Strict-Transport-Security" not in spoofed.headers
    finally:
        server.stop()


def test_settings_default_to_secure_cookies(service_env, monkeypatch):
    monkeypatch.delenv("ADMIN_UI_COOKIE_SECURE", raising=False)
    assert load_settings(Settings).admin_ui_cookie_secure is True  # only the local demo turns it off


def cookie(response, name):
    return next(c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}="))


def test_cookies_over_tls_are_host_prefixed_secure_httponly_and_samesite(service_env, monkeypatch):
    client = console(monkeypatch, proxies="0", secure=True)
    form = client.get("/signin", base_url="https://admin.example.jp")
    csrf = cookie(form, "__Host-cityline-csrf")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.get_data(as_text=True)).group(1)
    switched = client.post("/language", data={"csrf_token": token, "lang": "en", "next": "/signin"},
                           base_url="https://admin.example.jp", headers={"Referer": "https://admin.example.jp/signin"})
    assert switched.status_code == 302
    language = cookie(switched, "lang")
    for each in (csrf, language):
        for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
            assert flag in each, each
        assert "Domain=" not in each
    assert "Expires=" not in csrf  # a browser-session cookie


def test_the_local_demo_over_plain_http_drops_secure_and_the_host_prefix(service_env, monkeypatch):
    client = console(monkeypatch, proxies="0", secure=False)
    csrf = cookie(client.get("/signin"), "cityline-csrf")
    assert "Secure" not in csrf and "HttpOnly" in csrf and "SameSite=Lax" in csrf


@pytest.mark.parametrize("evil", ["//evil.example", "https://evil.example/", "/\\evil.example", "///evil.example",
                                  "javascript:alert(1)", "/\r\nSet-Cookie: x=1", "/" + "a" * 600, "", None])
def test_next_only_to_relative_paths(evil):
    assert safe_next(evil) is None


@pytest.mark.parametrize("good", ["/", "/status", "/audit?person=x&since=2026-11-01", "/departments/kosodate"])
def test_next_keeps_paths_on_this_site(good):
    assert safe_next(good) == good


def test_the_language_switch_goes_back_only_to_a_path_on_this_site(service_env, monkeypatch):
    client = console(monkeypatch, proxies="0", secure=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/signin").get_data(as_text=True)).group(1)
    for evil in ("https://evil.example/", "//evil.example", "/\\evil.example"):
        response = client.post("/language", data={"csrf_token": token, "lang": "ja", "next": evil})
        assert response.headers["Location"] == "/", evil  # the dashboard, not elsewhere
    back = client.post("/language", data={"csrf_token": token, "lang": "ja", "next": "/status"})
    assert back.headers["Location"] == "/status"
