"""What happened to deliveries. Past tense; the aggregate raises them (``Delivery.events``) and they leave
the service through the outbox. Residents never appear here: a delivery concerns a segment, not a person."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from cityline_common.unit_of_work import Event


@dataclass(frozen=True)
class DeliveryEvent(Event):
    delivery_id: uuid.UUID
    actor_id: str  # a staff id, or "system"
    at: datetime


@dataclass(frozen=True)
class DeliveryDrafted(DeliveryEvent):
    department: str
    category_key: str


@dataclass(frozen=True)
class DeliveryEdited(DeliveryEvent):
    version: int
    back_to_approval: bool  # it had been submitted: approvals were cleared


@dataclass(frozen=True)
class DeliverySubmitted(DeliveryEvent):
    version: int


@dataclass(frozen=True)
class DeliveryApproved(DeliveryEvent):
    version: int


@dataclass(frozen=True)
class DeliveryRejected(DeliveryEvent):
    comment: str


@dataclass(frozen=True)
class DeliveryScheduled(DeliveryEvent):
    send_at: datetime


@dataclass(frozen=True)
class DeliveryConfirmed(DeliveryEvent):
    recipients: int


@dataclass(frozen=True)
class DeliveryStarted(DeliveryEvent):
    recipients: int


@dataclass(frozen=True)
class DeliveryPaused(DeliveryEvent):
    reason: str  # plain Japanese; required when the system paused it


@dataclass(frozen=True)
class DeliveryResumed(DeliveryEvent):
    pass


@dataclass(frozen=True)
class DeliveryCancelled(DeliveryEvent):
    comment: str


@dataclass(frozen=True)
class DeliveryFinished(DeliveryEvent):
    status: str  # "sent" (配信完了) or "partly_failed" (一部失敗)
    failed_recipients: int
