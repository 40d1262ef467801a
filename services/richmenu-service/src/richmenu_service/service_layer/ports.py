"""What the handlers reach outside the database, and the errors they answer with."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from richmenu_service.adapters.line import AbstractLine
from richmenu_service.adapters.segments import AbstractSegments
from richmenu_service.domain.menus import Problem


@dataclass
class Ports:
    line: AbstractLine
    segments: AbstractSegments
    clock: Callable[[], datetime]
    batch_wait_seconds: float = 60.0  # how long a mass change waits for LINE's batch control to finish
    line_concurrency: int = 8  # bulk link / unlink requests in flight in a mass change


class RichmenuError(Exception):
    """A refusal for staff: ``reason`` is a Japanese sentence, ``code`` for machines, ``status`` the HTTP one."""

    status = 409

    def __init__(self, reason: str, code: str, problems: Sequence[Problem | str] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.problems = list(problems)


class Invalid(RichmenuError):
    status = 400


class Forbidden(RichmenuError):
    status = 403


class NotFound(RichmenuError):
    status = 404


class Conflict(RichmenuError):
    status = 409


@dataclass
class Outcome:
    """What a mass change did (for the change row and the event)."""

    residents: int = 0
    linked: int = 0
    unlinked: int = 0
    method: str = "none"
    default_changed: bool = False
    notes: list[str] = field(default_factory=list)
