"""Publishing a taxonomy that adds, renames, merges or retires items, with the answers following.

* add: a new key gets the next code of its dimension;
* rename: change the label, keep the key (nothing moves);
* merge: drop key ``a`` and map it to key ``b`` (``mappings={"categories": {"a": "b"}}``): every answer
  holding ``a`` holds ``b`` instead; ``a``'s code is retired, never reused;
* retire: drop the key and map it to ``None``: the answers lose it (a resident who had chosen only
  that district has no district).

A key that disappears without a mapping is refused while any resident's answers hold it (so no
answer is lost by accident); unmapped keys nobody chose simply retire. A category that becomes
always delivered is added to every answer. :func:`preview` says beforehand how many residents each
change moves, with the problems publishing would report.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from segment_service import contracts
from segment_service.domain import commands, events
from segment_service.domain.codes import CODED_DIMENSIONS, CodesExhausted
from segment_service.domain.taxonomy import InvalidTaxonomy, Taxonomy, parse_taxonomy
from segment_service.service_layer.preferences import current_taxonomy
from segment_service.service_layer.unit_of_work import AbstractSegmentUnitOfWork

Mappings = Mapping[str, Mapping[str, str | None]]


@dataclass(frozen=True)
class KeyChange:
    dimension: str
    key: str
    to: str | None  # merged into this key; None: retired (or, for ``always``, the key itself)
    residents: int  # whose answers move
    kind: str  # merge | retire | always_delivered

    def as_json(self) -> dict[str, Any]:
        return {"dimension": self.dimension, "key": self.key, "to": self.to, "residents": self.residents,
                "kind": self.kind}


@dataclass(frozen=True)
class TaxonomyPreview:
    changes: tuple[KeyChange, ...]
    added: tuple[tuple[str, str], ...]  # (dimension, key)
    problems: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"changes": [change.as_json() for change in self.changes],
                "added": [{"dimension": d, "key": k} for d, k in self.added], "problems": list(self.problems)}


def plan(uow: AbstractSegmentUnitOfWork, taxonomy: Taxonomy, mappings: Mappings) -> TaxonomyPreview:
    current = current_taxonomy(uow)
    previous = current.taxonomy if current is not None else None
    codes = uow.answers.codes()
    problems: list[str] = []
    changes: list[KeyChange] = []
    added: list[tuple[str, str]] = []
    unknown_dimensions = sorted(set(mappings) - set(CODED_DIMENSIONS))
    if unknown_dimensions:
        problems.append(f"mappings: unknown dimensions {', '.join(unknown_dimensions)}")
    for dimension in CODED_DIMENSIONS:
        new_keys = set(taxonomy.keys(dimension))
        old_keys = previous.keys(dimension) if previous is not None else ()
        mapping = dict(mappings.get(dimension, {}))
        added.extend((dimension, key) for key in taxonomy.keys(dimension) if key not in old_keys)
        problems.extend(_mapping_problems(dimension, mapping, old_keys, new_keys))
        for key in old_keys:
            if key in new_keys:
                continue
            moved = uow.answers.count_answering(dimension, key)
            if key in mapping:
                target = mapping[key]
                changes.append(KeyChange(dimension, key, target, moved, "merge" if target else "retire"))
            elif moved:
                problems.append(f"{dimension}: {key!r} is gone but {moved} residents chose it: map it to another "
                                "key (merge) or to null (retire)")
            else:
                changes.append(KeyChange(dimension, key, None, 0, "retire"))
    before = previous.always_delivered() if previous is not None else frozenset()
    for key in sorted(taxonomy.always_delivered() - before):
        lacking = uow.answers.count_answered() - uow.answers.count_answering("categories", key)
        changes.append(KeyChange("categories", key, None, lacking, "always_delivered"))
    try:
        codes.missing({d: taxonomy.keys(d) for d in CODED_DIMENSIONS})
    except CodesExhausted as exc:
        problems.append(str(exc))
    return TaxonomyPreview(tuple(changes), tuple(added), tuple(problems))


def _mapping_problems(dimension: str, mapping: Mapping[str, str | None], old_keys: tuple[str, ...],
                      new_keys: set[str]) -> list[str]:
    problems = []
    for key, target in mapping.items():
        if key in new_keys:
            problems.append(f"mappings.{dimension}.{key}: the key is still in the taxonomy; only a key that "
                            "goes can be merged or retired")
        elif key not in old_keys:
            problems.append(f"mappings.{dimension}.{key}: not a key of the current taxonomy")
        if target is not None and target not in new_keys:
            problems.append(f"mappings.{dimension}.{key}: {target!r} is not a key of the new taxonomy")
    return problems


def preview(document: dict[str, Any], mappings: Mappings) -> Callable[[AbstractSegmentUnitOfWork], TaxonomyPreview]:
    """What publishing ``document`` with ``mappings`` would do (raises InvalidTaxonomy for a bad document)."""
    taxonomy = parse_taxonomy(document)

    def view(uow: AbstractSegmentUnitOfWork) -> TaxonomyPreview:
        return plan(uow, taxonomy, mappings)

    return view


def publish_taxonomy(command: commands.PublishTaxonomy, uow: AbstractSegmentUnitOfWork) -> tuple[int, bool]:
    """Returns (version, created). Publishing the current content again returns its version."""
    taxonomy = parse_taxonomy(command.document)
    content_hash = taxonomy.content_hash()
    latest = uow.taxonomies.latest()
    if latest is not None and latest.content_sha256 == content_hash:
        return latest.version, False  # an older version's content becomes current again as a new version
    planned = plan(uow, taxonomy, command.mappings)
    if planned.problems:
        raise InvalidTaxonomy("; ".join(planned.problems))
    version = uow.taxonomies.append(content_hash, taxonomy.document())
    uow.answers.add_codes(uow.answers.codes().missing({d: taxonomy.keys(d) for d in CODED_DIMENSIONS}), version)
    uow.answers.revive_codes([(d, key) for d in CODED_DIMENSIONS for key in taxonomy.keys(d)])
    for change in planned.changes:
        if change.kind == "always_delivered":
            uow.answers.add_category_to_answered(change.key)
            continue
        moved = uow.answers.remap(change.dimension, change.key, change.to)
        uow.answers.retire_code(change.dimension, change.key, change.to, version)
        uow.emit(contracts.TaxonomyKeysRemapped(version=version, dimension=change.dimension, from_key=change.key,
                                                to_key=change.to, residents_moved=moved))
    uow.record(events.TaxonomyPublished(version, content_hash))
    return version, True
