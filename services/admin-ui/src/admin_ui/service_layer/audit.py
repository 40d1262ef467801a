"""操作ログ use cases on the read side: search (the screen), export (CSV) and verify (the CLI).

Recording is not here: every use case that changes data records its own entry through
``uow.audit.record(...)``, in its own transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from admin_ui.domain.audit import AuditFilter, AuditPage, ChainHead, ChainReport, csv_chunks, verify_chain
from admin_ui.service_layer.unit_of_work import AbstractAdminUnitOfWork

EXPORT_ACTION = "audit.export"


def search(where: AuditFilter, limit: int, offset: int) -> Callable[[AbstractAdminUnitOfWork], AuditPage]:
    """A view for ``bus.query``: one page of entries, newest first."""

    def view(uow: AbstractAdminUnitOfWork) -> AuditPage:
        return uow.audit.filtered(where, limit, offset)

    return view


def verify(anchors: Iterable[ChainHead] = ()) -> Callable[[AbstractAdminUnitOfWork], ChainReport]:
    """A view for ``bus.query``: walk the whole chain from one snapshot."""

    def view(uow: AbstractAdminUnitOfWork) -> ChainReport:
        head, entries = uow.audit.read_chain()
        return verify_chain(entries, head, anchors)

    return view


def export_csv(
    uow: AbstractAdminUnitOfWork,
    where: AuditFilter,
    *,
    actor: str | None,
    actor_login: str | None,
    source: str | None,
) -> Iterator[str]:
    """The export as CSV text chunks, read in ``uow``, which the caller holds open while streaming.

    The export is itself recorded (``audit.export``, with its conditions) and committed before this
    returns, so before anything is sent: a failure to record means no export, and no export goes
    unrecorded. The entries are then read in a new transaction of the same unit of work.
    """
    uow.audit.record(
        actor=actor, actor_login=actor_login, action=EXPORT_ACTION, department=where.department, source=source,
        after={"conditions": where.as_dict()},
    )
    uow.commit()
    return csv_chunks(uow.audit.export(where))
