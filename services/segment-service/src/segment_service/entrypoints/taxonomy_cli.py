"""``segment-service-taxonomy publish FILE.yaml [--map categories:gomi=kankyo --map districts:kozu=]``,
``preview FILE.yaml [--map …]`` / ``show``: manage the 受信設定 taxonomy.

``--map DIMENSION:OLD=NEW`` merges the key OLD (gone from FILE) into NEW; ``--map DIMENSION:OLD=``
retires it (answers lose it). ``preview`` prints how many residents each change moves, changing nothing.
"""

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
from segment_service.service_layer import taxonomy_changes, views


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="action", required=True)
    publish = sub.add_parser("publish", help="validate and publish a taxonomy document")
    publish.add_argument("file")
    preview = sub.add_parser("preview", help="what publishing would move, changing nothing")
    preview.add_argument("file")
    for each in (publish, preview):
        each.add_argument("--map", action="append", default=[], metavar="DIMENSION:OLD=NEW",
                          help="merge OLD into NEW (NEW empty: retire OLD); repeatable")
    sub.add_parser("show", help="print the current taxonomy as JSON")
    args = parser.parse_args(argv)
    mappings: dict[str, dict[str, str | None]] = {}
    for spec in getattr(args, "map", []):
        dimension, _, rest = spec.partition(":")
        old, equals, new = rest.partition("=")
        if not (dimension and old and equals):
            sys.exit(f"--map {spec}: DIMENSION:OLD=NEW (NEW empty to retire)")
        mappings.setdefault(dimension, {})[old] = new or None
    service = bootstrap_from_environment("segment-service-taxonomy", Settings, bootstrap)
    if args.action == "show":
        print(json.dumps(service.bus.query(views.current_taxonomy), ensure_ascii=False, indent=2))
        return
    try:
        with open(args.file, encoding="utf-8") as handle:
            document = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        sys.exit(f"{args.file}: cannot read: {exc}")
    if args.action == "preview":
        try:
            seen = service.bus.query(taxonomy_changes.preview(document, mappings))
        except InvalidTaxonomy as exc:
            sys.exit(f"{args.file}: {exc}")
        print(json.dumps(seen.as_json(), ensure_ascii=False, indent=2))
        sys.exit(1 if seen.problems else 0)
    try:
        version, created = service.bus.handle(PublishTaxonomy(document, mappings))
    except InvalidTaxonomy as exc:
        sys.exit(f"{args.file}: not published: {exc}")
    print(f"taxonomy version {version} {'published' if created else 'is already current (unchanged)'}")
