"""``richmenu-service reconcile``: make LINE hold what we published again, after someone changed it by hand in
LINE Official Account Manager or through the API (a menu deleted or edited, an alias moved, the default changed).

For each tab of each published menu: its rich menu must exist on LINE and match the request we sent; if not,
it is created again from the request and image we kept, and its alias pointed at it. Aliases and the default
are put back. Residents who were linked to a menu that went are linked again by the mass change this asks
for (a deleted menu drops its links on LINE). Per-user links cannot be listed on LINE, so links changed by hand
for single residents are repaired only when their menu changes next."""

from __future__ import annotations

import logging
from typing import Any

from richmenu_service.adapters.repository import LineMenu
from richmenu_service.domain import commands as c
from richmenu_service.service_layer.display import request_change
from richmenu_service.service_layer.ports import Ports
from richmenu_service.service_layer.unit_of_work import AbstractRichmenuUnitOfWork

log = logging.getLogger(__name__)


def _comparable(body: Any) -> Any:
    """LINE's answer and our request, without what LINE fills in or leaves out (nulls, ids)."""
    if isinstance(body, dict):
        return {key: _comparable(value) for key, value in body.items()
                if value is not None and key not in ("richMenuId",)}
    if isinstance(body, list):
        return [_comparable(item) for item in body]
    return body


def reconcile(command: c.Reconcile, uow: AbstractRichmenuUnitOfWork, ports: Ports) -> dict[str, Any]:
    report: dict[str, Any] = {"checked": 0, "recreated": [], "aliasesRepaired": [], "defaultRepaired": False}
    kept = {line_menu.rich_menu_id: line_menu for line_menu in uow.menus.line_menus()}
    for publication in uow.menus.publications():
        changed = False
        for tab in publication.tabs:
            report["checked"] += 1
            ours = kept.get(tab["richMenuId"])
            if ours is None:
                log.warning("a published tab has no record of what was sent", extra={"richMenuId": tab["richMenuId"]})
                continue
            found = ports.line.get_menu(ours.rich_menu_id)
            if found is None or _comparable(found) != _comparable(ours.request):
                fresh = ports.line.create_menu(ours.request)
                ports.line.upload_image(fresh, ours.image.data, ours.image.content_type)
                uow.menus.record_line_menu(LineMenu(fresh, ours.menu_id, ours.version, ours.alias_id, ours.request,
                                                    ours.image))
                if found is not None:  # edited by hand: ours is gone in substance
                    ports.line.delete_menu(ours.rich_menu_id)
                uow.menus.forget_line_menu(ours.rich_menu_id)
                report["recreated"].append({"menuId": str(ours.menu_id), "aliasId": ours.alias_id,
                                            "was": ours.rich_menu_id, "now": fresh,
                                            "why": "deleted" if found is None else "changed"})
                tab["richMenuId"] = fresh
                changed = True
            if ports.line.get_alias(tab["aliasId"]) != tab["richMenuId"]:
                ports.line.set_alias(tab["aliasId"], tab["richMenuId"])
                report["aliasesRepaired"].append(tab["aliasId"])
        if changed:
            uow.menus.save_publication(publication)
    state = uow.changes.state()
    if report["recreated"]:
        # Residents linked to a menu that went must be linked again: the worker's mass change does it (the
        # live menus changed, so it finds them), and sets the default to the new id.
        report["changeId"] = str(request_change(uow, "reconcile", "reconcile"))
    elif state.applied_at is not None and ports.line.get_default() != state.default_rich_menu_id:
        ports.line.set_default(state.default_rich_menu_id)
        report["defaultRepaired"] = True
    return report
