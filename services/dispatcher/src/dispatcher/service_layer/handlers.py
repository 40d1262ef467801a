"""Use cases of dispatcher. Each runs inside the bus's unit of work; none commits."""

from __future__ import annotations

from cityline_common.messagebus import Handlers

from dispatcher.service_layer.unit_of_work import AbstractDispatcherUnitOfWork


def handlers() -> Handlers[AbstractDispatcherUnitOfWork]:
    """None yet: this service's use cases land with its feature issue."""
    return Handlers[AbstractDispatcherUnitOfWork]()
