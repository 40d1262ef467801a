"""What ingress-webhook is asked to do, and what it answers. Plain Python."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cityline_common.messagebus import Command


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"  # every event of the request was taken before
    SPOOLED = "spooled"  # accepted, some events wait in the spool for the broker
    TOO_OLD = "too_old"  # every event was older than the de-duplication window: refused as replays
    SIGNATURE_MISSING = "signature_missing"
    SIGNATURE_INVALID = "signature_invalid"
    INVALID = "invalid"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    events: int = 0
    duplicates: int = 0
    spooled: int = 0
    too_old: int = 0
    reason: str = ""


@dataclass(frozen=True)
class AcceptWebhook(Command[Result]):
    """LINE posted a webhook request: its raw body and every X-Line-Signature header it carried."""

    body: bytes
    signatures: tuple[str, ...]
