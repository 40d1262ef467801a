"""操作ログ in memory: canonical JSON, the hash chain and how breaks are named, search, the Excel CSV."""

import csv
import hashlib
import io
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from admin_ui.adapters.audit import InMemoryAuditLog
from admin_ui.domain.audit import (
    CSV_HEADER,
    GENESIS,
    GENESIS_HASH,
    JAPAN,
    AuditEntry,
    AuditEvent,
    AuditFilter,
    ChainHead,
    canonical_json,
    csv_chunks,
    excel_safe,
    seal,
    verify_chain,
)
from admin_ui.service_layer import audit as audit_use_cases
from admin_ui.service_layer.unit_of_work import AbstractAdminUnitOfWork
from cityline_common.messagebus import Handlers, MessageBus
from cityline_common.unit_of_work import InMemoryUnitOfWork

T0 = datetime(2026, 11, 24, 0, 30, tzinfo=UTC)  # 09:30 in Japan


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def filled(count: int) -> InMemoryAuditLog:
    log = InMemoryAuditLog(Clock())
    for n in range(count):
        log.record(actor=f"id-{n % 3}", actor_login=f"staff{n % 3}", action="account.create", target=f"user{n}",
                   department="広報課" if n % 2 else "危機管理室", source="10.0.0.7", after={"n": n})
    log.commit()
    return log


# --- canonical JSON and the hash --------------------------------------------------------------


def test_canonical_json_is_one_text_for_one_value():
    assert canonical_json({"b": 1, "a": [True, None, "伊丹"]}) == '{"a":[true,null,"伊丹"],"b":1}'
    assert canonical_json({"a": 1, "b": 2}) == canonical_json({"b": 2, "a": 1})
    with pytest.raises(ValueError):
        canonical_json(float("nan"))


def test_recorded_values_are_normalised_to_what_survives_jsonb():
    event = AuditEvent.of(
        actor=None, actor_login="ya\x00mada", action=" role.grant ",
        after={"ratio": 1e20, "amount": Decimal("1.50"), "id": uuid.UUID(int=1), "day": date(2026, 4, 1),
               "roles": {"viewer", "author"}, "pair": (1, 2), 3: "three"},
    )
    assert event.action == "role.grant"
    assert event.actor_login == "ya\ufffdmada"  # PostgreSQL stores no NUL
    assert event.after == {
        "ratio": "1e+20", "amount": "1.50", "id": "00000000-0000-0000-0000-000000000001", "day": "2026-04-01",
        "roles": ["author", "viewer"], "pair": [1, 2], "3": "three",
    }
    with pytest.raises(TypeError):
        AuditEvent.of(actor=None, actor_login=None, action="x", after={"blob": b"raw"})
    with pytest.raises(ValueError):
        AuditEvent.of(actor=None, actor_login=None, action="  ")


def test_the_row_hash_is_sha256_of_prev_hash_and_the_canonical_content_with_seq_and_time():
    event = AuditEvent.of(actor="42", actor_login="yamada", action="sign_in", source="192.0.2.1")
    entry = seal(GENESIS, T0, event)
    content = (
        '{"action":"sign_in","actor":"42","actor_login":"yamada","after":null,"before":null,"department":null,'
        '"occurred_at":"2026-11-24T00:30:00.000000Z","seq":1,"source":"192.0.2.1","target":null}'
    )
    assert entry.seq == 1 and entry.prev_hash == GENESIS_HASH
    assert entry.row_hash == hashlib.sha256((GENESIS_HASH + content).encode()).hexdigest()
    following = seal(entry.head, T0 + timedelta(seconds=1), event)
    assert following.seq == 2 and following.prev_hash == entry.row_hash
    # The same moment written in Japan time is the same content.
    assert seal(GENESIS, T0.astimezone(JAPAN), event).row_hash == entry.row_hash


# --- verifying the chain ------------------------------------------------------------------------


def test_an_untouched_chain_is_intact():
    log = filled(10)
    head, entries = log.read_chain()
    report = verify_chain(entries, head)
    assert report.intact
    assert report.summary() == f"chain intact (10 rows, head seq 10, {log.entries[-1].row_hash})"
    assert verify_chain([], GENESIS).summary().startswith("chain intact (0 rows")


