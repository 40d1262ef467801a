"""Keys of the personal data at rest: ``cityline-keys status`` and ``cityline-keys rotate``.

Every service declares its encrypted columns in its manifest
(:class:`~cityline_common.manifest.EncryptedColumn`: table, id column, ciphertext column, context,
optionally a blind-index column and purpose). This module reads those declarations, so it names no
service, with the keyrings of the environment (``FIELD_ENCRYPTION_KEYS``, ``BLIND_INDEX_KEY``):

* ``status [--service S]``: per service and column, rows by field-key id and by blind-index key id,
  tokens sealed before row binding, how many rows need rotation; then, for every key of both rings,
  whether a row still uses it — a configured key no row uses "can be removed".
* ``rotate [--batch N] [--service S] [--limit N]``: online. Each batch is its own short transaction
  that picks ``FOR UPDATE SKIP LOCKED`` rows still needing it — token not row-bound (``v1``) or not
  under the active field key, or index not under the active index key — re-seals each token under
  the active key bound to its row and recomputes its index under the active index key. Rows that
  live traffic holds are skipped and picked up by a later pass. Because only rows still needing it
  are ever picked, a stopped rotation continues where it stopped when run again. It prints progress
  (rows done, remaining, rate), exits 0 when nothing is left and names the old keys now removable;
  1 when rows could not be rotated (reported with the reason) or stayed locked, 3 when ``--limit``
  stopped it first.

Tokens sealed before row binding (column context only) are re-sealed bound to their row, but only
after checking them against the row's blind index: a legacy token copied into another row does not
match that row's index and is reported instead of being laundered into a valid row-bound token.

:func:`lock_blind_indexes` is the look-up half of rotation safety, used by repositories: see
``segment_service.adapters.repository.SqlResidentRepository``.
"""

from __future__ import annotations

import argparse
import hmac
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Row,
    Table,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from cityline_common.crypto import LEGACY_INDEX_KEY_ID, ROW_BOUND_VERSION, BlindIndex, CryptoError, FieldCipher
from cityline_common.db import make_engine
from cityline_common.manifest import EncryptedColumn, ServiceManifest, registered_services
from cityline_common.settings import CommonSettings, CryptoSettings, load_settings_or_exit

FIELD_RING = "FIELD_ENCRYPTION_KEYS"
INDEX_RING = "BLIND_INDEX_KEY"


class KeySettings(CommonSettings, CryptoSettings):
    """``cityline-keys``: the database and both keyrings."""


# --- look-ups ---------------------------------------------------------------------------------------------


def lock_blind_indexes(connection: Connection, indexes: Iterable[str]) -> None:
    """Serialise every writer of one value: a transaction-scoped advisory lock per stored index.

    A repository calls it with the value's index under every key of its ring before looking the value
    up, so two transactions about the same value wait for each other even when no row exists yet and
    their rings' active keys differ (a deploy changing the ring). The locks are taken in one global
    order, so transactions locking overlapping sets cannot deadlock."""
    for key in sorted({_lock_key(index) for index in indexes}):
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _lock_key(index: str) -> int:
    digest = index.rpartition(":")[2]  # the HMAC itself: already uniformly distributed
    return int.from_bytes(bytes.fromhex(digest[:16]), "big", signed=True)


# --- what is declared ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """One declared encrypted column of one service."""

    service: str
    schema: str
    column: EncryptedColumn
    table: Table

    @property
    def label(self) -> str:
        return f"{self.service}: {self.schema}.{self.column.name}"


def targets(services: dict[str, ServiceManifest] | None = None, only: str | None = None) -> list[Target]:
    services = registered_services() if services is None else services
    return [
        Target(name, manifest.schema, column, manifest.encrypted_table(column))
        for name, manifest in sorted(services.items())
        if only is None or name == only
        for column in manifest.encrypted_columns
    ]


