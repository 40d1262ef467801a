"""The emulated LINE Platform as one Flask app: every request goes through LINE's pipeline —
authentication, size, fault injection, rate limit, X-Line-Retry-Key, OpenAPI validation — before
the operation's handler runs. Every response carries ``x-line-request-id``."""

from __future__ import annotations

import contextlib
import json
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, request

from line_emulator.limits import RETRY_KEY_OPERATIONS, Accepted, RateLimiter, RetryKeys, group_of, retry_key_valid
from line_emulator.spec import Operation, Spec, error_details
from line_emulator.webhooks import WebhookSender
from line_emulator.world import World

MAX_REQUEST_BYTES = 2 * 1024 * 1024


class LineError(Exception):
    """Answer with LINE's error shape: ``{"message": …, "details": […]}``."""

    def __init__(self, status: int, message: str, details: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.headers = headers or {}
        self.extra = extra or {}


@dataclass
class Faults:
    """Fractions of requests that fail on purpose (drills and resilience tests)."""

    error_rate: float = 0.0       # 500
    rate_limit_rate: float = 0.0  # 429
    timeout_rate: float = 0.0     # hang, then drop the connection
    timeout_seconds: float = 15.0
    # after the request was accepted and delivered: answer 500 ("error"), hang then 504
    # ("timeout") or close the connection without an answer ("drop") — what retry keys guard against
    accept_then_fail_rate: float = 0.0
    accept_then_fail_mode: str = "error"
    operations: set[str] = field(default_factory=set)  # empty: every operation
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    lock: threading.Lock = field(default_factory=threading.Lock)
    injected: Counter[str] = field(default_factory=Counter)

    MODES = ("error", "timeout", "drop")

    def _applies(self, operation_id: str) -> bool:
        return not self.operations or operation_id in self.operations

    def draw(self, operation_id: str) -> str | None:
        if not self._applies(operation_id) or not (self.error_rate or self.rate_limit_rate or self.timeout_rate):
            return None
        with self.lock:
            roll = self.rng.random()
        fault = None
        if roll < self.error_rate:
            fault = "error"
        elif roll < self.error_rate + self.rate_limit_rate:
            fault = "rate_limit"
        elif roll < self.error_rate + self.rate_limit_rate + self.timeout_rate:
            fault = "timeout"
        if fault:
            with self.lock:
                self.injected[fault] += 1
        return fault

    def draw_after_accept(self, operation_id: str) -> str | None:
        """The accept-then-fail mode for this accepted request, or None to answer normally."""
        if not self.accept_then_fail_rate or not self._applies(operation_id):
            return None
        with self.lock:
            if self.rng.random() >= self.accept_then_fail_rate:
                return None
            self.injected[f"acceptThen_{self.accept_then_fail_mode}"] += 1
            return self.accept_then_fail_mode

    def describe(self) -> dict[str, Any]:
        return {"errorRate": self.error_rate, "rateLimitRate": self.rate_limit_rate,
                "timeoutRate": self.timeout_rate, "timeoutSeconds": self.timeout_seconds,
                "acceptThenFailRate": self.accept_then_fail_rate, "acceptThenFailMode": self.accept_then_fail_mode,
                "operations": sorted(self.operations), "injected": dict(self.injected)}


@dataclass
class Context:
    emulator: Emulator
    operation: Operation
    params: dict[str, str]
    request_id: str
    body: Any
    retry_key: str | None

    @property
    def world(self) -> World:
        return self.emulator.world

    def query(self, name: str, default: str | None = None) -> str | None:
        return request.args.get(name, default)


@dataclass
class Result:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"
    sent_messages: list[dict[str, str]] | None = None


Handler = Callable[[Context], Result]


@dataclass
class Emulator:
    spec: Spec
    world: World
    channel_secret: str
    access_token: str
    limiter: RateLimiter
    retry_keys: RetryKeys
    sender: WebhookSender
    faults: Faults
    handlers: dict[str, Handler]
    login_key: bytes = field(default_factory=lambda: uuid.uuid4().bytes + uuid.uuid4().bytes)

    def handle(self, method: str, path: str) -> Response:
        request_id = str(uuid.uuid4())
        operation_id = "unknown"
        try:
            routed = self.spec.route(method, path)
            if routed is None:
                if self.spec.path_known(path):
                    raise LineError(405, "Method Not Allowed")
                raise LineError(404, "Not found")
            operation, params = routed
            operation_id = operation.operation_id
            result = self._run(operation, params, request_id)
        except LineError as error:
            body: dict[str, Any] = {"message": error.message, **error.extra}
            if error.details:
                body["details"] = error.details
            response = Response(json.dumps(body, ensure_ascii=False), status=error.status,
                                content_type="application/json", headers=error.headers)
        else:
            if result.raw is not None:
                response = Response(result.raw, status=result.status, content_type=result.content_type)
            else:
                payload = "{}" if result.body is None else json.dumps(result.body, ensure_ascii=False)
                response = Response(payload, status=result.status, content_type="application/json")
            response.headers.update(result.headers)
        response.headers["x-line-request-id"] = request_id
        with self.world.lock:
            self.world.requests_by_endpoint[operation_id] += 1
            self.world.statuses_by_endpoint[f"{operation_id} {response.status_code}"] += 1
        return response

    def _run(self, operation: Operation, params: dict[str, str], request_id: str) -> Result:
        if request.headers.get("Authorization", "") != f"Bearer {self.access_token}":
            raise LineError(401, "Authentication failed. Confirm that the access token in the authorization "
                                 "header is valid.")
        if (request.content_length or 0) > MAX_REQUEST_BYTES:
            raise LineError(413, "Request Entity Too Large")
        fault = self.faults.draw(operation.operation_id)
        if fault == "timeout":
            time.sleep(self.faults.timeout_seconds)
            raise LineError(504, "Gateway Timeout")
        if fault == "error":
            raise LineError(500, "Internal Server Error")
        if fault == "rate_limit" or not self.limiter.allow(group_of(operation.operation_id)):
            raise LineError(429, "The API rate limit has been exceeded. Try again later.")
        retry_key = request.headers.get("X-Line-Retry-Key")
        if retry_key is not None:
            if operation.operation_id not in RETRY_KEY_OPERATIONS:
                raise LineError(400, "The X-Line-Retry-Key header cannot be used with this API")
            if not retry_key_valid(retry_key):
                raise LineError(400, "X-Line-Retry-Key must be a UUID (e.g. 123e4567-e89b-12d3-a456-426614174000)")
            accepted = self.retry_keys.begin(retry_key)
            if accepted is not None:
                with self.world.lock:
                    self.world.retry_key_conflicts[retry_key] += 1
            if accepted is False:
                raise LineError(409, "The retry key is already accepted")
            if isinstance(accepted, Accepted):
                extra = {"sentMessages": accepted.sent_messages} if accepted.sent_messages is not None else {}
                raise LineError(409, "The retry key is already accepted",
                                headers={"x-line-accepted-request-id": accepted.request_id}, extra=extra)
        result: Result | None = None
        try:
            body = self._body(operation)
            handler = self.handlers.get(operation.operation_id)
            if handler is None:
                raise LineError(501, f"{operation.operation_id} is not emulated")
            result = handler(Context(self, operation, params, request_id, body, retry_key))
        finally:
            if retry_key is not None:
                accepted_now = (Accepted(request_id, time.time(), result.sent_messages)
                                if result is not None and 200 <= result.status < 300 else None)
                self.retry_keys.finish(retry_key, accepted_now)
        if result is None:  # the handler raised: unreachable
            raise LineError(500, "Internal Server Error")
        if 200 <= result.status < 300:
            self._fail_after_accept(operation.operation_id)
        return result

    def _fail_after_accept(self, operation_id: str) -> None:
        """Accepted and delivered, yet the client sees an error (fault injection)."""
        mode = self.faults.draw_after_accept(operation_id)
        if mode == "drop":
            sock = request.environ.get("gunicorn.socket") or request.environ.get("werkzeug.socket")
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            raise LineError(500, "Internal Server Error")  # written to a closed connection: never seen
        if mode == "timeout":
            time.sleep(self.faults.timeout_seconds)
            raise LineError(504, "Gateway Timeout")
        if mode == "error":
            raise LineError(500, "Internal Server Error")

    def _body(self, operation: Operation) -> Any:
        if operation.request_validator is None:
            return None
        raw = request.get_data(cache=True)
        try:
            body = json.loads(raw or b"null")
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise LineError(400, "The request body has 1 error(s)",
                            [{"message": "May not be empty or must be valid JSON", "property": ""}]) from None
        if body is None:
            raise LineError(400, "The request body has 1 error(s)", [{"message": "May not be empty", "property": ""}])
        details = error_details(operation.request_validator, body)
        if details:
            raise LineError(400, f"The request body has {len(details)} error(s)", details)
        return body


def create_app(emulator: Emulator) -> Flask:
    from line_emulator.inspection import inspection
    from line_emulator.login import login

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.extensions["line_emulator"] = emulator
    app.register_blueprint(inspection)
    app.register_blueprint(login)

    @app.errorhandler(413)
    def too_large(_: Exception) -> Response:
        return Response(json.dumps({"message": "Request Entity Too Large"}), status=413,
                        content_type="application/json", headers={"x-line-request-id": str(uuid.uuid4())})

    @app.route("/v2/bot/<path:rest>", methods=["GET", "POST", "PUT", "DELETE"])
    def messaging(rest: str) -> Response:
        return emulator.handle(request.method, f"/v2/bot/{rest}")

    return app
