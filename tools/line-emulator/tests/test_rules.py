"""LINE's rules the emulator enforces: rate limits, retry keys, recipient and size caps, auth, faults."""

import time
import uuid

import pytest
import requests

from testsupport import TEST_KEYS
from testsupport.emulator import running_emulator

AUTH = {"Authorization": f"Bearer {TEST_KEYS['LINE_CHANNEL_ACCESS_TOKEN']}"}


@pytest.fixture
def emulated():
    with running_emulator(residents=600, rate_limits=["multicast=5/s"]) as (url, emulator):
        with emulator.world.lock:
            for resident in emulator.world.residents.values():
                resident.friend = True
        yield url, emulator


def multicast(url, to, key=None, text="お知らせ"):
    headers = dict(AUTH)
    if key:
        headers["X-Line-Retry-Key"] = key
    return requests.post(f"{url}/v2/bot/message/multicast", headers=headers, timeout=10,
                         json={"to": to, "messages": [{"type": "text", "text": text}]})


def test_429_beyond_the_multicast_limit_then_recovers(emulated):
    url, emulator = emulated
    users = list(emulator.world.residents)[:2]
    statuses = [multicast(url, users).status_code for _ in range(8)]
    assert statuses[:5] == [200] * 5 and 429 in statuses[5:]
    limited = multicast(url, users)
    assert limited.status_code == 429
    assert limited.json() == {"message": "The API rate limit has been exceeded. Try again later."}
    assert limited.headers["x-line-request-id"]
    time.sleep(0.5)  # the bucket refills gradually: 5/s → a token every 0.2 s
    assert multicast(url, users).status_code == 200


def test_repeated_retry_key_is_409_and_nothing_is_delivered_twice(emulated):
    url, emulator = emulated
    users = list(emulator.world.residents)[:500]
    key = str(uuid.uuid4())
    first = multicast(url, users, key)
    assert first.status_code == 200
    again = multicast(url, users, key)
    assert again.status_code == 409
    assert again.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]
    assert again.json()["message"] == "The retry key is already accepted"
    assert all(len(emulator.world.messages_for(user)) == 1 for user in users)
    # A failed attempt does not spend the key: the retry after a 400 goes through.
    bad_key = str(uuid.uuid4())
    assert multicast(url, users[:1], bad_key, text="").status_code == 400
    time.sleep(0.25)
    assert multicast(url, users[:1], bad_key).status_code == 200


def test_push_409_repeats_sent_messages(emulated):
    url, emulator = emulated
    key = str(uuid.uuid4())
    body = {"to": next(iter(emulator.world.residents)), "messages": [{"type": "text", "text": "a"}]}
    first = requests.post(f"{url}/v2/bot/message/push", json=body, headers={**AUTH, "X-Line-Retry-Key": key}, timeout=5)
    again = requests.post(f"{url}/v2/bot/message/push", json=body, headers={**AUTH, "X-Line-Retry-Key": key}, timeout=5)
    assert first.status_code == 200 and again.status_code == 409
    assert again.json()["sentMessages"] == first.json()["sentMessages"]


@pytest.mark.parametrize(("key", "path"), [("not-a-uuid", "multicast"), (str(uuid.uuid4()), "reply")])
def test_retry_key_format_and_endpoints(emulated, key, path):
    url, emulator = emulated
    body = {"to": list(emulator.world.residents)[:1], "replyToken": "x", "messages": [{"type": "text", "text": "a"}]}
    response = requests.post(f"{url}/v2/bot/message/{path}", json=body,
                             headers={**AUTH, "X-Line-Retry-Key": key}, timeout=5)
    assert response.status_code == 400


def test_501_recipients_is_400_with_details(emulated):
    url, emulator = emulated
    response = multicast(url, list(emulator.world.residents)[:501])
    assert response.status_code == 400
    assert response.json()["details"][0]["property"] == "to"
    assert emulator.world.recipients_delivered == 0


def test_message_rules(emulated):
    url, emulator = emulated
    users = list(emulator.world.residents)[:1]
    assert multicast(url, users, text="あ" * 5000).status_code == 200
    too_long = multicast(url, users, text="🍎" * 2501)  # 5,002 UTF-16 code units
    assert too_long.status_code == 400 and too_long.json()["details"][0]["property"] == "messages[0].text"
    six = requests.post(f"{url}/v2/bot/message/multicast", headers=AUTH, timeout=5,
                        json={"to": users, "messages": [{"type": "text", "text": "a"}] * 6})
    assert six.status_code == 400
    bad_id = multicast(url, ["U123"])
    assert bad_id.status_code == 400 and bad_id.json()["details"][0]["property"] == "to[0]"
    unknown_type = requests.post(f"{url}/v2/bot/message/multicast", headers=AUTH, timeout=5,
                                 json={"to": users, "messages": [{"type": "telepathy"}]})
    assert unknown_type.status_code == 400


def test_auth_size_and_unknown_paths(emulated):
    url, _ = emulated
    assert requests.get(f"{url}/v2/bot/info", timeout=5).status_code == 401
    assert requests.get(f"{url}/v2/bot/info", headers={"Authorization": "Bearer wrong"}, timeout=5).status_code == 401
    big = requests.post(f"{url}/v2/bot/message/multicast", headers={**AUTH, "Content-Type": "application/json"},
                        data=b"{" + b" " * (2 * 1024 * 1024 + 10) + b"}", timeout=10)
    assert big.status_code == 413
    assert requests.get(f"{url}/v2/bot/nothing/here", headers=AUTH, timeout=5).status_code == 404
    assert requests.delete(f"{url}/v2/bot/message/multicast", headers=AUTH, timeout=5).status_code == 405


def test_unfollowed_residents_receive_nothing_but_the_call_succeeds(emulated):
    url, emulator = emulated
    user = list(emulator.world.residents)[7]
    emulator.world.resident(user).friend = False
    assert multicast(url, [user]).status_code == 200
    assert emulator.world.messages_for(user) == []


def test_fault_injection(emulated):
    url, _ = emulated
    assert requests.post(f"{url}/_emulator/faults", json={"errorRate": 1.0}, timeout=5).status_code == 200
    assert requests.get(f"{url}/v2/bot/info", headers=AUTH, timeout=5).status_code == 500
    requests.post(f"{url}/_emulator/faults", json={"rateLimitRate": 1.0}, timeout=5)
    assert requests.get(f"{url}/v2/bot/info", headers=AUTH, timeout=5).status_code == 429
    requests.post(f"{url}/_emulator/faults", json={"timeoutRate": 1.0, "timeoutSeconds": 0.2}, timeout=5)
    assert requests.get(f"{url}/v2/bot/info", headers=AUTH, timeout=5).status_code == 504
    assert requests.post(f"{url}/_emulator/faults", json={"errorRate": 2}, timeout=5).status_code == 400
    requests.post(f"{url}/_emulator/faults", json={}, timeout=5)
    assert requests.get(f"{url}/v2/bot/info", headers=AUTH, timeout=5).status_code == 200


def test_rate_limits_can_be_changed_at_run_time(emulated):
    url, _ = emulated
    assert requests.post(f"{url}/_emulator/rate-limits", json={"getRichMenuList": "1/h"}, timeout=5).status_code == 200
    codes = [requests.get(f"{url}/v2/bot/richmenu/list", headers=AUTH, timeout=5).status_code for _ in range(2)]
    assert codes == [200, 429]
    assert requests.post(f"{url}/_emulator/rate-limits", json={"x": "fast"}, timeout=5).status_code == 400