def _token_version(token: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.split_part(token, ":", 1)


def _token_key(token: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.split_part(token, ":", 2)


def _index_key(index: ColumnElement[Any]) -> ColumnElement[Any]:
    """The key id a stored index names; bare hex is the legacy key k0's."""
    return case((func.strpos(index, ":") > 0, func.split_part(index, ":", 1)), else_=literal(LEGACY_INDEX_KEY_ID))


def _needs_rotation(target: Target, field_key: str, index_key: str) -> ColumnElement[bool]:
    token = target.table.c[target.column.column]
    condition = or_(_token_version(token) != ROW_BOUND_VERSION, _token_key(token) != field_key)
    if target.column.blind_index_column is not None:
        condition = or_(condition, _index_key(target.table.c[target.column.blind_index_column]) != index_key)
    return condition


def _migrated(connection: Connection, target: Target) -> bool:
    found = connection.execute(
        text("SELECT to_regclass(:name)"), {"name": f'"{target.schema}"."{target.table.name}"'}
    ).scalar()
    return found is not None


# --- status ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnStatus:
    target: Target
    migrated: bool
    rows: int = 0
    field_keys: dict[str, int] = field(default_factory=dict)  # rows by the key id of their token
    index_keys: dict[str, int] = field(default_factory=dict)  # rows by the key id of their index
    pre_binding: int = 0  # tokens sealed before row binding (v1)
    need_rotation: int = 0


def column_status(connection: Connection, target: Target, cipher: FieldCipher, index: BlindIndex) -> ColumnStatus:
    if not _migrated(connection, target):
        return ColumnStatus(target, migrated=False)
    token = target.table.c[target.column.column]
    index_column = target.column.blind_index_column
    inner = select(
        _token_version(token).label("version"),
        _token_key(token).label("field_key"),
        (_index_key(target.table.c[index_column]) if index_column else literal(None)).label("index_key"),
    ).where(token.is_not(None)).subquery()  # a nullable column's empty rows hold no key
    groups = connection.execute(
        select(inner.c.version, inner.c.field_key, inner.c.index_key, func.count())
        .group_by(inner.c.version, inner.c.field_key, inner.c.index_key)
    ).all()
    field_keys: Counter[str] = Counter()
    index_keys: Counter[str] = Counter()
    rows = pre_binding = need_rotation = 0
    for version, field_key, index_key, count in groups:
        rows += count
        field_keys[field_key] += count
        if index_key is not None:
            index_keys[index_key] += count
        if version != ROW_BOUND_VERSION:
            pre_binding += count
        if (version != ROW_BOUND_VERSION or field_key != cipher.keyring.active_id
                or (index_key is not None and index_key != index.active_id)):
            need_rotation += count
    return ColumnStatus(target, True, rows, dict(field_keys), dict(index_keys), pre_binding, need_rotation)


@dataclass(frozen=True)
class KeyUse:
    """One key id of one ring, and how many rows of the declared columns use it."""

    ring: str  # FIELD_ENCRYPTION_KEYS or BLIND_INDEX_KEY
    key_id: str
    configured: bool
    active: bool
    rows: int

    @property
    def removable(self) -> bool:
        return self.configured and not self.active and self.rows == 0


def key_uses(statuses: Iterable[ColumnStatus], cipher: FieldCipher, index: BlindIndex) -> list[KeyUse]:
    """Every key of both rings, plus any key rows use that the rings no longer list. Pass the status of
    every declared column: a key is removable only when no column of any service uses it."""
    field_rows: Counter[str] = Counter()
    index_rows: Counter[str] = Counter()
    for status in statuses:
        field_rows.update(status.field_keys)
        index_rows.update(status.index_keys)
    uses: list[KeyUse] = []
    for ring, configured, active, rows in (
        (FIELD_RING, cipher.keyring.key_ids, cipher.keyring.active_id, field_rows),
        (INDEX_RING, index.key_ids, index.active_id, index_rows),
    ):
        uses.extend(KeyUse(ring, key_id, True, key_id == active, rows[key_id]) for key_id in configured)
        uses.extend(KeyUse(ring, key_id, False, False, rows[key_id]) for key_id in sorted(set(rows) - set(configured)))
    return uses


def statuses(engine: Engine, cipher: FieldCipher, index: BlindIndex, chosen: list[Target]) -> list[ColumnStatus]:
    with engine.connect() as connection:
        return [column_status(connection, target, cipher, index) for target in chosen]


def _by_key(counts: dict[str, int], active: str) -> str:
    ordered = sorted(counts.items(), key=lambda item: (item[0] != active, item[0]))
    return ", ".join(f"{key_id} {count}{' (active)' if key_id == active else ''}" for key_id, count in ordered) or "-"


def print_status(column_statuses: list[ColumnStatus], cipher: FieldCipher, index: BlindIndex, out: TextIO) -> None:
    for status in column_statuses:
        spec = status.target.column
        indexed = f" (blind index {spec.blind_index_column})" if spec.blind_index_column else ""
        if not status.migrated:
            print(f"{status.target.label}{indexed}: table missing (schema not migrated)", file=out)
            continue
        print(f"{status.target.label}{indexed}: {status.rows} rows", file=out)
        print(f"  field keys: {_by_key(status.field_keys, cipher.keyring.active_id)}", file=out)
        if spec.blind_index_column:
            print(f"  index keys: {_by_key(status.index_keys, index.active_id)}", file=out)
        print(f"  sealed before row binding: {status.pre_binding}", file=out)
        print(f"  need rotation: {status.need_rotation}", file=out)


def print_key_uses(uses: list[KeyUse], out: TextIO) -> None:
    print("keys:", file=out)
    for use in uses:
        name = f"  {use.ring} {use.key_id}:"
        if not use.configured:
            print(f"{name} NOT CONFIGURED, {use.rows} rows cannot be read (add the key back, or these rows "
                  "are lost)", file=out)
        elif use.active:
            print(f"{name} active, {use.rows} rows", file=out)
        elif use.rows:
            print(f"{name} in use by {use.rows} rows; keep it (run `cityline-keys rotate`)", file=out)
        else:
            print(f"{name} no row uses it; can be removed", file=out)
    if any(use.removable and use.ring == FIELD_RING for use in uses):
        print(f"  note: {FIELD_RING} also opens messages sealed in transit (queues, dead letters, ingress's "
              "spool); remove an old key once none older than the rotation is waiting", file=out)


# --- rotation -------------------------------------------------------------------------------------------


@dataclass
class RotationReport:
    target: Target
    rotated: int = 0
    remaining: int = 0  # rows still needing rotation at the end (failed ones included)
    failed: dict[Any, str] = field(default_factory=dict)  # row id → why it could not be rotated
    stopped: bool = False  # --limit reached, or rows stayed locked


Change = dict[str, Any]
Resealer = Callable[[Row[Any], RotationReport], Change | None]


def _resealer(target: Target, cipher: FieldCipher, index: BlindIndex) -> Resealer:
    spec = target.column

    def reseal(row: Row[Any], report: RotationReport) -> Change | None:
        row_id, token = row[0], row[1]
        change: Change = {"_id": row_id}
        try:
            plaintext = cipher.decrypt_for_row(token, spec.context, row_id, accept_legacy=True)
            if spec.blind_index_column is not None and spec.blind_index_purpose is not None:
                stored = row[2]
                key_id = BlindIndex.key_id_of(stored)
                if key_id not in index.key_ids:
                    raise CryptoError(f"its blind index is under key {key_id!r}, which {INDEX_RING} does not list")
                # The index was computed from the value when the row was written: a token that does not
                # match it came from another row (a legacy token opens in any row of its column).
                if not hmac.compare_digest(index.compute_with(key_id, spec.blind_index_purpose, plaintext), stored):
                    raise CryptoError("its token does not match its blind index (copied from another row?)")
                change["_index"] = index.compute(spec.blind_index_purpose, plaintext)
            change["_token"] = (cipher.encrypt_for_row(plaintext, spec.context, row_id)
                                if cipher.needs_reseal_for_row(token) else token)
        except CryptoError as exc:
            report.failed[row_id] = str(exc)
            return None
        return change

    return reseal


class _ColumnRotation:
    """One column's rotation: passes in id order, each batch its own transaction."""

    def __init__(self, engine: Engine, target: Target, cipher: FieldCipher, index: BlindIndex) -> None:
        spec, table = target.column, target.table
        self._engine = engine
        self._id = table.c[spec.id_column]
        self._columns = [self._id, table.c[spec.column]]
        values: dict[str, Any] = {spec.column: bindparam("_token")}
        if spec.blind_index_column is not None:
            self._columns.append(table.c[spec.blind_index_column])
            values[spec.blind_index_column] = bindparam("_index")
        self._table = table
        self._update = table.update().where(self._id == bindparam("_id")).values(values)
        self._needs = _needs_rotation(target, cipher.keyring.active_id, index.active_id)
        self._reseal = _resealer(target, cipher, index)
        self.report = RotationReport(target)

    def left(self) -> int:
        """Rows still needing rotation, but for those found unrotatable."""
        query = select(func.count()).select_from(self._table).where(self._needs)
        if self.report.failed:
            query = query.where(self._id.not_in(list(self.report.failed)))
        with self._engine.connect() as connection:
            return int(connection.execute(query).scalar_one())

    def batch(self, after: Any, size: int) -> tuple[Any, int] | None:
        """One short transaction over the next ``size`` rows after id ``after`` that need rotation and
        nobody holds: the last id seen and how many were rotated, or None when the pass is over."""
        query = select(*self._columns).where(self._needs)
        if after is not None:
            query = query.where(self._id > after)
        query = query.order_by(self._id).limit(size).with_for_update(skip_locked=True)
        seen: list[Any] = []
        try:
            with self._engine.begin() as connection:
                rows = list(connection.execute(query).all())
                if not rows:
                    return None
                seen = [row[0] for row in rows]
                return seen[-1], self._apply(connection, rows)
        except IntegrityError:
            if not seen:
                raise
        # A new index already belongs to another row: one row per transaction, to name it.
        rotated = 0
        for each in seen:
            try:
                with self._engine.begin() as connection:
                    rows = list(connection.execute(
                        select(*self._columns).where(self._needs, self._id == each).with_for_update(skip_locked=True)
                    ).all())
                    rotated += self._apply(connection, rows)
            except IntegrityError:
                self.report.failed[each] = ("another row already holds this value's index under the active key "
                                            "(a duplicate: merge the two rows, then rotate again)")
        return seen[-1], rotated

    def _apply(self, connection: Connection, rows: list[Row[Any]]) -> int:
        changes = [change for row in rows if (change := self._reseal(row, self.report)) is not None]
        if changes:
            connection.execute(self._update, changes)
        return len(changes)


def rotate_column(
    engine: Engine,
    target: Target,
    cipher: FieldCipher,
    index: BlindIndex,
    *,
    batch: int = 500,
    limit: int | None = None,
    out: TextIO = sys.stdout,
    pause: float = 0.2,
    patience: int = 50,
) -> RotationReport:
    """Rotate one column online. ``limit`` stops after that many rows (run again to continue);
    ``patience`` passes in a row that find only locked rows end the run (they stay for the next)."""
    rotation = _ColumnRotation(engine, target, cipher, index)
    report = rotation.report
    to_do = rotation.left()
    if to_do == 0:
        print(f"{target.label}: nothing to rotate", file=out)
        return report
    print(f"{target.label}: {to_do} rows to rotate", file=out, flush=True)
    started = last_print = time.monotonic()
    idle = 0
    while True:
        cursor: Any = None
        progressed = 0
        while True:  # one pass, in id order
            size = batch if limit is None else min(batch, limit - report.rotated)
            if size <= 0:
                report.stopped = True
                break
            outcome = rotation.batch(cursor, size)
            if outcome is None:
                break
            cursor, rotated = outcome
            report.rotated += rotated
            progressed += rotated
            if time.monotonic() - last_print >= 1.0:
                last_print = time.monotonic()
                _progress(report, to_do, started, out)
        remaining = rotation.left()  # exact: rows live traffic held were skipped; the next pass takes them
        if remaining == 0 or report.stopped:
            break
        idle = 0 if progressed else idle + 1
        if idle >= patience:
            print(f"{target.label}: {remaining} rows stayed locked; run again later", file=out)
            report.stopped = True
            break
        time.sleep(pause)
    report.remaining = remaining + len(report.failed)
    elapsed = time.monotonic() - started
    print(f"{target.label}: {report.rotated} rotated in {elapsed:.1f} s "
          f"({report.rotated / max(elapsed, 1e-6):.0f} rows/s), {report.remaining} remaining", file=out, flush=True)
    for failed_id, reason in list(report.failed.items())[:20]:
        print(f"  row {failed_id} not rotated: {reason}", file=out)
    if len(report.failed) > 20:
        print(f"  … and {len(report.failed) - 20} more rows not rotated", file=out)
    return report


def _progress(report: RotationReport, to_do: int, started: float, out: TextIO) -> None:
    elapsed = max(time.monotonic() - started, 1e-6)
    remaining = max(to_do - report.rotated - len(report.failed), 0)
    print(f"{report.target.label}: {report.rotated} rotated, ~{remaining} remaining, "
          f"{report.rotated / elapsed:.0f} rows/s", file=out, flush=True)


# --- the command ----------------------------------------------------------------------------------------


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """``cityline-keys status|rotate``: the keys of every service's encrypted columns."""
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="cityline-keys", description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    status_command = commands.add_parser("status", help="rows by key id, rows needing rotation, removable keys")
    status_command.add_argument("--service", help="only this service's columns (keys are judged on all)")
    rotate_command = commands.add_parser("rotate", help="re-seal and re-index rows under the active keys, online")
    rotate_command.add_argument("--batch", type=_positive, default=500, help="rows per transaction (500)")
    rotate_command.add_argument("--service", help="only this service's columns")
    rotate_command.add_argument("--limit", type=_positive, help="stop after this many rows per column")
    args = parser.parse_args(argv)

    settings = load_settings_or_exit(KeySettings)
    cipher = FieldCipher.from_spec(settings.field_encryption_keys.get_secret_value())
    index = BlindIndex(settings.blind_index_key.get_secret_value())
    services = registered_services()
    if args.service is not None and args.service not in services:
        print(f"unknown service {args.service!r}; installed: {', '.join(sorted(services))}", file=sys.stderr)
        return 2
    every = targets(services)
    chosen = [target for target in every if args.service is None or target.service == args.service]
    engine = make_engine(settings.database_url, pool_size=2, max_overflow=2)
    try:
        if args.command == "status":
            found = statuses(engine, cipher, index, every)
            print_status([status for status in found if status.target in chosen], cipher, index, out)
            print_key_uses(key_uses(found, cipher, index), out)
            return 0
        print(f"rotating to field key {cipher.keyring.active_id!r} and index key {index.active_id!r}", file=out)
        try:
            reports = [rotate_column(engine, target, cipher, index, batch=args.batch, limit=args.limit, out=out)
                       for target in chosen]
        except KeyboardInterrupt:
            print("interrupted; run `cityline-keys rotate` again to continue", file=out)
            return 130
        uses = key_uses(statuses(engine, cipher, index, every), cipher, index)
        left = sum(report.remaining for report in reports)
        if left == 0:
            print("nothing left to rotate", file=out)
        removable = [use for use in uses if use.removable]
        for use in removable:
            print(f"{use.ring} {use.key_id}: no row uses it any more; it can be removed", file=out)
        if not removable and left == 0:
            print("no old key to remove", file=out)
        if left:
            print(f"{left} rows still need rotation", file=out)
            stopped_by_limit = args.limit is not None and not any(report.failed for report in reports)
            return 3 if stopped_by_limit else 1
        return 0
    finally:
        engine.dispose()
