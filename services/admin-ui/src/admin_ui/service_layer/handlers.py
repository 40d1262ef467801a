"""Use cases of the staff console. Each runs inside the bus's unit of work; none commits."""

from __future__ import annotations

from collections.abc import Callable

from cityline_common.messagebus import Handlers

from admin_ui.adapters.internal_api import AbstractInternalApi
from admin_ui.domain.commands import ShowSystemStatus
from admin_ui.domain.status import StatusTarget, SystemStatus
from admin_ui.service_layer.unit_of_work import AbstractAdminUnitOfWork


def show_system_status(
    internal: AbstractInternalApi, targets: list[StatusTarget]
) -> Callable[[ShowSystemStatus, AbstractAdminUnitOfWork], SystemStatus]:
    def handler(command: ShowSystemStatus, uow: AbstractAdminUnitOfWork) -> SystemStatus:
        return SystemStatus(services=internal.readiness(targets), residents=internal.resident_counts())

    return handler


def handlers(internal: AbstractInternalApi, targets: list[StatusTarget]) -> Handlers[AbstractAdminUnitOfWork]:
    return Handlers[AbstractAdminUnitOfWork]().command(ShowSystemStatus, show_system_status(internal, targets))
