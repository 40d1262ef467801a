"""Rich menus as residents see them: tab switches change only what is shown, and every change of a
resident's effective menu is on record (history per resident, a summary over the population)."""

import time

import pytest
import requests
from line_emulator.world import RichMenu, World

from testsupport import TEST_KEYS
from testsupport.emulator import running_emulator

AUTH = {"Authorization": f"Bearer {TEST_KEYS['LINE_CHANNEL_ACCESS_TOKEN']}"}
MENUS = ("richmenu-a", "richmenu-b", "richmenu-tab")


@pytest.fixture
def emulated():
    with running_emulator(residents=20, friends=10) as (url, emulator):
        with emulator.world.lock:
            for menu_id in MENUS:
                emulator.world.rich_menus[menu_id] = RichMenu(menu_id, {}, b"png", "image/png")
            emulator.world.aliases["tab"] = "richmenu-tab"
        yield url, emulator, list(emulator.world.residents)


def api(url, method, path, body=None):
    response = requests.request(method, f"{url}{path}", headers=AUTH, json=body, timeout=10)
    assert response.status_code in (200, 202), (path, response.status_code, response.text)
    return response


def seen(url, user):
    body = requests.get(f"{url}/_emulator/residents/{user}", timeout=10).json()
    return body["linkedRichMenuId"], body["richMenuId"], body["displayedRichMenuId"]


def tap_tab(url, user):
    response = requests.post(f"{url}/_emulator/residents/{user}/postback",
                             json={"data": "tab", "richMenuAliasId": "tab"}, timeout=10)
    assert response.status_code == 200


def history(url, user):
    response = requests.get(f"{url}/_emulator/residents/{user}/rich-menu-history", timeout=10)
    assert response.status_code == 200
    return [(h["richMenuId"], h["cause"]) for h in response.json()["history"]]


def test_a_tab_switch_changes_what_is_shown_until_the_effective_menu_changes(emulated):
    url, _emulator, users = emulated
    user = users[0]
    api(url, "POST", "/v2/bot/user/all/richmenu/richmenu-a")
    tap_tab(url, user)
    assert seen(url, user) == (None, "richmenu-a", "richmenu-tab")
    listed = requests.get(f"{url}/_emulator/residents?limit=1", timeout=10).json()["residents"][0]
    assert (listed["richMenuId"], listed["displayedRichMenuId"]) == ("richmenu-a", "richmenu-tab")
    # LINE's own view of the user is untouched by the switch.
    assert requests.get(f"{url}/v2/bot/user/{user}/richmenu", headers=AUTH, timeout=10).status_code == 404

    api(url, "POST", "/v2/bot/user/all/richmenu/richmenu-b")  # a default change resets what is shown
    assert seen(url, user) == (None, "richmenu-b", "richmenu-b")
    tap_tab(url, user)
    api(url, "POST", "/v2/bot/user/all/richmenu/richmenu-a")
    api(url, "POST", "/v2/bot/user/all/richmenu/richmenu-b")  # back to the same default: still a change
    assert seen(url, user)[2] == "richmenu-b"

    tap_tab(url, user)
    api(url, "POST", f"/v2/bot/user/{user}/richmenu/richmenu-a")  # a relink resets it
    assert seen(url, user) == ("richmenu-a", "richmenu-a", "richmenu-a")
    tap_tab(url, user)
    api(url, "POST", "/v2/bot/user/all/richmenu/richmenu-tab")  # the default does not matter to a linked user
    assert seen(url, user) == ("richmenu-a", "richmenu-a", "richmenu-tab")
    api(url, "POST", f"/v2/bot/user/{user}/richmenu/richmenu-a")  # linking the same menu again changes nothing
    assert seen(url, user)[2] == "richmenu-tab"
    api(url, "DELETE", f"/v2/bot/user/{user}/richmenu")  # an unlink resets it
    assert seen(url, user) == (None, "richmenu-tab", "richmenu-tab")


