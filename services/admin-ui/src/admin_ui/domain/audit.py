"""操作ログ (audit log): what one entry says, how entries are chained, how the chain is checked and
how entries are written out for Excel. Plain Python; the adapters store and read the entries.

Each entry is sealed into a hash chain::

    row_hash = SHA-256(prev_hash || canonical JSON of the entry's content)

where the content includes the entry's sequence number and timestamp, and ``prev_hash`` is the
``row_hash`` of the entry before it (64 zeros for the first). Changing, deleting or inserting an
entry therefore breaks the chain from that point on; :func:`verify_chain` says where.
"""

from __future__ import annotations

import csv
import decimal
import enum
import hashlib
import io
import json
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

JAPAN = ZoneInfo("Asia/Tokyo")
GENESIS_HASH = "0" * 64
"""``prev_hash`` of the first entry of the chain."""

# What staff read on the 操作ログ screen and in the export. Unknown actions are shown as they are.
ACTION_LABELS: dict[str, str] = {
    "sign_in": "サインイン",
    "sign_in_failed": "サインイン失敗",
    "lockout": "ロックアウト",
    "sign_out": "サインアウト",
    "account.create": "アカウント作成",
    "account.update": "アカウント変更",
    "account.disable": "アカウント無効化",
    "account.enable": "アカウント有効化",
    "password.change": "パスワード変更",
    "password.reset": "パスワード再設定",
    "department.create": "部署の作成",
    "role.grant": "権限の付与",
    "role.revoke": "権限の取り消し",
    "totp.enroll": "二要素認証の登録",
    "totp.reset": "二要素認証の再設定",
    "recovery_codes.regenerate": "リカバリーコードの再発行",
    "session.end": "セッション終了",
    "audit.export": "操作ログの書き出し",
    "segment.create": "セグメントの作成",
    "segment.update": "セグメントの変更",
    "segment.delete": "セグメントの削除",
    "taxonomy.publish": "受信設定の項目の公開",
    "account_text.update": "あいさつメッセージの変更",
    "delivery.create": "配信の作成",
    "delivery.update": "配信の編集",
    "delivery.submit": "配信の承認依頼",
    "delivery.approve": "配信の承認",
    "delivery.reject": "配信の差し戻し",
    "delivery.schedule": "配信の予約",
    "delivery.confirm": "配信の送信前確認",
    "delivery.start": "配信の送信",
    "delivery.pause": "配信の一時停止",
    "delivery.resume": "配信の再開",
    "delivery.cancel": "配信の取消",
    "delivery.test": "テスト配信",
    "delivery.image_upload": "配信用画像のアップロード",
    "delivery_template.create": "配信テンプレートの保存",
    "richmenu.create": "リッチメニューの作成",
    "richmenu.update": "リッチメニューの編集",
    "richmenu.delete": "リッチメニューの削除",
    "richmenu.image_upload": "リッチメニュー画像のアップロード",
    "richmenu.design": "リッチメニューのテンプレート作成",
    "richmenu.publish": "リッチメニューの公開",
    "richmenu.export": "リッチメニューのデザインデータ書き出し",
    "richmenu_rule.create": "表示ルールの作成",
    "richmenu_rule.update": "表示ルールの変更",
    "richmenu_rule.delete": "表示ルールの削除",
    "richmenu.disaster_on": "災害時モードの開始",
    "richmenu.disaster_off": "災害時モードの終了",
}

