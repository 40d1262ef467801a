"""Taking over the live account: register every current friend from LINE's follower ids, then fetch
their profiles. Both are resumable: a killed run goes on where it stopped, and a rerun adds nobody twice.

Followers: one transaction per page registers the page's new residents *and* records the page's
``next`` token in the run's progress row, so after a kill the run resumes after the last committed
page; the page being fetched when it died is fetched again and its residents, found by their blind
index, are not added again. LINE is called between transactions, never inside one.

Profiles: residents still following whose profile was never fetched, in id order, a batch at a time;
each batch's names (sealed to their rows) and languages are written in one short transaction, and the
``profile_fetched_at`` mark is what a rerun skips.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from segment_service.adapters.follower_imports import ImportProgress
from segment_service.adapters.line_api import AbstractLine, PageTokenRefused
from segment_service.adapters.profiles import AbstractProfileStore
from segment_service.service_layer.unit_of_work import AbstractSegmentUnitOfWork

MAX_PAGE_SIZE = 1000  # LINE's maximum for GET /v2/bot/followers/ids


def new_run_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def import_followers(
    uow_factory: Callable[[], AbstractSegmentUnitOfWork],
    line: AbstractLine,
    *,
    page_size: int = MAX_PAGE_SIZE,
    run_id: str | None = None,
    report: Callable[[ImportProgress, int], None] | None = None,
) -> ImportProgress:
    """Import until LINE's last page; resume the named run, else the latest unfinished one, else start
    a new run. Answers the run's progress (``finished``). ``report`` hears of each page committed
    (the run's progress, and how many ids that page held)."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page_size must be from 1 to {MAX_PAGE_SIZE}")
    with uow_factory() as uow:
        progress = uow.follower_imports.get(run_id) if run_id else uow.follower_imports.unfinished()
        if progress is None:
            progress = ImportProgress(run_id=run_id or new_run_id(), next_page_token=None)
            uow.follower_imports.save(progress)
            uow.commit()
    while not progress.finished:
        try:
            ids, next_token = line.follower_ids(progress.next_page_token, page_size)
        except PageTokenRefused:
            # LINE forgot where we were: start the listing over; the residents already registered
            # are found again, not added again.
            ids, next_token = line.follower_ids(None, page_size)
        with uow_factory() as uow:
            stored = uow.follower_imports.get(progress.run_id)  # locked: runs of one import take turns
            if stored is not None and stored != progress:
                progress = stored  # another process moved this run on meanwhile: continue from there
                continue
            added = uow.residents.register_imported(ids)
            progress = replace(progress, next_page_token=next_token, pages_done=progress.pages_done + 1,
                               ids_seen=progress.ids_seen + len(ids),
                               residents_added=progress.residents_added + added, finished=next_token is None)
            uow.follower_imports.save(progress)
            uow.commit()
        if report is not None:
            report(progress, len(ids))
    return progress


@dataclass
class ProfileProgress:
    checked: int = 0
    stored: int = 0
    missing: int = 0  # LINE has no profile for us (blocked since, or no consent)


def fetch_profiles(
    store: AbstractProfileStore,
    line: AbstractLine,
    *,
    batch_size: int = 100,
    report: Callable[[ProfileProgress], None] | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ProfileProgress:
    progress = ProfileProgress()
    after: uuid.UUID | None = None
    while True:
        pending = store.pending(after, batch_size)  # its own short transaction
        if not pending:
            return progress
        found = []
        for resident_id, line_user_id in pending:  # no transaction open while LINE is asked
            profile = line.profile(line_user_id)
            found.append((resident_id, profile))
            progress.checked += 1
            if profile is None:
                progress.missing += 1
            else:
                progress.stored += 1
        store.save(found, clock())
        after = pending[-1][0]
        if report is not None:
            report(progress)

