"""``richmenu-service``: operations from a shell (or a CronJob).

    richmenu-service reconcile           # repair menus, aliases and the default changed on LINE by hand
    richmenu-service apply               # carry out pending mass changes now (what richmenu-worker does)
    richmenu-service disaster on|off [--menu ID] [--reason TEXT]   # 災害時モード, e.g. from a runbook
    richmenu-service seed-demo           # `make up`: a default menu and a disaster menu, drawn from templates

Each prints one JSON object."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from typing import Any

from cityline_common.messagebus import MessageBus
from cityline_common.web import bootstrap_from_environment

from richmenu_service.bootstrap import bootstrap
from richmenu_service.config import Settings
from richmenu_service.domain import commands as c
from richmenu_service.service_layer import views
from richmenu_service.service_layer.ports import RichmenuError
from richmenu_service.service_layer.unit_of_work import AbstractRichmenuUnitOfWork

PROCESS = "richmenu-cli"
DEMO = c.Actor("demo", frozenset({("admin", None)}), system="demo")
CITY = "https://www.city.itami.lg.jp/"


def _demo_menu(bus: MessageBus[AbstractRichmenuUnitOfWork], title: str, alias: str, design: dict[str, Any],
               actions: list[dict[str, Any]]) -> uuid.UUID:
    size = design["size"]
    menu_id = bus.handle(c.CreateMenu(DEMO, title, "demo", [
        {"aliasId": alias, "name": title, "chatBarText": "メニュー", "size": size, "areas": []}]))
    bus.handle(c.DesignTab(DEMO, menu_id, 1, design, actions))
    bus.handle(c.PublishMenu(DEMO, menu_id, None))
    return menu_id


def seed_demo(bus: MessageBus[AbstractRichmenuUnitOfWork]) -> dict[str, Any]:
    """A 3×2 city menu as the default and a 災害時 menu ready for 災害時モード, drawn from the templates."""
    if bus.query(views.menus())["menus"]:
        return {"seeded": False, "reason": "menus exist"}
    labels = [("ごみの日", "trash"), ("防災情報", "alert"), ("子育て", "child"), ("届出・証明", "info"),
              ("施設予約", "calendar"), ("受信設定", "gear")]
    design = {"format": 1, "templateId": "grid-3x2", "size": {"width": 2500, "height": 1686},
              "buttons": [{"label": label, "icon": icon} for label, icon in labels]}
    actions: list[dict[str, Any]] = [{"type": "uri", "uri": CITY, "label": label} for label, _icon in labels[:5]]
    actions.append({"type": "message", "text": "受信設定", "label": "受信設定"})
    main = _demo_menu(bus, "伊丹市公式メニュー", "itami-main", design, actions)
    bousai = [("避難所", "map"), ("災害情報", "alert"), ("安否確認", "phone")]
    disaster = _demo_menu(bus, "災害時メニュー", "itami-bousai", {
        "format": 1, "templateId": "grid-3x1", "size": {"width": 2500, "height": 843},
        "buttons": [{"label": label, "icon": icon} for label, icon in bousai],
        "colours": {"background": "#FFFFFF", "button": "#FDECEA", "text": "#1A1A1A", "accent": "#B3261E"}},
        [{"type": "uri", "uri": CITY, "label": label} for label, _icon in bousai])
    bus.handle(c.SaveRule(DEMO, None, {"kind": "default", "menuId": str(main)}))
    return {"seeded": True, "menus": [str(main), str(disaster)]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="richmenu-service", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("reconcile", help="repair what was changed on LINE behind our back")
    commands.add_parser("apply", help="carry out pending mass changes now")
    disaster = commands.add_parser("disaster", help="switch 災害時モード on or off")
    disaster.add_argument("state", choices=("on", "off"))
    disaster.add_argument("--menu", type=uuid.UUID, default=None, help="the disaster menu (the first time)")
    disaster.add_argument("--reason", default=None)
    disaster.add_argument("--operator", default="cli", help="who runs it (recorded)")
    commands.add_parser("seed-demo", help="demo menus for `make up` (nothing when menus exist)")
    args = parser.parse_args(argv)
    service = bootstrap_from_environment(PROCESS, Settings, bootstrap)
    try:
        if args.command == "reconcile":
            result: object = service.bus.handle(c.Reconcile())
        elif args.command == "seed-demo":
            result = seed_demo(service.bus)
        elif args.command == "apply":
            changes = []
            while (change := service.bus.handle(c.ApplyRules("cli"))) is not None:
                changes.append(str(change))
            result = {"changes": changes}
        else:
            actor = c.Actor(args.operator, system=f"cli:{args.operator}")
            changed = service.bus.handle(c.SwitchDisasterMode(actor, args.state == "on", "cli", args.menu,
                                                              args.reason))
            result = {"on": args.state == "on", "changed": changed}
    except RichmenuError as exc:
        print(json.dumps({"error": exc.code, "reason": exc.reason}, ensure_ascii=False), file=sys.stderr)
        return 1
    print(json.dumps(result, ensure_ascii=False))
    return 0