JsonValue = None | bool | int | str | list["JsonValue"] | dict[str, "JsonValue"]


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def clean_text(value: str) -> str:
    """PostgreSQL stores neither NUL characters nor unpaired surrogates: replace them (U+FFFD), so
    what is hashed is exactly what is stored."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = "".join("\ufffd" if 0xD800 <= ord(ch) <= 0xDFFF else ch for ch in value)
    return value


def to_json_value(value: object) -> JsonValue:  # noqa: PLR0911 - one return per kind of value
    """``value`` as plain JSON that survives a round trip through PostgreSQL's JSONB unchanged.

    JSONB rewrites numbers (``1e20`` comes back as ``100000000000000000000``), which would break the
    hash of the entry, so floats and decimals are kept as their text. Dates, times, UUIDs and enums
    become text too; tuples and sets become lists (sets sorted). Anything else is a programming error.
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, enum.Enum):
        return to_json_value(value.value)
    if isinstance(value, float | decimal.Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {clean_text(str(key)): to_json_value(item) for key, item in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((to_json_value(item) for item in value), key=canonical_json)
    if isinstance(value, list | tuple):
        return [to_json_value(item) for item in value]
    raise TypeError(f"audit log: cannot record a {type(value).__name__}")


def canonical_json(value: object) -> str:
    """One text for one value: keys sorted, no whitespace, UTF-8 characters as they are."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)


def chain_hash(prev_hash: str, content: Mapping[str, JsonValue]) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(content).encode("utf-8")).hexdigest()


def utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("audit timestamps are timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class AuditEvent:
    """What is recorded: who (staff id and login; None for someone not signed in), did what, to
    what, in which department (課), from where (client address), and the state before and after."""

    action: str
    actor: str | None = None
    actor_login: str | None = None
    target: str | None = None
    department: str | None = None
    source: str | None = None
    before: dict[str, JsonValue] | None = None
    after: dict[str, JsonValue] | None = None

    @classmethod
    def of(
        cls,
        *,
        actor: str | None,
        actor_login: str | None,
        action: str,
        target: str | None = None,
        department: str | None = None,
        source: str | None = None,
        before: Mapping[str, object] | None = None,
        after: Mapping[str, object] | None = None,
    ) -> AuditEvent:
        """Checked and normalised to exactly what will be stored and hashed."""
        action = clean_text(action).strip()
        if not action:
            raise ValueError("audit log: an entry needs an action")

        def text(value: str | None) -> str | None:
            return None if value is None else clean_text(str(value))

        def state(value: Mapping[str, object] | None) -> dict[str, JsonValue] | None:
            if value is None:
                return None
            normalised = to_json_value(value)
            assert isinstance(normalised, dict)
            return normalised

        return cls(
            action=action, actor=text(actor), actor_login=text(actor_login), target=text(target),
            department=text(department), source=text(source), before=state(before), after=state(after),
        )


@dataclass(frozen=True)
class Actor:
    """Who does something on the console: staff id and login (both None when nobody is signed in)."""

    id: str | None
    login: str | None


@dataclass(frozen=True)
class ChainHead:
    """The last entry of the chain: its sequence number and hash (seq 0 and zeros: empty chain)."""

    seq: int
    row_hash: str

    def __str__(self) -> str:
        return f"seq {self.seq}, {self.row_hash}"


GENESIS = ChainHead(0, GENESIS_HASH)


@dataclass(frozen=True)
class AuditEntry:
    """One stored entry of the chain."""

    seq: int
    occurred_at: datetime
    event: AuditEvent
    prev_hash: str
    row_hash: str

    def content(self) -> dict[str, JsonValue]:
        return entry_content(self.seq, self.occurred_at, self.event)

    def computed_hash(self) -> str:
        return chain_hash(self.prev_hash, self.content())

    @property
    def head(self) -> ChainHead:
        return ChainHead(self.seq, self.row_hash)

    # What the screen and the export show.
    @property
    def occurred_at_japan(self) -> str:
        return self.occurred_at.astimezone(JAPAN).strftime("%Y-%m-%d %H:%M:%S")

    @property
    def action_label(self) -> str:
        return action_label(self.event.action)


def entry_content(seq: int, occurred_at: datetime, event: AuditEvent) -> dict[str, JsonValue]:
    """What the hash covers: every field of the entry but the hashes themselves."""
    return {
        "seq": seq,
        "occurred_at": utc_text(occurred_at),
        "actor": event.actor,
        "actor_login": event.actor_login,
        "action": event.action,
        "target": event.target,
        "department": event.department,
        "source": event.source,
        "before": event.before,
        "after": event.after,
    }


def seal(head: ChainHead, occurred_at: datetime, event: AuditEvent) -> AuditEntry:
    """The entry that follows ``head``."""
    seq = head.seq + 1
    occurred_at = occurred_at.astimezone(UTC)  # timestamptz keeps microseconds, as datetime does
    row_hash = chain_hash(head.row_hash, entry_content(seq, occurred_at, event))
    return AuditEntry(seq, occurred_at, event, head.row_hash, row_hash)


# ---------------------------------------------------------------------------------------------
# Verification

FindingKind = Literal["changed", "deleted", "inserted", "relinked"]


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    first_seq: int
    last_seq: int
    detail: str

    @property
    def rows(self) -> str:
        return f"seq {self.first_seq}" if self.first_seq == self.last_seq else f"seq {self.first_seq}-{self.last_seq}"

    def __str__(self) -> str:
        return f"{self.rows}: {self.kind} ({self.detail})"


@dataclass
class ChainReport:
    rows: int = 0
    last: ChainHead = GENESIS
    findings: list[Finding] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.findings

    def add(self, finding: Finding) -> None:
        """Consecutive changed rows (a renumbering, say) are reported as one range."""
        if finding.kind == "changed":
            for index in range(len(self.findings) - 1, max(len(self.findings) - 4, -1), -1):
                previous = self.findings[index]
                if previous.kind == "changed" and previous.last_seq + 1 == finding.first_seq:
                    self.findings[index] = Finding("changed", previous.first_seq, finding.last_seq, finding.detail)
                    return
        self.findings.append(finding)

    def summary(self) -> str:
        if self.intact:
            return f"chain intact ({self.rows} rows, head {self.last})"
        lines = [f"chain BROKEN: {len(self.findings)} finding(s) in {self.rows} rows"]
        lines += [f"  {finding}" for finding in self.findings]
        return "\n".join(lines)


def verify_chain(
    entries: Iterable[AuditEntry], head: ChainHead | None = None, anchors: Iterable[ChainHead] = (),
) -> ChainReport:
    """Walk ``entries`` in sequence order and report every break of the chain.

    * changed: an entry's content no longer gives its ``row_hash``;
    * deleted: sequence numbers are missing (in the middle, or at the end when ``head`` — the
      chain's own counter — is further on than the last entry);
    * inserted: an entry links to an earlier entry than the one before it, so the entries between
      were put in afterwards (or the last entries are beyond the recorded head);
    * relinked: an entry's ``prev_hash`` matches no earlier entry — the entry before it was
      rewritten with a recomputed hash, or the link itself was altered.

    ``anchors`` are heads printed by earlier runs and kept outside the database: someone able to
    rewrite the whole chain from some row on (hashes recomputed) still cannot match them.
    """
    anchored = {anchor.seq: anchor.row_hash for anchor in anchors}
    report = ChainReport()
    seen: dict[str, int] = {GENESIS_HASH: 0}
    previous = GENESIS
    for entry in entries:
        report.rows += 1
        if entry.computed_hash() != entry.row_hash:
            report.add(Finding("changed", entry.seq, entry.seq, "content does not match its row_hash"))
        if entry.seq > previous.seq + 1:
            report.add(Finding("deleted", previous.seq + 1, entry.seq - 1, "sequence gap"))
        elif entry.prev_hash != previous.row_hash:
            linked = seen.get(entry.prev_hash)
            if linked is not None and linked < previous.seq:
                report.add(Finding(
                    "inserted", linked + 1, entry.seq - 1, f"seq {entry.seq} links to seq {linked}",
                ))
            else:
                report.add(Finding(
                    "relinked", entry.seq, entry.seq,
                    f"prev_hash is not the hash of seq {previous.seq}: that row was rewritten, or this link was",
                ))
        if anchored.get(entry.seq, entry.row_hash) != entry.row_hash:
            report.add(Finding("changed", entry.seq, entry.seq, "hash differs from the anchor kept outside"))
        seen.setdefault(entry.row_hash, entry.seq)
        previous = entry.head
    report.last = previous
    for seq in sorted(anchored):
        if seq > previous.seq:
            report.add(Finding("deleted", seq, seq, "an anchor kept outside names it, the chain ends before"))
    if head is not None:
        _check_end(report, previous, head)
    return report


def _check_end(report: ChainReport, last: ChainHead, head: ChainHead) -> None:
    """The last entry is the one the chain's own counter says was written last."""
    if head.seq > last.seq:
        report.add(Finding("deleted", last.seq + 1, head.seq, f"missing at the end: the chain head is seq {head.seq}"))
    elif head.seq < last.seq:
        report.add(Finding("inserted", head.seq + 1, last.seq, f"beyond the chain head (seq {head.seq})"))
    elif head.row_hash != last.row_hash:
        report.add(Finding("changed", last.seq, last.seq, "hash differs from the chain head's"))


# ---------------------------------------------------------------------------------------------
# Search and export


@dataclass(frozen=True)
class AuditFilter:
    """操作ログの検索条件. ``since`` inclusive, ``until`` exclusive (aware datetimes)."""

    person: str | None = None  # the staff member's login
    department: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def from_dates(
        cls,
        *,
        person: str | None = None,
        department: str | None = None,
        action: str | None = None,
        date_from: date | None = None,
        date_to: date | None = None,
    ) -> AuditFilter:
        """A period of whole days in Japan time: from 00:00 of ``date_from`` to the end of ``date_to``."""
        return cls(
            person=normalise_login(person),
            department=(department or "").strip() or None,
            action=(action or "").strip() or None,
            since=japan_midnight(date_from) if date_from else None,
            until=japan_midnight(date_to + timedelta(days=1)) if date_to else None,
        )

    def matches(self, entry: AuditEntry) -> bool:
        event = entry.event
        return (
            (self.person is None or event.actor_login == self.person)
            and (self.department is None or event.department == self.department)
            and (self.action is None or event.action == self.action)
            and (self.since is None or entry.occurred_at >= self.since)
            and (self.until is None or entry.occurred_at < self.until)
        )

    def as_dict(self) -> dict[str, JsonValue]:
        return {
            "person": self.person, "department": self.department, "action": self.action,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


def normalise_login(login: str | None) -> str | None:
    """As login ids are stored: NFKC, trimmed, lower case (全角 ｙａｍａｄａ finds yamada)."""
    login = unicodedata.normalize("NFKC", login or "").strip().lower()
    return login or None


def japan_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=JAPAN)


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry]
    total: int
    limit: int
    offset: int

    @property
    def has_previous(self) -> bool:
        return self.offset > 0

    @property
    def has_next(self) -> bool:
        return self.offset + len(self.entries) < self.total


CSV_HEADER = ("日時", "職員", "部署", "操作", "対象", "接続元", "変更前", "変更後")
CSV_BOM = "\ufeff"
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def excel_safe(value: str) -> str:
    """A cell Excel will not run as a formula: text starting with = + - @ (or a tab or CR, which
    Excel also strips before looking) gets a leading apostrophe (OWASP "CSV injection")."""
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def csv_row(entry: AuditEntry) -> list[str]:
    event = entry.event
    action = entry.action_label if entry.action_label == event.action else f"{entry.action_label} ({event.action})"
    cells = [
        entry.occurred_at_japan,
        event.actor_login or "",
        event.department or "",
        action,
        event.target or "",
        event.source or "",
        canonical_json(event.before) if event.before is not None else "",
        canonical_json(event.after) if event.after is not None else "",
    ]
    return [excel_safe(cell) for cell in cells]


def csv_chunks(entries: Iterable[AuditEntry], rows_per_chunk: int = 500) -> Iterator[str]:
    """The export as text chunks: a byte-order mark and the Japanese header first, CRLF line ends
    (what Excel expects), ready to be encoded as UTF-8 and streamed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    buffer.write(CSV_BOM)
    writer.writerow(CSV_HEADER)
    pending = 0
    for entry in entries:
        writer.writerow(csv_row(entry))
        pending += 1
        if pending >= rows_per_chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


def dict_or_none(value: Any) -> dict[str, JsonValue] | None:
    """A stored before/after column as read back (JSONB gives dicts; None stays None)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError(f"audit log: expected an object, got {type(value).__name__}")
    return value
