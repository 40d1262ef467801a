"""What richmenu-service hears from the city and tells it (AsyncAPI: docs/asyncapi.yaml)."""

from __future__ import annotations

import uuid

from cityline_common.amqp.topology import CITY_COMMANDS, CITY_EVENTS
from cityline_common.contracts import Contract, ContractInfo


class SwitchDisasterMode(Contract):
    """災害時モード on or off, from another city system (a disaster alert system, 防災情報システム).
    Switching to the state it is in changes nothing: safe to send twice. ``menu_id`` names the disaster menu
    the first time (later switches reuse the last one)."""

    contract = ContractInfo("richmenu.SwitchDisasterMode", 1, CITY_COMMANDS, "richmenu.disaster-mode.switch")

    on: bool
    requested_by: str  # the system asking, e.g. "bousai-system" (recorded in the 操作ログ)
    menu_id: uuid.UUID | None = None
    reason: str | None = None


class DisasterModeSwitched(Contract):
    """災害時モード went on or off (console, API or broker); every resident's menu follows."""

    contract = ContractInfo("richmenu.DisasterModeSwitched", 1, CITY_EVENTS, "richmenu.disaster-mode.switched")

    on: bool
    menu_id: uuid.UUID | None
    actor: str  # "staff:<id>" or "system:<name>"
    via: str  # console | broker | cli
    change_id: uuid.UUID
    occurred_at_ms: int
    reason: str | None = None


class MenuPublished(Contract):
    """A menu (set of tabs) was created or updated on LINE."""

    contract = ContractInfo("richmenu.MenuPublished", 1, CITY_EVENTS, "richmenu.menu.published")

    menu_id: uuid.UUID
    version: int
    department: str
    actor: str
    occurred_at_ms: int


class MenusSwitched(Contract):
    """A mass change (a period started or ended, rules changed, 災害時モード) finished: residents' menus follow."""

    contract = ContractInfo("richmenu.MenusSwitched", 1, CITY_EVENTS, "richmenu.menus.switched")

    change_id: uuid.UUID
    reason: str
    residents: int
    linked: int
    unlinked: int
    method: str
    occurred_at_ms: int
