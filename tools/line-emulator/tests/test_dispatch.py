"""What the dispatcher relies on: multicast limits shared by every client, retry keys under
accept-then-fail faults, the validate endpoints, custom aggregation units and their statistics,
quota, and the inspection API that proves "every recipient exactly once"."""

import json
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests

from testsupport import TEST_KEYS
from testsupport.emulator import running_emulator

AUTH = {"Authorization": f"Bearer {TEST_KEYS['LINE_CHANNEL_ACCESS_TOKEN']}"}
TEXT = [{"type": "text", "text": "お知らせ"}]


@pytest.fixture
def emulated():
    with running_emulator(residents=1000) as (url, emulator):
        with emulator.world.lock:
            for resident in emulator.world.residents.values():
                resident.friend = True
        yield url, emulator, list(emulator.world.residents)


def post(url, path, body, key=None, timeout=10):
    headers = dict(AUTH)
    if key:
        headers["X-Line-Retry-Key"] = key
    return requests.post(f"{url}{path}", headers=headers, json=body, timeout=timeout)


def multicast(url, to, key=None, messages=TEXT, **extra):
    return post(url, "/v2/bot/message/multicast", {"to": to, "messages": messages, **extra}, key)


def faults(url, **knobs):
    response = requests.post(f"{url}/_emulator/faults", json=knobs, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def content_key(url, text):
    contents = requests.get(f"{url}/_emulator/received", params={"text": text}, timeout=5).json()["contents"]
    assert len(contents) == 1
    return contents[0]


def checked(emulator, operation_id, response):
    validator = emulator.spec.response_validator(operation_id, str(response.status_code))
    body = response.json()
    if validator is not None:
        assert [e.message for e in validator.iter_errors(body)] == [], operation_id
    return body


# -- multicast shape ----------------------------------------------------------------------------
@pytest.mark.parametrize(("to", "messages", "prop"), [
    (0, 1, "to"), (501, 1, "to"), (1, 0, "messages"), (1, 6, "messages"),
])
def test_multicast_recipient_and_message_counts(emulated, to, messages, prop):
    url, emulator, users = emulated
    response = multicast(url, users[:to], messages=TEXT * messages)
    assert response.status_code == 400
    assert response.json()["message"].startswith("The request body has")
    assert response.json()["details"][0]["property"] == prop
    assert emulator.world.recipients_delivered == 0
    assert multicast(url, users[:500], messages=TEXT * 5).status_code == 200


# -- rate limit shared by every client ------------------------------------------------------------
CLIENT = """
import json, sys, time, requests
url, token, until = sys.argv[1], sys.argv[2], float(sys.argv[3])
users = json.loads(sys.argv[4])
session, counts = requests.Session(), {}
while time.time() < until:
    r = session.post(url + "/v2/bot/message/multicast", headers={"Authorization": "Bearer " + token},
                     json={"to": users, "messages": [{"type": "text", "text": "rate"}]}, timeout=10)
    counts[r.status_code] = counts.get(r.status_code, 0) + 1
    if r.status_code == 429:
        assert r.json() == {"message": "The API rate limit has been exceeded. Try again later."}
print(json.dumps(counts))
"""


def test_multicast_rate_limit_is_per_channel_across_threads_and_processes(emulated):
    url, emulator, users = emulated
    rate, seconds = 20, 2.0  # low enough that six clients ask for more even on a busy 2-core machine
    assert requests.post(f"{url}/_emulator/rate-limits", json={"multicast": f"{rate}/s"}, timeout=5).ok
    start = time.time() + 1.0  # everyone starts together; the bucket is full (rate tokens) then
    until = start + seconds
    processes = [subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({start} - time.time()); " + CLIENT,
                                   url, TEST_KEYS["LINE_CHANNEL_ACCESS_TOKEN"], str(until), json.dumps(users[:5])],
                                  stdout=subprocess.PIPE, text=True) for _ in range(2)]
    counts: dict[int, int] = {}
    lock = threading.Lock()

    def client():
        session = requests.Session()
        time.sleep(max(0.0, start - time.time()))
        while time.time() < until:
            status = session.post(f"{url}/v2/bot/message/multicast", headers=AUTH, timeout=10,
                                  json={"to": users[:5], "messages": [{"type": "text", "text": "rate"}]}).status_code
            with lock:
                counts[status] = counts.get(status, 0) + 1

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for process in processes:
        out, _ = process.communicate(timeout=30)
        for status, count in json.loads(out.strip().splitlines()[-1]).items():
            counts[int(status)] = counts.get(int(status), 0) + count
    assert set(counts) == {200, 429}
    allowed = rate + rate * seconds  # a full bucket, then the refill
    # + one request per client still in flight at the deadline, served a moment later
    assert rate * seconds * 0.8 <= counts[200] <= allowed + 6, counts
    assert counts[429] > counts[200], counts  # the clients really did ask for more
    assert emulator.world.requests_by_endpoint["multicast"] == sum(counts.values())


