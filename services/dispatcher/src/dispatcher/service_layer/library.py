"""The test group, templates and images: stored and removed in a unit of work like every other change
(the entrypoint has already checked who may)."""

from __future__ import annotations

from dispatcher.adapters.repository import Asset, MessageTemplate, TestRecipient
from dispatcher.domain import commands as c
from dispatcher.service_layer.unit_of_work import AbstractDispatcherUnitOfWork


def store(command: c.StoreInLibrary, uow: AbstractDispatcherUnitOfWork) -> None:
    item = command.item
    if isinstance(item, TestRecipient):
        uow.library.add_test_recipient(item)
    elif isinstance(item, MessageTemplate):
        uow.library.add_template(item)
    elif isinstance(item, Asset):
        uow.library.add_asset(item, command.created_by)
    else:
        raise TypeError(f"not a library item: {type(item).__name__}")


def remove(command: c.RemoveFromLibrary, uow: AbstractDispatcherUnitOfWork) -> bool:
    if command.kind == "test_recipient":
        return uow.library.remove_test_recipient(command.item_id)
    if command.kind == "template":
        return uow.library.remove_template(command.item_id)
    raise ValueError(f"not a library kind: {command.kind}")
