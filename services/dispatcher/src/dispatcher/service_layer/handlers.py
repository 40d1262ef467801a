"""Use cases of dispatcher. Each runs inside the bus's unit of work; none commits."""

from __future__ import annotations

from cityline_common.messagebus import Handlers

from dispatcher.domain import commands as c
from dispatcher.service_layer import deliveries, library
from dispatcher.service_layer.deliveries import Ports
from dispatcher.service_layer.unit_of_work import AbstractDispatcherUnitOfWork


def handlers(ports: Ports) -> Handlers[AbstractDispatcherUnitOfWork]:
    return (
        Handlers[AbstractDispatcherUnitOfWork]()
        .command(c.CreateDelivery, deliveries.create(ports))
        .command(c.EditDelivery, deliveries.edit(ports))
        .command(c.ActOnDelivery, deliveries.act(ports))
        .command(c.StartDelivery, deliveries.start(ports))
        .command(c.SettleJob, deliveries.settle(ports))
        .command(c.PauseForErrors, deliveries.pause_for_errors(ports))
        .command(c.SendTest, deliveries.send_test(ports))
        .command(c.HoldDueDelivery, deliveries.hold_due(ports))
        .command(c.RequeueStalledJobs, deliveries.requeue_stalled(ports))
        .command(c.StoreInLibrary, library.store)
        .command(c.RemoveFromLibrary, library.remove)
    )