# -- retry keys and accept-then-fail ----------------------------------------------------------------
@pytest.mark.parametrize("mode", ["error", "timeout", "drop"])
def test_accept_then_fail_then_retry_is_409_and_nobody_gets_it_twice(emulated, mode):
    url, _, users = emulated
    faults(url, acceptThenFailRate=1.0, acceptThenFailMode=mode, timeoutSeconds=0.3, operations=["multicast"])
    key, batch, text = str(uuid.uuid4()), users[:500], f"drill {mode}"
    messages = [{"type": "text", "text": text}]
    first_request_id = None
    if mode == "drop":
        with pytest.raises(requests.ConnectionError):
            multicast(url, batch, key, messages)
    else:
        first = multicast(url, batch, key, messages)
        assert first.status_code == (500 if mode == "error" else 504)
        first_request_id = first.headers["x-line-request-id"]
    assert faults(url)["injected"] == {f"acceptThen_{mode}": 1}  # faults(url) also switches them off
    again = multicast(url, batch, key, messages)
    assert again.status_code == 409
    assert again.json() == {"message": "The retry key is already accepted"}
    accepted_id = again.headers["x-line-accepted-request-id"]
    if first_request_id:
        assert accepted_id == first_request_id
    summary = content_key(url, text)
    assert (summary["recipients"], summary["duplicates"], summary["deliveries"], summary["sends"]) == (500, 0, 500, 1)
    used = requests.get(f"{url}/_emulator/retry-keys/{key}", timeout=5).json()
    assert used["accepted"] and used["acceptedRequestId"] == accepted_id
    assert (len(used["sends"]), used["recipients"], used["conflicts"]) == (1, 500, 1)


def test_failure_before_acceptance_does_not_spend_the_key(emulated):
    url, _, users = emulated
    key, messages = str(uuid.uuid4()), [{"type": "text", "text": "before"}]
    faults(url, errorRate=1.0, operations=["multicast"])
    assert multicast(url, users[:3], key, messages).status_code == 500
    faults(url, rateLimitRate=1.0, operations=["multicast"])
    assert multicast(url, users[:3], key, messages).status_code == 429
    faults(url)
    assert multicast(url, users[:3], key, messages).status_code == 200
    assert multicast(url, users[:3], key, messages).status_code == 409
    assert content_key(url, "before")["deliveries"] == 3


def test_retry_key_is_forgotten_after_its_ttl(emulated):
    url, _, users = emulated
    key, messages = str(uuid.uuid4()), [{"type": "text", "text": "ttl"}]
    assert multicast(url, users[:2], key, messages).status_code == 200
    requests.post(f"{url}/_emulator/retry-key-ttl", json={"seconds": 0.2}, timeout=5)
    time.sleep(0.3)
    assert multicast(url, users[:2], key, messages).status_code == 200  # a new request after 24 h, as on LINE
    summary = content_key(url, "ttl")
    assert summary["duplicates"] == 2 and summary["maxPerRecipient"] == 2
    detail = requests.get(f"{url}/_emulator/received/{summary['contentKey']}", timeout=5).json()
    assert detail["duplicateUserIds"] == users[:2] and detail["messageObjects"] == messages
    counts = requests.post(f"{url}/_emulator/received/counts", timeout=5,
                           json={"userIds": users[:3], "contentKey": summary["contentKey"]}).json()["counts"]
    assert counts == {users[0]: 2, users[1]: 2, users[2]: 0}
    assert requests.get(f"{url}/_emulator/retry-keys/{key}", timeout=5).json()["recipients"] == 4


