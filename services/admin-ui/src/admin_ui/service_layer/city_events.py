"""操作ログ entries for what other systems did on their own (not through the console): 災害時モード switched by
a city system through the broker, or by an operator with ``richmenu-service disaster``. What staff do in the
console is recorded by the console's own use cases, with the staff member; those events are skipped here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from cityline_common.messagebus import Command, Handlers

from admin_ui.service_layer.unit_of_work import AbstractAdminUnitOfWork


@dataclass(frozen=True)
class RecordDisasterSwitch(Command[bool]):
    """Returns whether an entry was made (console switches are already recorded)."""

    on: bool
    actor: str  # "system:<name>" or "staff:<id>"
    via: str  # console | broker | cli
    menu_id: uuid.UUID | None
    change_id: uuid.UUID
    reason: str | None = None


def record_disaster_switch(command: RecordDisasterSwitch, uow: AbstractAdminUnitOfWork) -> bool:
    if command.via == "console":
        return False
    uow.audit.record(actor=command.actor, action="richmenu.disaster_on" if command.on else "richmenu.disaster_off",
                     target="disaster", source=command.via,
                     after={"on": command.on, "menuId": str(command.menu_id) if command.menu_id else None,
                            "changeId": str(command.change_id), "reason": command.reason, "via": command.via})
    return True


def handlers() -> Handlers[AbstractAdminUnitOfWork]:
    return Handlers[AbstractAdminUnitOfWork]().command(RecordDisasterSwitch, record_disaster_switch)
