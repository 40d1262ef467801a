"""What dispatcher is asked to do. Imperative.

Commands carry the acting staff member as an :class:`~dispatcher.domain.lifecycle.Actor` (built by the
entrypoint from the token's claims) but no time: handlers read their clock. What the platform itself
does (a schedule falling due, a job settled, the error budget running out) has ``actor=None``."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cityline_common.messagebus import Command

from dispatcher.domain.lifecycle import Actor


@dataclass(frozen=True)
class CreateDelivery(Command[uuid.UUID]):
    actor: Actor
    department: str
    title: str
    category_key: str
    messages: tuple[Mapping[str, Any], ...]
    target: Mapping[str, Any]
    rule: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class EditDelivery(Command[None]):
    """Only the fields in ``changes`` change (title, category, messages, target, schedule); ``version`` is
    the one the editor opened: a delivery changed since is refused (stale_version)."""

    delivery_id: uuid.UUID
    actor: Actor
    version: int | None
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class ActOnDelivery(Command[None]):
    """submit | approve | reject | schedule | confirm | pause | resume | cancel."""

    delivery_id: uuid.UUID
    actor: Actor
    action: str
    version: int | None = None
    comment: str = ""
    send_at: datetime | None = None


@dataclass(frozen=True)
class StartDelivery(Command[uuid.UUID]):
    """送信 (staff) or a due schedule (``actor`` None): freeze the recipients, cut the jobs, queue them.
    Answers the send's id."""

    delivery_id: uuid.UUID
    actor: Actor | None
    version: int | None = None


@dataclass(frozen=True)
class SettleJob(Command[None]):
    """The sender finished a job: ``status`` sent or failed (with LINE's reason)."""

    send_id: uuid.UUID
    number: int
    status: str
    attempts: int
    request_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class PauseForErrors(Command[None]):
    """The sender's error budget ran out: the delivery pauses itself and says why."""

    send_id: uuid.UUID
    reason: str


@dataclass(frozen=True)
class SendTest(Command[int]):
    """テスト配信 to staff phones of the test group: pushes, never counted as a delivery."""

    delivery_id: uuid.UUID
    actor: Actor
    test_recipient_ids: tuple[uuid.UUID, ...]


@dataclass(frozen=True)
class HoldDueDelivery(Command[None]):
    """A due 予約配信 could not start (``code``, ``reason``): it stays 予約済み, due again later — at the next
    opening of the sending hours when that was the reason, else in 15 minutes — and staff see why."""

    delivery_id: uuid.UUID
    reason: str
    code: str


@dataclass(frozen=True)
class RequeueStalledJobs(Command[int]):
    """Queue again the pending jobs of sends that made no progress for ``stalled_seconds`` (a job message
    dead-lettered after too many redeliveries, a broker that lost a queue): the job rows are the truth,
    and a job sent twice is refused by LINE through its retry key. Answers how many were queued."""

    stalled_seconds: float = 120.0


# --- the test group, templates, images (plain storage: the entrypoint checks who may) -------------------------


@dataclass(frozen=True)
class StoreInLibrary(Command[None]):
    """Store a test phone, a template or an image (adapters/repository.py's records)."""

    item: Any
    created_by: str = ""


@dataclass(frozen=True)
class RemoveFromLibrary(Command[bool]):
    """Remove a test phone (``kind`` test_recipient) or a template (``template``); False when it was not there."""

    kind: str
    item_id: uuid.UUID