def test_a_changed_row_is_named():
    log = filled(10)
    entries = list(log.entries)
    entries[4] = replace(entries[4], event=replace(entries[4].event, actor_login="someone-else"))
    report = verify_chain(entries, log.head())
    assert [(f.kind, f.first_seq, f.last_seq) for f in report.findings] == [("changed", 5, 5)]
    assert "seq 5: changed" in report.summary()


def test_a_changed_row_whose_hash_was_recomputed_shows_in_the_next_link():
    log = filled(10)
    entries = list(log.entries)
    forged = replace(entries[4].event, actor_login="someone-else")
    entries[4] = seal(ChainHead(4, entries[3].row_hash), entries[4].occurred_at, forged)
    report = verify_chain(entries, log.head())
    assert [(f.kind, f.first_seq) for f in report.findings] == [("relinked", 6)]


def test_deleted_rows_are_named_in_the_middle_at_the_start_and_at_the_end():
    log = filled(10)
    entries = list(log.entries)
    report = verify_chain(entries[:3] + entries[5:], log.head())
    assert [(f.kind, f.first_seq, f.last_seq) for f in report.findings] == [("deleted", 4, 5)]
    assert "seq 4-5: deleted" in report.summary()
    report = verify_chain(entries[1:], log.head())
    assert [(f.kind, f.first_seq, f.last_seq) for f in report.findings] == [("deleted", 1, 1)]
    report = verify_chain(entries[:8], log.head())  # the chain's own counter says 10
    assert [(f.kind, f.first_seq, f.last_seq) for f in report.findings] == [("deleted", 9, 10)]


def test_an_inserted_row_is_named_even_when_the_rows_after_it_were_renumbered():
    log = filled(10)
    entries = list(log.entries)
    forged = seal(entries[4].head, entries[4].occurred_at, AuditEvent.of(actor=None, actor_login=None, action="x"))
    shifted = [
        AuditEntry(e.seq + 1, e.occurred_at, e.event, e.prev_hash, e.row_hash) for e in entries[5:]
    ]
    report = verify_chain([*entries[:5], forged, *shifted], log.head())
    kinds = {(f.kind, f.first_seq, f.last_seq) for f in report.findings}
    assert ("inserted", 6, 6) in kinds  # seq 7 (the old 6) still links to seq 5
    assert ("changed", 7, 11) in kinds  # renumbered rows, as one range
    assert ("inserted", 11, 11) in kinds  # beyond the chain head


def test_an_appended_row_beyond_the_head_and_an_anchor_kept_outside():
    log = filled(5)
    entries = list(log.entries)
    extra = seal(entries[-1].head, T0, AuditEvent.of(actor=None, actor_login=None, action="x"))
    report = verify_chain([*entries, extra], log.head())
    assert [(f.kind, f.first_seq) for f in report.findings] == [("inserted", 6)]
    # Everything from seq 3 rewritten, hashes and head included: only an anchor still tells.
    rewritten = entries[:2]
    for entry in entries[2:]:
        rewritten.append(seal(rewritten[-1].head, entry.occurred_at, replace(entry.event, target="forged")))
    assert verify_chain(rewritten, rewritten[-1].head).intact
    report = verify_chain(rewritten, rewritten[-1].head, anchors=[entries[3].head])
    assert [(f.kind, f.first_seq) for f in report.findings] == [("changed", 4)]


# --- the in-memory log and search ---------------------------------------------------------------


def test_entries_of_a_rolled_back_unit_of_work_are_dropped():
    log = InMemoryAuditLog(Clock())
    log.record(actor="1", actor_login="yamada", action="sign_in")
    log.rollback()
    log.record(actor="1", actor_login="yamada", action="sign_out")
    log.commit()
    assert [event.action for event in log.events] == ["sign_out"]
    assert log.entries[0].seq == 1


