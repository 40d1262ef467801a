"""Every page a システム管理者 can reach is free of axe-core violations at WCAG 2.1 AA, in Japanese
and in English: the console's GET routes are read from its own ``url_map`` (a route added later is
walked without anyone listing it), detail pages are opened for every seeded staff member and
department and every 配信 there is (at least a draft with a text and an image, made here first), every
リッチメニュー (at least a draft, made here first), and the error pages too.

The pages only reached on the way in (sign-in, second factor, its set-up, recovery codes, lockout,
password change) and the other roles' pages are checked by the tests that reach them: every page
any browser test looks at goes through ``Screens.look`` (axe-core and the CSP)."""

from __future__ import annotations

import io
import itertools
import re
import uuid

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

NOT_PAGES = {"static", "healthz", "readyz", "metrics"}
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def console_get_rules(console):
    """The GET routes of the console, from the app itself (built here with the console's settings)."""
    from admin_ui.bootstrap import bootstrap
    from admin_ui.config import Settings
    from admin_ui.entrypoints.flask_app import create_app
    from cityline_common.settings import load_settings

    with pytest.MonkeyPatch.context() as patch:
        for key, value in console.env.items():
            patch.setenv(key, value)
        service = bootstrap(load_settings(Settings))
        try:
            app = create_app(service)
        finally:
            service.engine.dispose()
    return sorted((rule for rule in app.url_map.iter_rules()
                   if "GET" in rule.methods and rule.endpoint not in NOT_PAGES), key=lambda rule: rule.rule)


def links(page, path, pattern):
    page.goto(path)
    hrefs = page.locator("main a[href]").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    return sorted({match.group(1) for href in hrefs if (match := re.fullmatch(pattern, href))})


def images_of(page, paths, pattern):
    found = set()
    for path in paths:
        page.goto(path)
        sources = page.locator("main img[src]").evaluate_all("images => images.map(i => i.getAttribute('src'))")
        found |= {match.group(1) for src in sources if (match := re.fullmatch(pattern, src))}
    return sorted(found)


def sample_values(page):
    """Values for each route argument: every staff member, department, segment and 配信 there is."""
    deliveries = links(page, "/deliveries", rf"/deliveries/({UUID.pattern})")
    return {
        "staff_id": links(page, "/admin/staff", rf"/admin/staff/({UUID.pattern})"),
        "code": links(page, "/admin/departments", r"/departments/([a-z0-9_-]+)"),
        "segment_id": links(page, "/segments", rf"/segments/({UUID.pattern})"),
        "delivery_id": deliveries,
        "asset_id": images_of(page, [f"/deliveries/{each}" for each in deliveries],
                              rf"/deliveries/assets/({UUID.pattern})"),
        # リッチメニュー: whatever menus the other tests made (the list's thumbnails: first tabs that have an image).
        "menu_id": links(page, "/richmenus", rf"/richmenus/({UUID.pattern})"),
        "image_menu_id": images_of(page, ["/richmenus"], rf"/richmenus/({UUID.pattern})/tabs/1/image"),
        "image_tab": ["1"],
    }


def png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (240, 160), (46, 125, 50)).save(out, "PNG")
    return out.getvalue()


def make_a_delivery(page):
    """A draft 配信 of 子育て支援課 with a text and an image, saved through the compose page."""
    page.goto("/deliveries/new")
    page.get_by_label("件名（管理用）").fill("アクセシビリティ確認用の下書き")
    page.get_by_label("課", exact=True).select_option("kosodate")
    page.get_by_label("情報の種類").select_option("kosodate")
    page.locator("#m1_type").select_option("text")
    page.locator("#m1_text").fill("子育て広場のお知らせ（下書き）")
    page.locator("#m2_type").select_option("image")
    page.locator("#m2_file").set_input_files({"name": "hiroba.png", "mimeType": "image/png", "buffer": png()})
    page.locator("#target-everyone").check()
    page.get_by_role("button", name="下書き保存").click()
    page.wait_for_url(re.compile(r"/deliveries/[0-9a-f-]+/edit\?saved=1$"))


def make_a_menu(page):
    """A draft リッチメニュー of 子育て支援課 with one tab, saved through the new-menu page."""
    page.goto("/richmenus/new")
    page.locator("#title").fill("アクセシビリティ確認用のメニュー")
    page.locator("#department").select_option("kosodate")
    page.get_by_role("button", name="作成して編集に進む").click()
    page.wait_for_url(re.compile(r"/richmenus/[0-9a-f-]+\?saved=1$"))


def urls_of(rule, values):
    if not rule.arguments:
        return [rule.rule]
    unknown = sorted(rule.arguments - values.keys())
    if unknown:
        pytest.fail(f"{rule.rule}: no sample values for {unknown}; add them to sample_values() so the page is walked")
    names = sorted(rule.arguments)
    urls = []
    for combination in itertools.product(*(values[name] for name in names)):
        chosen = dict(zip(names, combination, strict=True))
        urls.append(re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", lambda m, chosen=chosen: chosen[m.group(1)], rule.rule))
    return urls


def test_axe_core_finds_what_it_should(screens):
    """The checker itself: a page with known faults, each reported."""
    from testsupport.browser import axe_violations

    page = screens.page()
    page.set_content('<html><body><img src="data:,"><input type="text">'
                     '<p style="color:#aaa;background:#fff">淡い文字</p></body></html>')
    found = {violation["id"] for violation in axe_violations(page)}
    assert {"html-has-lang", "image-alt", "label", "color-contrast"} <= found, found


@pytest.mark.parametrize("language", ["ja", "en"])
def test_every_page_an_administrator_reaches_is_free_of_axe_violations(screens, admin, console, language):
    page = admin
    if not links(page, "/deliveries", rf"/deliveries/({UUID.pattern})"):
        make_a_delivery(page)  # the 配信 pages are walked with one there
    if not links(page, "/richmenus", rf"/richmenus/({UUID.pattern})"):
        make_a_menu(page)  # and the リッチメニュー pages with a menu
    if language == "en":
        page.context.add_cookies([{"name": "lang", "value": "en", "url": console.url}])
    values = sample_values(page)
    assert len(values["staff_id"]) >= 4 and {"bousai", "kosodate", "kouhou"} <= set(values["code"])
    assert values["delivery_id"] and values["asset_id"] and values["menu_id"], values
    walked = []
    for rule in console_get_rules(console):
        for url in urls_of(rule, values):
            answer = page.context.request.get(url)  # what it is, before a browser opens it
            assert answer.status == 200, (url, answer.status)
            if not answer.headers["content-type"].startswith("text/html"):
                continue  # JSON APIs, the CSV export
            response = page.goto(url)
            assert response.status == 200, url
            assert page.locator("html").get_attribute("lang") == language
            screens.look(page)
            walked.append(url)
    assert {"/", "/status", "/admin/staff", "/admin/staff/new", "/admin/departments", "/audit",
            "/account/sessions", "/account/password", "/segments", "/segments/new", "/deliveries", "/deliveries/new",
            "/approvals", "/richmenus", "/richmenus/new", "/richmenus/rules", "/richmenus/preview",
            "/richmenus/disaster"} <= set(walked)

    # The error pages, and sign-in as anyone sees it.
    for url, status in ((f"/admin/staff/{uuid.uuid4()}", 404), ("/no-such-page", 404)):
        response = page.goto(url)
        assert response.status == status
        screens.look(page)
    anonymous = screens.page()
    if language == "en":
        anonymous.context.add_cookies([{"name": "lang", "value": "en", "url": console.url}])
    anonymous.goto("/signin")
    screens.look(anonymous)
