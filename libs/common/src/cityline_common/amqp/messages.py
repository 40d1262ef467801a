"""The two shapes a message takes on its way through the broker."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import pika


@dataclass(frozen=True)
class OutboundMessage:
    """A message about to be published. ``message_id`` is what consumers de-duplicate on."""

    exchange: str
    routing_key: str
    body: bytes
    message_id: str
    type: str
    headers: dict[str, Any] = field(default_factory=dict)
    content_type: str = "application/json"
    timestamp: int | None = None

    def properties(self) -> pika.BasicProperties:
        return pika.BasicProperties(
            message_id=self.message_id,
            type=self.type,
            content_type=self.content_type,
            delivery_mode=pika.DeliveryMode.Persistent,
            timestamp=self.timestamp if self.timestamp is not None else int(time.time()),
            headers=self.headers or None,
        )


@dataclass(frozen=True)
class InboundMessage:
    """A delivery as handlers see it: no pika types leak past the consumer base."""

    queue: str
    routing_key: str
    exchange: str
    message_id: str
    type: str
    body: bytes
    headers: dict[str, Any]
    redelivered: bool

    def json(self) -> Any:
        """Decode the body; a body that is not JSON is poison, not a retryable failure."""
        from cityline_common.amqp.consumer import PoisonMessage

        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PoisonMessage(f"body is not valid JSON: {exc}") from None