def test_search_by_person_department_action_and_japanese_days():
    log = filled(12)
    page = log.search(person="staff1", limit=2)
    assert page.total == 4 and [e.event.target for e in page.entries] == ["user10", "user7"]
    assert page.has_next and not page.has_previous
    assert log.search(department="広報課", action="account.create").total == 6
    # Entries are at 09:30:01 … 09:30:12 Japan time on 2026-11-24.
    today = AuditFilter.from_dates(date_from=date(2026, 11, 24), date_to=date(2026, 11, 24))
    assert today.since == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    assert log.filtered(today, 50, 0).total == 12
    assert log.filtered(AuditFilter.from_dates(date_to=date(2026, 11, 23)), 50, 0).total == 0
    assert AuditFilter.from_dates(person=" ＳＴＡＦＦ1 ").person == "staff1"


# --- CSV for Excel ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2+3", "'-2+3"),
     ("@SUM(A1)", "'@SUM(A1)"), ("\tcmd", "'\tcmd"), ("伊丹 市", "伊丹 市"), ("a=b", "a=b"), ("", "")],
)
def test_cells_that_excel_would_run_as_formulas_get_a_leading_apostrophe(value, shown):
    assert excel_safe(value) == shown


def test_csv_has_a_bom_a_japanese_header_crlf_japan_time_and_no_formulas():
    log = InMemoryAuditLog(lambda: T0)
    log.record(actor="1", actor_login="=cmd|' /C calc'!A0", action="role.grant", target="-yamada",
               department="広報課", source="@10.0.0.1", before={"roles": []}, after={"roles": ["承認者"]})
    log.record(actor=None, actor_login="unknown", action="custom.action", target="line1\nline2")
    log.commit()
    text = "".join(csv_chunks(log.export(AuditFilter()), rows_per_chunk=1))
    assert text.startswith("\ufeff日時,職員,部署,操作,対象,接続元,変更前,変更後\r\n")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert tuple(rows[0]) == CSV_HEADER
    assert rows[1] == [
        "2026-11-24 09:30:00", "'=cmd|' /C calc'!A0", "広報課", "権限の付与 (role.grant)", "'-yamada",
        "'@10.0.0.1", '{"roles":[]}', '{"roles":["承認者"]}',
    ]
    assert rows[2][3] == "custom.action" and rows[2][4] == "line1\nline2"
    assert text.count("\r\n") == 3 + 0 and text.endswith("\r\n")  # header and two rows (the \n is inside quotes)


# --- the use cases, as stories ------------------------------------------------------------------


class AuditedUnitOfWork(InMemoryUnitOfWork, AbstractAdminUnitOfWork):
    def __init__(self, log: InMemoryAuditLog) -> None:
        super().__init__()
        self.audit = log

    def commit(self) -> None:
        super().commit()
        self.audit.commit()

    def rollback(self) -> None:
        super().rollback()
        self.audit.rollback()


def test_an_export_is_recorded_and_committed_before_any_row_is_produced():
    log = filled(3)
    uow = AuditedUnitOfWork(log)
    with uow:
        chunks = audit_use_cases.export_csv(uow, AuditFilter(department="広報課"), actor="7", actor_login="admin1",
                                            source="192.0.2.9")
        assert log.events[-1].action == "audit.export"  # before the first chunk is asked for
        text = "".join(chunks)
    assert log.events[-1] == AuditEvent.of(
        actor="7", actor_login="admin1", action="audit.export", department="広報課", source="192.0.2.9",
        after={"conditions": {"person": None, "department": "広報課", "action": None, "since": None, "until": None}},
    )
    # the header, the one 広報課 entry before, and the export's own entry (committed before reading)
    assert text.count("\r\n") == 3 and "操作ログの書き出し (audit.export)" in text


def test_verify_as_a_query_on_the_bus():
    log = filled(4)
    bus = MessageBus(lambda: AuditedUnitOfWork(log), Handlers[AbstractAdminUnitOfWork]())
    assert bus.query(audit_use_cases.verify()).intact
    log.entries[1] = replace(log.entries[1], event=replace(log.entries[1].event, target="forged"))
    finding = bus.query(audit_use_cases.verify()).findings[0]
    assert str(finding) == "seq 2: changed (content does not match its row_hash)"
