"""``richmenu-service``: operations from a shell (or a CronJob).

    richmenu-service reconcile           # repair menus, aliases and the default changed on LINE by hand
    richmenu-service apply               # carry out pending mass changes now (what richmenu-worker does)
    richmenu-service disaster on|off [--menu ID] [--reason TEXT]   # 災害時モード, e.g. from a runbook

Each prints one JSON object."""

from __future__ import annotations

import argparse
import json
import sys
import uuid

from cityline_common.web import bootstrap_from_environment

from richmenu_service.bootstrap import bootstrap
from richmenu_service.config import Settings
from richmenu_service.domain import commands as c
from richmenu_service.service_layer.ports import RichmenuError

PROCESS = "richmenu-cli"


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
    args = parser.parse_args(argv)
    service = bootstrap_from_environment(PROCESS, Settings, bootstrap)
    try:
        if args.command == "reconcile":
            result: object = service.bus.handle(c.Reconcile())
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
