"""``admin-ui-audit verify``: walk the 操作ログ hash chain and say whether it is intact.

Exit 0 and ``chain intact (N rows, head seq S, HASH)`` when every entry is where it was written;
exit 1 and one line per finding (changed, deleted, inserted, relinked — with the sequence numbers)
otherwise. Keep the printed heads outside the database (a ticket, a WORM bucket) and pass them back
with ``--anchor SEQ:HASH``: someone able to rewrite the chain and recompute its hashes cannot match them.
"""

from __future__ import annotations

import argparse
import re
import sys

from cityline_common.web import bootstrap_from_environment

from admin_ui.bootstrap import bootstrap
from admin_ui.config import Settings
from admin_ui.domain.audit import ChainHead
from admin_ui.service_layer import audit

_ANCHOR = re.compile(r"^(\d+):([0-9a-f]{64})$")


def anchor(value: str) -> ChainHead:
    match = _ANCHOR.match(value.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError("an anchor is SEQ:HASH (the sequence number and 64 hex digits)")
    return ChainHead(int(match.group(1)), match.group(2))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="admin-ui-audit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="walk the hash chain; exit 1 and name the rows if it is broken")
    verify.add_argument("--anchor", type=anchor, action="append", default=[], metavar="SEQ:HASH",
                        help="a head printed by an earlier run, kept outside the database (repeatable)")
    args = parser.parse_args(argv)
    service = bootstrap_from_environment("admin-ui-audit", Settings, bootstrap)
    try:
        report = service.bus.query(audit.verify(args.anchor))
    finally:
        service.engine.dispose()
    print(report.summary())
    sys.exit(0 if report.intact else 1)
