"""Webhook events as LINE sends them (webhook.yml), signed, and delivered to the bot's URL.

Every event gets a ULID ``webhookEventId``, ``deliveryContext.isRedelivery`` and ``mode``; events
that carry a reply token get one the reply endpoint will accept. With redelivery enabled, a
request answered with anything but 2xx is sent again (same events, same ids, ``isRedelivery:
true``), as LINE's "webhook redelivery" setting does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
from ulid import ULID

from line_emulator.world import World

log = logging.getLogger(__name__)

EVENTS_WITH_REPLY_TOKEN = frozenset({
    "message", "follow", "join", "memberJoined", "postback", "videoPlayComplete", "beacon", "accountLink",
    "membership",
})


def sign(channel_secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()).decode()


def user_source(user_id: str) -> dict[str, Any]:
    return {"type": "user", "userId": user_id}


def complete_event(world: World, event: dict[str, Any]) -> dict[str, Any]:
    """Fill what LINE always sets, leaving whatever the caller gave untouched."""
    event = dict(event)
    event.setdefault("mode", "active")
    event.setdefault("timestamp", int(time.time() * 1000))
    event.setdefault("webhookEventId", str(ULID()))
    event.setdefault("deliveryContext", {"isRedelivery": False})
    source = event.get("source")
    if (event.get("type") in EVENTS_WITH_REPLY_TOKEN and "replyToken" not in event and event.get("mode") == "active"
            and isinstance(source, dict)):
        event["replyToken"] = world.issue_reply_token(str(source.get("userId", "")))
    return event


def example_event(kind: str, user_id: str) -> dict[str, Any]:
    """A representative event of each type in LINE's webhook.yml (used by tests and drills)."""
    source = user_source(user_id)
    group = {"type": "group", "groupId": "C" + hashlib.md5(user_id.encode()).hexdigest(), "userId": user_id}  # noqa: S324
    message_id = str(int(time.time() * 1000))
    examples: dict[str, dict[str, Any]] = {
        "message": {"source": source, "message": {"type": "text", "id": message_id, "quoteToken": "q" + message_id,
                                                  "text": "ごみの収集日を教えてください"}},
        "unsend": {"source": source, "unsend": {"messageId": message_id}},
        "follow": {"source": source, "follow": {"isUnblocked": False}},
        "unfollow": {"source": source},
        "join": {"source": group},
        "leave": {"source": {"type": "group", "groupId": group["groupId"]}},
        "memberJoined": {"source": group, "joined": {"members": [source]}},
        "memberLeft": {"source": group, "left": {"members": [source]}},
        "postback": {"source": source, "postback": {"data": "action=settings&tab=bousai"}},
        "videoPlayComplete": {"source": source, "videoPlayComplete": {"trackingId": "itami-video-1"}},
        "beacon": {"source": source, "beacon": {"hwid": "d41d8cd98f", "type": "enter"}},
        "accountLink": {"source": source, "link": {"result": "ok", "nonce": "n" + message_id}},
        "membership": {"source": source, "membership": {"type": "joined", "membershipId": 3189}},
        "module": {"source": source, "module": {"type": "attached", "botId": "U" + "a" * 32,
                                                "scopes": ["message:send"]}},
        "activated": {"source": source, "chatControl": {"expireAt": int(time.time() * 1000) + 3_600_000}},
        "deactivated": {"source": source},
        "botSuspended": {"source": source},
        "botResumed": {"source": source},
        "delivery": {"source": source, "delivery": {"data": "pnp-" + message_id}},
    }
    if kind not in examples:
        raise KeyError(f"no example for event type {kind!r}")
    return {"type": kind, **examples[kind]}


class WebhookSender:
    """Sends webhook requests from one background thread, in order, and keeps a log of answers."""

    def __init__(
        self, world: World, channel_secret: str, url: str | None, *, redelivery: bool = False,
        max_attempts: int = 4, retry_delay: float = 1.0, timeout: float = 10.0,
    ) -> None:
        self.world = world
        self.channel_secret = channel_secret
        self.url = url
        self.redelivery = redelivery
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.timeout = timeout
        self._queue: queue.Queue[tuple[list[dict[str, Any]], int, threading.Event | None]] = queue.Queue()
        self._http = requests.Session()
        self._thread = threading.Thread(target=self._run, name="webhook-sender", daemon=True)
        self._thread.start()

    def send(self, events: list[dict[str, Any]], wait: bool = False) -> list[dict[str, Any]]:
        """Queue one webhook request with ``events`` (completed with LINE's defaults)."""
        completed = [complete_event(self.world, event) for event in events]
        done = threading.Event() if wait else None
        self._queue.put((completed, 1, done))
        if done is not None:
            done.wait(self.timeout * self.max_attempts + 5)
        return completed

    def pending(self) -> int:
        return self._queue.unfinished_tasks

    def body_for(self, events: list[dict[str, Any]]) -> bytes:
        return json.dumps({"destination": self.world.destination, "events": events},
                          ensure_ascii=False, separators=(",", ":")).encode()

    def _run(self) -> None:
        while True:
            events, attempt, done = self._queue.get()
            try:
                self._deliver(events, attempt, done)
            except Exception:
                log.exception("webhook delivery failed unexpectedly")
                if done is not None:
                    done.set()
            finally:
                self._queue.task_done()

    def _deliver(self, events: list[dict[str, Any]], attempt: int, done: threading.Event | None) -> None:
        if self.url is None:
            self._log(events, attempt, None, "no webhook URL configured")
            if done is not None:
                done.set()
            return
        body = self.body_for(events)
        status: int | None = None
        error = ""
        try:
            response = self._http.post(self.url, data=body, timeout=self.timeout, headers={
                "Content-Type": "application/json; charset=utf-8", "X-Line-Signature": sign(self.channel_secret, body),
                "User-Agent": "LineBotWebhook/2.0",
            })
            status = response.status_code
        except requests.RequestException as exc:
            error = type(exc).__name__
        self._log(events, attempt, status, error)
        if status is not None and 200 <= status < 300:
            if done is not None:
                done.set()
            return
        if self.redelivery and attempt < self.max_attempts:
            redelivered = [{**event, "deliveryContext": {"isRedelivery": True}} for event in events]
            timer = threading.Timer(self.retry_delay * attempt, self._queue.put, ((redelivered, attempt + 1, done),))
            timer.daemon = True
            timer.start()
        elif done is not None:
            done.set()

    def _log(self, events: list[dict[str, Any]], attempt: int, status: int | None, error: str) -> None:
        with self.world.lock:
            self.world.webhook_log.append({
                "id": str(uuid.uuid4()), "at": time.time(), "attempt": attempt, "status": status, "error": error,
                "eventIds": [event.get("webhookEventId") for event in events],
                "types": [event.get("type") for event in events],
            })


Clock = Callable[[], float]