def test_fault_knobs_are_checked(emulated):
    url, _, _ = emulated
    assert requests.post(f"{url}/_emulator/faults", json={"acceptThenFailRate": 2}, timeout=5).status_code == 400
    assert requests.post(f"{url}/_emulator/faults", json={"acceptThenFailMode": "x"}, timeout=5).status_code == 400


# -- validate endpoints -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["reply", "push", "multicast", "narrowcast", "broadcast"])
def test_validate_endpoints(emulated, kind):
    url, emulator, _ = emulated
    path = f"/v2/bot/message/validate/{kind}"
    ok = post(url, path, {"messages": TEXT * 5})
    assert ok.status_code == 200 and ok.json() == {}
    for bad, prop in (({"messages": []}, "messages"), ({"messages": TEXT * 6}, "messages"),
                      ({"messages": [{"type": "text", "text": ""}]}, "messages[0].text"),
                      ({"messages": [{"type": "text"}]}, "messages[0]")):
        response = post(url, path, bad)
        assert response.status_code == 400, bad
        body = response.json()
        assert body["message"].startswith("The request body has") and body["details"][0]["property"].startswith(prop)
    assert emulator.world.recipients_delivered == 0


# -- custom aggregation units and statistics -------------------------------------------------------
def test_aggregation_unit_rules_and_monthly_limit(emulated):
    url, emulator, users = emulated
    assert multicast(url, users[:1], customAggregationUnits=["a", "b"]).status_code == 400
    assert multicast(url, users[:1], customAggregationUnits=["bad-name"]).status_code == 400
    assert multicast(url, users[:1], customAggregationUnits=["x" * 31]).status_code == 400
    push = post(url, "/v2/bot/message/push", {"to": users[0], "messages": TEXT, "customAggregationUnits": ["a", "b"]})
    assert push.status_code == 400
    emulator.world.aggregation_unit_limit = 2
    for unit in ("unit_a", "unit_b", "unit_c", "unit_a"):
        assert multicast(url, users[:1], customAggregationUnits=[unit]).status_code == 200
    info = requests.get(f"{url}/v2/bot/message/aggregation/info", headers=AUTH, timeout=5)
    assert checked(emulator, "getAggregationUnitUsage", info) == {"numOfCustomAggregationUnits": 2}
    page = requests.get(f"{url}/v2/bot/message/aggregation/list", params={"limit": 1}, headers=AUTH, timeout=5)
    first = checked(emulator, "getAggregationUnitNameList", page)
    assert first["customAggregationUnits"] == ["unit_a"] and first["next"]
    rest = requests.get(f"{url}/v2/bot/message/aggregation/list", params={"limit": 1, "start": first["next"]},
                        headers=AUTH, timeout=5).json()
    assert rest == {"customAggregationUnits": ["unit_b"]}
    assert [s.aggregation_unit for s in emulator.world.sends] == ["unit_a", "unit_b", None, "unit_a"]
    bad = requests.get(f"{url}/v2/bot/message/aggregation/list", params={"limit": 101}, headers=AUTH, timeout=5)
    assert bad.status_code == 400


def statistics(url, unit, start=None, end=None):
    today = time.strftime("%Y%m%d", time.gmtime(time.time() + 9 * 3600))
    return requests.get(f"{url}/v2/bot/insight/message/event/aggregation", headers=AUTH, timeout=5,
                        params={"customAggregationUnit": unit, "from": start or today, "to": end or today})


