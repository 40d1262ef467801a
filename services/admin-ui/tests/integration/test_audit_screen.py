"""操作ログ screen and CSV export over HTTP, against PostgreSQL, behind a permission decorator (here:
administrators only, as the console's own app will pass its decorator)."""

import csv
import functools
import io
from collections.abc import Iterator

import pytest
from admin_ui.bootstrap import AdminUi, bootstrap
from admin_ui.config import Settings
from admin_ui.domain.audit import Actor
from admin_ui.entrypoints.audit_views import register_audit_views
from cityline_common.settings import load_settings
from flask import Flask, abort, request
from jinja2 import ChoiceLoader, DictLoader

pytestmark = pytest.mark.integration
LAYOUT = ('<!doctype html><html lang="ja"><title>{% block title %}{% endblock %}</title>'
          "<main>{% block main %}{% endblock %}</main></html>")


def admin_only(view):
    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if request.headers.get("X-Test-Role") != "admin":
            abort(403)
        return view(*args, **kwargs)

    return guarded


@pytest.fixture
def service(service_env) -> Iterator[AdminUi]:
    service = bootstrap(load_settings(Settings))
    yield service
    service.engine.dispose()


@pytest.fixture
def client(service):
    app = Flask("admin_ui")  # the package's templates, under a stand-in for the console's layout
    app.jinja_loader = ChoiceLoader([DictLoader({"base.html": LAYOUT}), app.jinja_loader])
    app.jinja_env.globals["_"] = lambda text, **values: text % values if values else text
    register_audit_views(app, service, admin_only, actor=lambda: Actor("77", request.headers.get("X-Test-Login")))
    return app.test_client()


@pytest.fixture
def marker(service) -> str:
    """Entries of this test's own, in a department nobody else uses."""
    import uuid

    department = f"テスト課-{uuid.uuid4().hex[:6]}"
    for n in range(60):
        with service.bus.uow_factory() as uow:
            uow.audit.record(actor=str(n), actor_login="=danger" if n == 0 else f"staff{n % 2}",
                             action="sign_in" if n % 3 else "role.grant", target=f"user{n}",
                             department=department, source="192.0.2.1",
                             before={"roles": []}, after={"roles": ["承認者"], "note": "+1"})
            uow.commit()
    return department


ADMIN = {"X-Test-Role": "admin", "X-Test-Login": "admin1"}


def test_the_pages_need_the_permission(client):
    assert client.get("/audit").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403


def test_search_in_japanese_paginated(client, marker):
    page = client.get("/audit", query_string={"department": marker}, headers=ADMIN)
    assert page.status_code == 200
    html = page.data.decode()
    assert "操作ログ" in html and "60 件" in html and "1〜50 件目" in html
    assert "権限の付与" in html and "サインイン" in html and "変更前" in html
    assert "次のページ" in html and "前のページ" not in html
    second = client.get("/audit", query_string={"department": marker, "page": "2"}, headers=ADMIN).data.decode()
    assert "51〜60 件目" in second and "前のページ" in second and "次のページ" not in second
    by_person = client.get("/audit", query_string={"department": marker, "person": "STAFF1", "action": "role.grant"},
                           headers=ADMIN).data.decode()
    assert "10 件" in by_person  # n odd and a multiple of 3 among 1..59
    wrong = client.get("/audit", query_string={"from": "2026/13/01"}, headers=ADMIN).data.decode()
    assert "開始日は 2026-04-01 のように入力してください" in wrong


def test_csv_export_opens_in_excel_and_is_itself_recorded(client, marker, service):
    response = client.get("/audit/export.csv", query_string={"department": marker, "from": "2020-01-01"},
                          headers=ADMIN)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="audit-log-')
    body = response.data
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["日時", "職員", "部署", "操作", "対象", "接続元", "変更前", "変更後"]
    assert len(rows) == 1 + 60 + 1  # the header, the entries, and the export's own (recorded first)
    assert rows[-1][3] == "操作ログの書き出し (audit.export)" and rows[-1][1] == "admin1"
    first = rows[1]
    assert first[1] == "'=danger" and first[2] == marker and first[3] == "権限の付与 (role.grant)"
    assert first[6] == '{"roles":[]}' and first[7] == '{"note":"+1","roles":["承認者"]}'
    assert first[0][:4].isdigit() and len(first[0]) == 19  # 2026-11-24 09:30:00, Japan time

    with service.bus.uow_factory() as uow:
        exported = uow.audit.search(action="audit.export", department=marker).entries
    assert len(exported) == 1
    entry = exported[0].event
    assert (entry.actor, entry.actor_login, entry.source) == ("77", "admin1", "127.0.0.1")
    assert entry.after == {"conditions": {
        "person": None, "department": marker, "action": None, "since": "2020-01-01T00:00:00+09:00", "until": None,
    }}


def test_an_export_with_a_wrong_period_is_refused_and_not_recorded(client, service):
    response = client.get("/audit/export.csv", query_string={"from": "2026-05-01", "to": "2026-04-01"}, headers=ADMIN)
    assert response.status_code == 400
