"""LINE through line-bot-sdk: multicast with a retry key, テスト配信 pushes, validation, statistics.

Every call answers an :class:`~dispatcher.domain.jobs.Outcome` (or data) instead of raising, so the send
loop reads as the domain's retry rules. The SDK's own retries are off (``line_clients(retries=0)``):
retries happen here, with the same X-Line-Retry-Key."""

from __future__ import annotations

import abc
import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import urllib3
from cityline_common.line_client import line_clients
from cityline_common.settings import LineSettings
from linebot.v3.insight.exceptions import ApiException as InsightApiException
from linebot.v3.messaging import Message, MulticastRequest, PushMessageRequest, ValidateMessageRequest
from linebot.v3.messaging.exceptions import ApiException

from dispatcher.domain.jobs import Outcome, classify


@dataclass(frozen=True)
class Sent:
    outcome: Outcome
    request_id: str | None = None


def _reason(body: Any) -> str:
    try:
        parsed = json.loads(body or "{}")
    except (TypeError, ValueError):
        return ""
    if not isinstance(parsed, dict):
        return ""
    details = "; ".join(f"{d.get('property', '')}: {d.get('message', '')}" for d in parsed.get("details") or []
                        if isinstance(d, dict))
    return (str(parsed.get("message", "")) + (f" ({details})" if details else ""))[:500]


def _retry_after(headers: Mapping[str, str] | None) -> float | None:
    value = (headers or {}).get("Retry-After") or (headers or {}).get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class AbstractLineSender(abc.ABC):
    @abc.abstractmethod
    def multicast(self, to: Sequence[str], messages: Sequence[Mapping[str, Any]], retry_key: uuid.UUID,
                  unit: str | None) -> Sent: ...

    @abc.abstractmethod
    def push(self, to: str, messages: Sequence[Mapping[str, Any]], retry_key: uuid.UUID) -> Sent: ...

    @abc.abstractmethod
    def validate(self, messages: Sequence[Mapping[str, Any]]) -> str | None:
        """None when LINE's validate endpoint accepts the messages, else its reason."""

    @abc.abstractmethod
    def statistics(self, unit: str, first_day: str, last_day: str) -> dict[str, Any] | None: ...

    @abc.abstractmethod
    def units_left(self) -> int | None:
        """Aggregation unit names still available this month, None when LINE does not say."""

    def close(self) -> None:  # noqa: B027 - most senders hold nothing to release
        """Release connections."""


class SdkLineSender(AbstractLineSender):
    def __init__(self, settings: LineSettings, *, pool_size: int = 32, timeout: float = 10.0) -> None:
        self._clients = line_clients(settings, pool_size=pool_size)
        self._timeout = timeout
        self._lock = threading.Lock()
        self._parsed: dict[str, list[Message]] = {}

    def _send(self, call: Any, request: Any, retry_key: uuid.UUID) -> Sent:
        try:
            response = call(request, x_line_retry_key=str(retry_key), _request_timeout=self._timeout)
        except ApiException as exc:
            headers = dict(exc.headers or {})
            outcome = classify(exc.status, _reason(exc.body), _retry_after(headers))
            accepted = headers.get("x-line-accepted-request-id") or headers.get("X-Line-Accepted-Request-Id")
            return Sent(outcome, accepted)
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # timeout, refused, dropped: no answer
            return Sent(classify(None, type(exc).__name__))
        headers = response.headers or {}
        return Sent(classify(response.status_code), headers.get("x-line-request-id"))

    def multicast(self, to: Sequence[str], messages: Sequence[Mapping[str, Any]], retry_key: uuid.UUID,
                  unit: str | None) -> Sent:
        # The recipients are user ids from our own frozen list and the messages passed LINE's validate
        # endpoint when the send started: the model is built without validating 500 ids again per job
        # (a third of the sender's CPU per job went there).
        request = MulticastRequest.construct(to=list(to), messages=self._models(messages),
                                             custom_aggregation_units=[unit] if unit else None,
                                             notification_disabled=None)
        return self._send(self._clients.messaging.multicast_with_http_info, request, retry_key)

    def _models(self, messages: Sequence[Mapping[str, Any]]) -> list[Message]:
        key = json.dumps(messages, sort_keys=True, ensure_ascii=False)
        with self._lock:
            found = self._parsed.get(key)
            if found is None:
                found = [Message.from_dict(dict(m)) for m in messages]
                self._parsed = {key: found}  # one send at a time: keep the latest only
            return found

    def push(self, to: str, messages: Sequence[Mapping[str, Any]], retry_key: uuid.UUID) -> Sent:
        request = PushMessageRequest(to=to, messages=[Message.from_dict(dict(m)) for m in messages])
        return self._send(self._clients.messaging.push_message_with_http_info, request, retry_key)

    def validate(self, messages: Sequence[Mapping[str, Any]]) -> str | None:
        try:
            self._clients.messaging.validate_multicast(
                ValidateMessageRequest(messages=[Message.from_dict(dict(m)) for m in messages]),
                _request_timeout=self._timeout)
        except ApiException as exc:
            if exc.status == 400:
                return _reason(exc.body) or "LINEがメッセージを受け付けませんでした。"
            raise
        return None

    def statistics(self, unit: str, first_day: str, last_day: str) -> dict[str, Any] | None:
        try:
            answer = self._clients.insight.get_statistics_per_unit(unit, first_day, last_day,
                                                                   _request_timeout=self._timeout)
        except InsightApiException:
            return None
        result: dict[str, Any] = answer.to_dict()
        return result

    def units_left(self) -> int | None:
        try:
            usage = self._clients.messaging.get_aggregation_unit_usage(_request_timeout=self._timeout)
        except ApiException:
            return None
        return max(0, 1000 - int(usage.num_of_custom_aggregation_units))

    def close(self) -> None:
        self._clients.close()
