"""受信設定: changing a resident's answers, and the reads the chat and the LIFF page build on.

**The interface for the chat flow and the LIFF API** (stable; both go through the bus):

* ``bus.handle(ChangePreferences(resident_id, answers, source))`` or
  ``bus.handle(ChangePreferencesOfLineUser(line_user_id, answers, source))`` → :class:`PreferencesSaved`.
  One unit of work: validates ``answers`` against the current taxonomy (``InvalidAnswers`` lists every
  unknown key; nothing is stored), stores them (always-delivered categories added), appends the
  change to ``preference_changes`` (time, source, before/after as keys) and emits
  ``segment.PreferencesChanged.v1`` (resident id, the new keys, source) through the outbox. The same
  answers again change nothing (``changed=False``, no history row, no event). Raises
  ``UnknownResident`` (no such resident / LINE user) and ``NoTaxonomy`` (nothing published yet).
* ``bus.query(preferences_of_line_user(line_user_id))`` → ``Answers | None`` (None: never answered,
  or unknown LINE user); ``bus.query(preferences_of(resident_id))`` likewise.
* ``bus.query(current_taxonomy)`` → :class:`CurrentTaxonomy` ``| None`` (version + parsed
  ``Taxonomy``: the choices and labels to offer).
* ``bus.query(preference_history(resident_id))`` → the changes, oldest first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from cityline_common.messagebus import Handlers

from segment_service import contracts
from segment_service.adapters.answers_repository import PreferenceChange
from segment_service.domain.commands import ChangePreferences, ChangePreferencesOfLineUser, PreferencesSaved
from segment_service.domain.preferences import Answers, ChangeSource, validate_answers
from segment_service.domain.taxonomy import Taxonomy, parse_taxonomy
from segment_service.service_layer.unit_of_work import AbstractSegmentUnitOfWork

Clock = Callable[[], datetime]


class UnknownResident(LookupError):
    """No resident with this id (or LINE user id): they never followed, nor were imported."""


class NoTaxonomy(LookupError):
    """No 受信設定 taxonomy has been published yet."""


@dataclass(frozen=True)
class CurrentTaxonomy:
    version: int
    taxonomy: Taxonomy


def current_taxonomy(uow: AbstractSegmentUnitOfWork) -> CurrentTaxonomy | None:
    latest = uow.taxonomies.latest()
    if latest is None:
        return None
    return CurrentTaxonomy(latest.version, parse_taxonomy(latest.document))


def preferences_of(resident_id: uuid.UUID) -> Callable[[AbstractSegmentUnitOfWork], Answers | None]:
    def view(uow: AbstractSegmentUnitOfWork) -> Answers | None:
        found = uow.answers.lock(resident_id)
        return found.answers if found is not None else None

    return view


def preferences_of_line_user(line_user_id: str) -> Callable[[AbstractSegmentUnitOfWork], Answers | None]:
    def view(uow: AbstractSegmentUnitOfWork) -> Answers | None:
        resident = uow.residents.get_by_line_user_id(line_user_id)
        return preferences_of(resident.id)(uow) if resident is not None else None

    return view


def preference_history(resident_id: uuid.UUID) -> Callable[[AbstractSegmentUnitOfWork], list[PreferenceChange]]:
    def view(uow: AbstractSegmentUnitOfWork) -> list[PreferenceChange]:
        return uow.answers.history(resident_id)

    return view


def _change(uow: AbstractSegmentUnitOfWork, resident_id: uuid.UUID, answers: Answers, source: ChangeSource,
            *, now: datetime, today: date) -> PreferencesSaved:
    current = current_taxonomy(uow)
    if current is None:
        raise NoTaxonomy("no 受信設定 taxonomy has been published yet")
    valid = validate_answers(answers, current.taxonomy, today)
    found = uow.answers.lock(resident_id)
    if found is None:
        raise UnknownResident("no such resident")
    if found.answers == valid:
        return PreferencesSaved(resident_id, False, False, valid, current.version)
    uow.answers.store(resident_id, valid, current.version, now)
    uow.answers.record_change(PreferenceChange(resident_id, now, source, current.version, found.answers, valid))
    uow.emit(contracts.PreferencesChanged(
        resident_id=resident_id, occurred_at_ms=int(now.timestamp() * 1000), source=source.value,
        first_answer=found.answers is None, taxonomy_version=current.version,
        categories=tuple(sorted(valid.categories)), district=valid.district, age_band=valid.age_band,
        language=valid.language, children=tuple(str(child) for child in valid.children),
    ))
    return PreferencesSaved(resident_id, True, found.answers is None, valid, current.version)


def register(registry: Handlers[AbstractSegmentUnitOfWork], timezone: ZoneInfo,
             clock: Clock | None = None) -> Handlers[AbstractSegmentUnitOfWork]:
    """Adds the 受信設定 commands to ``registry``. ``clock``: UTC now (tests pass their own)."""
    now_of: Clock = clock or (lambda: datetime.now(UTC))

    def change(command: ChangePreferences, uow: AbstractSegmentUnitOfWork) -> PreferencesSaved:
        now = now_of()
        return _change(uow, command.resident_id, command.answers, command.source, now=now,
                       today=now.astimezone(timezone).date())

    def change_of_line_user(command: ChangePreferencesOfLineUser, uow: AbstractSegmentUnitOfWork) -> PreferencesSaved:
        resident = uow.residents.get_by_line_user_id(command.line_user_id)
        if resident is None:
            raise UnknownResident("no resident with this LINE user id")
        now = now_of()
        return _change(uow, resident.id, command.answers, command.source, now=now,
                       today=now.astimezone(timezone).date())

    return registry.command(ChangePreferences, change).command(ChangePreferencesOfLineUser, change_of_line_user)