def test_the_history_records_only_changes_of_the_effective_menu(emulated):
    url, _emulator, users = emulated
    friend, other, stranger = users[0], users[1], users[15]  # users[15] is not a friend
    api(url, "POST", "/v2/bot/user/all/richmenu/richmenu-a")
    api(url, "POST", "/v2/bot/richmenu/bulk/link", {"richMenuId": "richmenu-b", "userIds": [friend, stranger]})
    tap_tab(url, friend)  # what is shown, not the effective menu: not in the history
    api(url, "POST", "/v2/bot/user/all/richmenu/richmenu-tab")  # a linked user does not see it
    api(url, "POST", f"/v2/bot/user/{friend}/richmenu/richmenu-b")  # the same link again: no change
    api(url, "POST", "/v2/bot/richmenu/batch",
        {"operations": [{"type": "link", "from": "richmenu-b", "to": "richmenu-a"},
                        {"type": "link", "from": "richmenu-a", "to": "richmenu-b"}]})
    api(url, "POST", "/v2/bot/richmenu/bulk/unlink", {"userIds": [friend]})
    api(url, "DELETE", "/v2/bot/user/all/richmenu")

    assert history(url, friend) == [("richmenu-a", "default"), ("richmenu-b", "link"),
                                    ("richmenu-a", "batch"),  # independent operations: b → a, not on to b
                                    ("richmenu-tab", "unlink"), (None, "default")]
    assert history(url, other) == [("richmenu-a", "default"), ("richmenu-tab", "default"), (None, "default")]
    # Not a friend: the link did nothing (as on LINE), the defaults still apply.
    assert history(url, stranger) == history(url, other)
    stamps = [h["at"] for h in requests.get(f"{url}/_emulator/residents/{friend}/rich-menu-history",
                                            timeout=10).json()["history"]]
    assert stamps == sorted(stamps) and abs(stamps[-1] - time.time()) < 60

    api(url, "POST", f"/v2/bot/user/{other}/richmenu/richmenu-tab")
    api(url, "DELETE", "/v2/bot/richmenu/richmenu-tab")
    assert history(url, other)[-2:] == [("richmenu-tab", "link"), (None, "delete")]
    assert requests.get(f"{url}/_emulator/residents/U{'0' * 32}/rich-menu-history", timeout=10).status_code == 404

    requests.post(f"{url}/_emulator/reset", timeout=10)
    assert history(url, friend) == []


def test_the_summary_counts_residents_per_effective_menu(emulated):
    url, _emulator, users = emulated
    empty = requests.get(f"{url}/_emulator/rich-menus/summary", timeout=10).json()
    assert empty == {"effective": {"none": 20}, "linked": 0, "residents": 20, "defaultRichMenuId": None}
    api(url, "POST", "/v2/bot/user/all/richmenu/richmenu-a")
    api(url, "POST", "/v2/bot/richmenu/bulk/link", {"richMenuId": "richmenu-b", "userIds": users[:3]})
    tap_tab(url, users[4])  # shown, not effective
    summary = requests.get(f"{url}/_emulator/rich-menus/summary", timeout=10).json()
    assert summary == {"effective": {"richmenu-a": 17, "richmenu-b": 3}, "linked": 3, "residents": 20,
                       "defaultRichMenuId": "richmenu-a"}
    friends = requests.get(f"{url}/_emulator/rich-menus/summary?friends=true", timeout=10).json()
    assert friends["effective"] == {"richmenu-a": 7, "richmenu-b": 3} and friends["residents"] == 10
    assert requests.get(f"{url}/_emulator/rich-menus/summary?friends=yes", timeout=10).status_code == 400


def test_every_resident_changed_once_and_the_summary_stays_fast_at_scale():
    """200,000 friends relinked in bulk: each history has exactly one change; the summary is one pass."""
    world = World(residents=200_000, friends=200_000)
    ids = list(world.residents)
    with world.lock:
        world.rich_menus["richmenu-a"] = RichMenu("richmenu-a", {}, b"png", "image/png")
        for start in range(0, len(ids), 500):
            chunk = frozenset(ids[start:start + 500])
            for user_id in chunk:
                world.set_link(world.residents[user_id], "richmenu-a")
            world.log_menu("link", chunk, "richmenu-a")
    started = time.perf_counter()
    summary = world.menu_summary()
    took = time.perf_counter() - started
    assert summary["effective"] == {"richmenu-a": 200_000} and summary["linked"] == 200_000
    assert took < 0.5, took
    for user_id in (ids[0], ids[123_456], ids[-1]):
        assert [h["cause"] for h in world.menu_history(user_id)] == ["link"]
