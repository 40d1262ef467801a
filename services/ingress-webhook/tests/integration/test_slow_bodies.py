"""Slow bodies against ingress-webhook under gunicorn, as deployed.

A gthread worker reads a request's body on one of its threads: a client that sends its headers and
then trickles the body would hold that thread as long as it pleased, and a few dozen such clients
would hold the whole pod. Each body must arrive within WEBHOOK_BODY_TIMEOUT_SECONDS: a slower one
is answered 408 (or its connection closed) and the thread is free again, while LINE's own requests
keep being answered.
"""

import json
import socket
import threading
import time
import uuid

import pytest
import requests

from testsupport import TEST_KEYS, sign_webhook
from testsupport.processes import RunningProcess, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BODY_TIMEOUT = 1.5
THREADS = 16  # one gunicorn worker of the manifest's 16 threads
TRICKLE_EVERY = 0.2  # one byte per 0.2 s: a 1,000-byte body would take 200 s
# A slow client that found every thread busy starts its deadline when it gets one: at most one
# deadline later. Beyond that, slack for a machine shared with other tests.
ANSWERED_WITHIN = 2 * BODY_TIMEOUT + 3.0


@pytest.fixture(scope="module")
def ingress(migrated_database_url, amqp_url, tmp_path_factory):
    port = free_port()
    env = {"DATABASE_URL": migrated_database_url, "AMQP_URL": amqp_url, "LOG_FORMAT": "text", **TEST_KEYS,
           "INGRESS_WEBHOOK_PORT": str(port), "WEBHOOK_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
           "GUNICORN_WORKERS": "1",
           # Its own metrics directory: another test's ingress-webhook would wipe the shared one.
           "PROMETHEUS_MULTIPROC_BASE": str(tmp_path_factory.mktemp("prometheus"))}
    process = RunningProcess("ingress-slow-bodies", ["cityline-serve", "ingress-webhook"], env,
                             f"http://127.0.0.1:{port}/readyz").start()
    yield port
    process.stop()


def signed_body(padding: int = 0) -> tuple[bytes, str]:
    event = {"type": "follow", "mode": "active", "timestamp": int(time.time() * 1000),
             "webhookEventId": uuid.uuid4().hex[:26].upper(), "deliveryContext": {"isRedelivery": False},
             "source": {"type": "user", "userId": "U" + uuid.uuid4().hex}, "pad": "x" * padding}
    body = json.dumps({"destination": "U" + "d" * 32, "events": [event]}).encode()
    return body, sign_webhook(body)


def headers(port: int, body: bytes, signature: str, *, chunked: bool = False) -> bytes:
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    return (f"POST /callback HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"X-Line-Signature: {signature}\r\n{framing}\r\n\r\n").encode()


def trickle(port: int, chunked: bool) -> tuple[bytes, float]:
    """Send the headers at once, then the body a byte at a time; return what the server answered
    (b"" when it only closed the connection) and after how long."""
    body, signature = signed_body(padding=900)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(headers(port, body, signature, chunked=chunked))
        started = time.monotonic()
        sock.settimeout(TRICKLE_EVERY)
        answer = b""
        for byte in body:
            if time.monotonic() - started > ANSWERED_WITHIN + 5:
                return b"still reading after the bound", time.monotonic() - started
            piece = bytes([byte])
            try:
                sock.sendall(b"1\r\n" + piece + b"\r\n" if chunked else piece)
                answer = sock.recv(65536)  # waits TRICKLE_EVERY: the trickle's pace
            except TimeoutError:
                continue
            except OSError:  # reset: closed without (or after) an answer
                break
            break  # an answer, or b"": closed
        took = time.monotonic() - started
        sock.settimeout(1.0)
        while answer:  # the rest of the answer, up to the close
            try:
                more = sock.recv(65536)
            except OSError:
                break
            if not more:
                break
            answer += more
        return answer, took


def test_slow_bodies_get_408_within_the_deadline_and_line_is_still_answered(ingress):
    port = ingress
    outcomes: list[tuple[bytes, float]] = []
    # More slow clients than the worker has threads, two of them chunked.
    slow = [threading.Thread(target=lambda chunked=index < 2: outcomes.append(trickle(port, chunked)))
            for index in range(THREADS + 4)]
    for thread in slow:
        thread.start()
    time.sleep(0.3)

    body, signature = signed_body()
    started = time.monotonic()
    response = requests.post(f"http://127.0.0.1:{port}/callback", data=body,
                             headers={"X-Line-Signature": signature, "Content-Type": "application/json"}, timeout=10)
    normal_took = time.monotonic() - started
    for thread in slow:
        thread.join(ANSWERED_WITHIN + 10)

    assert response.status_code == 200, response.text
    assert normal_took < ANSWERED_WITHIN
    assert len(outcomes) == THREADS + 4
    late = [round(took, 2) for _, took in outcomes if took > ANSWERED_WITHIN]
    assert not late, f"slow clients held their thread past the deadline: {late}"
    answers = [answer for answer, _ in outcomes]
    assert all(answer == b"" or answer.startswith(b"HTTP/1.1 408") for answer in answers), answers[:3]
    timed_out = [answer for answer in answers if answer.startswith(b"HTTP/1.1 408")]
    assert timed_out, "no slow client was answered 408"
    assert b"did not arrive within 1.5 s" in timed_out[0]

    metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    [count] = [float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith('cityline_webhook_requests_total{outcome="body_timeout"}')]
    assert count >= len(timed_out)


def test_a_body_in_pieces_within_the_deadline_is_taken_and_the_connection_kept(ingress):
    port = ingress
    body, signature = signed_body(padding=200_000)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(10)
        sock.sendall(headers(port, body, signature))
        third = len(body) // 3
        for piece in (body[:third], body[third:2 * third], body[2 * third:]):
            sock.sendall(piece)
            time.sleep(0.2)  # 0.4 s in all: slow, but within the deadline
        first = sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first[:200]
        # The same connection serves the next request: the socket was handed back to gunicorn intact.
        body, signature = signed_body()
        sock.sendall(headers(port, body, signature) + body)
        second = sock.recv(65536)
        assert second.startswith(b"HTTP/1.1 200"), second[:200]
