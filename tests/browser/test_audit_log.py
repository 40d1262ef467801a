"""操作ログ in a real browser: search by person, action and period, the CSV export (UTF-8 with BOM
for Excel) of exactly what was searched, the export itself recorded, and ``admin-ui-audit verify``.

Screenshots: docs/manual/03-audit-log.md."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

JAPAN = timezone(timedelta(hours=9))


def test_search_the_audit_log_and_export_what_was_found_as_csv(screens, admin, console, tmp_path):
    page = admin
    page.goto("/")
    page.get_by_role("navigation", name="メニュー").get_by_role("link", name="操作ログ").click()
    assert page.get_by_role("heading", name="操作ログ", level=1).is_visible()
    assert page.locator("main table tbody tr").count() >= 1  # at least demo-admin's own sign-in
    screens.look(page, "03-audit-log")

    today = datetime.now(JAPAN).date().isoformat()
    search = page.get_by_role("search", name="操作ログの検索")
    search.get_by_label("職員（ログインID）").fill("demo-admin")
    search.get_by_label("操作").select_option(label="サインイン")
    search.get_by_label("開始日").fill(today)
    search.get_by_label("終了日").fill(today)
    search.get_by_role("button", name="検索").click()
    rows = page.locator("main table tbody tr")
    assert rows.count() >= 1
    for row in rows.all():
        cells = row.locator("td").all_inner_texts()
        assert cells[1] == "demo-admin" and cells[3] == "サインイン", cells
    assert "件" in page.locator("main p[aria-live]").inner_text()
    screens.look(page, "03-audit-search", full_page=True)

    link = page.get_by_role("link", name="この条件でCSVに書き出す（Excel用）")
    conditions = parse_qs(urlsplit(link.get_attribute("href")).query)
    assert conditions == {"person": ["demo-admin"], "action": ["sign_in"], "from": [today], "to": [today]}
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("audit-log-") and saved.suffix == ".csv"
    raw = saved.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel opens it as UTF-8
    table = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header, entries = table[0], table[1:]
    assert len(entries) == rows.count()
    assert header[:4] == ["日時", "職員", "部署", "操作"]
    assert all(entry[1] == "demo-admin" and entry[3].startswith("サインイン") for entry in entries), entries[:2]

    # The export is itself in the log.
    search.get_by_label("操作").select_option(label="操作ログの書き出し")
    search.get_by_role("button", name="検索").click()
    assert "操作ログの書き出し" in page.locator("main table tbody tr").first.inner_text()
    screens.look(page)

    # A period the wrong way round is explained, not searched.
    search.get_by_label("開始日").fill(today)
    search.get_by_label("終了日").fill((datetime.now(JAPAN).date() - timedelta(days=1)).isoformat())
    search.get_by_role("button", name="検索").click()
    assert "開始日が終了日より後" in page.get_by_role("alert").inner_text()
    screens.look(page)


def test_the_system_administrator_verifies_the_chain(console):
    """What docs/manual/03-audit-log.md shows: ``admin-ui-audit verify`` on an untouched log."""
    result = console.cli("admin-ui-audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    head = re.fullmatch(r"chain intact \((\d+) rows, head seq (\d+), ([0-9a-f]{64})\)\n", result.stdout)
    assert head, result.stdout
    # The head written down elsewhere, given back later: the chain still reaches it unchanged.
    anchored = console.cli("admin-ui-audit", "verify", "--anchor", f"{head.group(2)}:{head.group(3)}")
    assert anchored.returncode == 0, anchored.stdout + anchored.stderr
    assert anchored.stdout.startswith("chain intact (")