def test_statistics_per_unit_privacy_floor_and_plausible_figures(emulated):
    url, emulator, users = emulated
    link = {"type": "template", "altText": "案内", "template": {
        "type": "buttons", "text": "詳しくは", "actions": [{"type": "uri", "label": "開く",
                                                          "uri": "https://www.city.itami.lg.jp/"}]}}
    assert multicast(url, users[:10], customAggregationUnits=["small"]).status_code == 200
    small = checked(emulator, "getStatisticsPerUnit", statistics(url, "small"))
    assert small["overview"] == {"uniqueImpression": None, "uniqueClick": None, "uniqueMediaPlayed": None,
                                 "uniqueMediaPlayed100Percent": None}
    assert small["messages"][0]["impression"] is None
    for start in range(0, 1000, 500):
        assert multicast(url, users[start:start + 500], messages=[TEXT[0], link],
                         customAggregationUnits=["big"]).status_code == 200
    big = checked(emulator, "getStatisticsPerUnit", statistics(url, "big"))
    assert big == statistics(url, "big").json()  # deterministic
    overview = big["overview"]
    assert 550 <= overview["uniqueImpression"] < 750
    assert 20 <= overview["uniqueClick"] < overview["uniqueImpression"]
    assert overview["uniqueMediaPlayed"] is None  # no video or audio
    assert [m["seq"] for m in big["messages"]] == [1, 2]
    assert big["messages"][1]["uniqueImpression"] < big["messages"][0]["uniqueImpression"]
    assert big["clicks"][0]["url"] == "https://www.city.itami.lg.jp/"
    assert big["clicks"][0]["click"] >= big["clicks"][0]["uniqueClick"] >= 20
    empty = checked(emulator, "getStatisticsPerUnit", statistics(url, "never_used"))
    assert empty["overview"]["uniqueImpression"] is None and empty["messages"] == []
    assert statistics(url, "big", "20260101", "20260301").status_code == 400  # more than 30 days
    assert statistics(url, "big", "20260301", "20260201").status_code == 400
    assert statistics(url, "big", "2026-03-01").status_code == 400
    assert statistics(url, "bad-name").status_code == 400


def test_quota_and_consumption(emulated):
    url, emulator, users = emulated
    quota = requests.get(f"{url}/v2/bot/message/quota", headers=AUTH, timeout=5)
    assert checked(emulator, "getMessageQuota", quota) == {"type": "none"}
    assert multicast(url, users[:100], messages=TEXT * 2).status_code == 200
    used = requests.get(f"{url}/v2/bot/message/quota/consumption", headers=AUTH, timeout=5)
    assert checked(emulator, "getMessageQuotaConsumption", used) == {"totalUsage": 200}


# -- scale ----------------------------------------------------------------------------------------
def test_exactly_once_check_is_cheap_at_scale():
    """200,000 residents, 400 multicasts of 500: recording stays fast and the summary is instant."""
    from line_emulator.world import World

    world = World(residents=200_000)
    with world.lock:
        for resident in world.residents.values():
            resident.friend = True
    ids = list(world.residents)
    started = time.perf_counter()
    for start in range(0, len(ids), 500):
        world.record_send("multicast", str(uuid.uuid4()), str(uuid.uuid4()), TEXT, ids[start:start + 500])
    world.record_send("multicast", "again", None, TEXT, ids[:3])
    recorded = time.perf_counter() - started
    started = time.perf_counter()
    summary = next(iter(world.contents.values())).summary()
    summarised = time.perf_counter() - started
    assert (summary["recipients"], summary["duplicates"], summary["sends"]) == (200_000, 3, 401)
    assert world.duplicate_user_ids(summary["contentKey"], 10) == ids[:3]
    assert recorded < 5 and summarised < 0.1, (recorded, summarised)


def test_initial_friends_need_no_webhooks():
    with running_emulator(residents=50, friends=30) as (url, emulator):
        assert requests.get(f"{url}/_emulator/stats", timeout=5).json()["friends"] == 30
        assert emulator.world.webhook_log == []
        users = list(emulator.world.residents)
        assert multicast(url, users[25:35]).status_code == 200
        assert emulator.world.recipients_delivered == 5
        requests.post(f"{url}/_emulator/reset", timeout=5)
        assert requests.get(f"{url}/_emulator/stats", timeout=5).json()["friends"] == 30


def test_message_event_figures_are_null_under_twenty(emulated):
    url, emulator, users = emulated
    for count in (5, 300):
        response = post(url, "/v2/bot/message/broadcast" if count == 300 else "/v2/bot/message/push",
                        {"to": users[0], "messages": TEXT} if count == 5 else {"messages": TEXT})
        assert response.status_code == 200
        event = requests.get(f"{url}/v2/bot/insight/message/event", headers=AUTH, timeout=5,
                             params={"requestId": response.headers["x-line-request-id"]})
        body = checked(emulator, "getMessageEvent", event)
        if count == 5:
            assert body["overview"]["uniqueImpression"] is None and "delivered" not in body["overview"]
        else:
            assert body["overview"]["delivered"] == 1000 and body["overview"]["uniqueImpression"] >= 550
