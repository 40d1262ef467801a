"""``segment-service-taxonomy publish FILE.yaml`` / ``show``: manage the 受信設定 taxonomy."""

from __future__ import annotations

import argparse
import json
import sys

import yaml
from cityline_common.web import bootstrap_from_environment

from segment_service.bootstrap import bootstrap
from segment_service.config import Settings
from segment_service.domain.commands import PublishTaxonomy
from segment_service.domain.taxonomy import InvalidTaxonomy
from segment_service.service_layer import views


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    publish = sub.add_parser("publish", help="validate and publish a taxonomy document")
    publish.add_argument("file")
    sub.add_parser("show", help="print the current taxonomy as JSON")
    args = parser.parse_args(argv)
    service = bootstrap_from_environment("segment-service-taxonomy", Settings, bootstrap)
    if args.action == "show":
        print(json.dumps(service.bus.query(views.current_taxonomy), ensure_ascii=False, indent=2))
        return
    try:
        with open(args.file, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        sys.exit(f"{args.file}: cannot read: {exc}")
    try:
        version, created = service.bus.handle(PublishTaxonomy(document))
    except InvalidTaxonomy as exc:
        sys.exit(f"{args.file}: not published: {exc}")
    print(f"taxonomy version {version} {'published' if created else 'is already current (unchanged)'}")
