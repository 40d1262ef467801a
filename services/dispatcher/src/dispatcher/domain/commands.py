"""What dispatcher is asked to do about deliveries. Imperative.

Commands carry the acting staff member as an :class:`~dispatcher.domain.lifecycle.Actor` (built by the
service layer from token claims) but no time: the handler reads its clock and passes the moment to the
domain. Commands the platform itself issues (a schedule falling due, the error budget running out) have
``actor=None``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cityline_common.messagebus import Command

from dispatcher.domain.lifecycle import Actor


@dataclass(frozen=True)
class CreateDelivery(Command[None]):
    delivery_id: uuid.UUID
    actor: Actor
    department: str
    title: str
    category_key: str
    messages: tuple[Mapping[str, Any], ...] = ()
    target: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EditDelivery(Command[None]):
    """Only the fields given change; after 承認依頼 an edit sends the delivery back to 承認待ち."""

    delivery_id: uuid.UUID
    actor: Actor
    title: str | None = None
    category_key: str | None = None
    messages: tuple[Mapping[str, Any], ...] | None = None
    target: Mapping[str, Any] | None = None
    send_at: datetime | None = None


@dataclass(frozen=True)
class SubmitDelivery(Command[None]):
    delivery_id: uuid.UUID
    actor: Actor
    comment: str = ""


@dataclass(frozen=True)
class ApproveDelivery(Command[None]):
    delivery_id: uuid.UUID
    actor: Actor
    comment: str = ""


@dataclass(frozen=True)
class RejectDelivery(Command[None]):
    delivery_id: uuid.UUID
    actor: Actor
    comment: str


@dataclass(frozen=True)
class ScheduleDelivery(Command[None]):
    delivery_id: uuid.UUID
    actor: Actor
    send_at: datetime


@dataclass(frozen=True)
class ConfirmDelivery(Command[None]):
    """送信前確認 of the final recipient count (the second confirmation above the threshold)."""

    delivery_id: uuid.UUID
    actor: Actor
    recipients: int


@dataclass(frozen=True)
class StartDelivery(Command[None]):
    delivery_id: uuid.UUID
    actor: Actor | None  # None: the scheduler, for a due 予約配信


@dataclass(frozen=True)
class PauseDelivery(Command[None]):
    delivery_id: uuid.UUID
    actor: Actor | None  # None: the system (too many errors), which must give a reason
    reason: str = ""


@dataclass(frozen=True)
class ResumeDelivery(Command[None]):
    delivery_id: uuid.UUID
    actor: Actor
    comment: str = ""


@dataclass(frozen=True)
class CancelDelivery(Command[None]):
    delivery_id: uuid.UUID
    actor: Actor
    comment: str = ""


@dataclass(frozen=True)
class SendTestDelivery(Command[None]):
    """テスト配信: push the content to staff phones. Not a delivery and not in the lifecycle; it sends
    only to the staff's registered test recipients (opaque ids), whatever the delivery's status."""

    delivery_id: uuid.UUID
    actor: Actor
    test_recipient_ids: tuple[str, ...]
