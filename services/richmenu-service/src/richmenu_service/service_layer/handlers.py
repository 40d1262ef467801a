"""Use cases of richmenu-service. Each runs inside the bus's unit of work; none commits."""

from __future__ import annotations

from cityline_common.messagebus import Handlers

from richmenu_service.service_layer.unit_of_work import AbstractRichmenuUnitOfWork


def handlers() -> Handlers[AbstractRichmenuUnitOfWork]:
    """None yet: this service's use cases land with its feature issue."""
    return Handlers[AbstractRichmenuUnitOfWork]()
