"""操作ログ against PostgreSQL: same transaction, append-only, one chain under concurrent writers, and
``admin-ui-audit verify`` naming the rows an attacker with more rights than the application touched.

Tampering tests run on a database of their own (they break the chain for good) and simulate an
attacker who may disable the table's triggers as their owner.
"""

import os
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from admin_ui.bootstrap import AdminUi, bootstrap
from admin_ui.config import Settings
from admin_ui.domain.audit import AuditEvent, ChainHead, seal
from admin_ui.entrypoints import audit_cli
from admin_ui.manifest import MANIFEST
from cityline_common.migrations import upgrade
from cityline_common.settings import load_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from testsupport import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture
def audit_database(service_env, monkeypatch) -> Iterator[str]:
    """A database of this test's own with admin-ui's schema at head."""
    from conftest import ADMIN_DATABASE_URL

    name = f"cityline_audit_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(ADMIN_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    upgrade(MANIFEST, url)
    monkeypatch.setenv("DATABASE_URL", url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def service(audit_database) -> Iterator[AdminUi]:
    service = bootstrap(load_settings(Settings))
    yield service
    service.engine.dispose()


@pytest.fixture
def owner(audit_database) -> Iterator[Engine]:
    """The tables' owner, talking SQL directly (what the tests tamper with)."""
    engine = create_engine(audit_database)
    yield engine
    engine.dispose()


def record(service: AdminUi, count: int, prefix: str = "user") -> None:
    for n in range(count):
        with service.bus.uow_factory() as uow:
            uow.audit.record(actor=str(n), actor_login=f"staff{n % 2}", action="account.create",
                             target=f"{prefix}{n}", department="広報課", source="192.0.2.10",
                             before=None, after={"login": f"{prefix}{n}", "roles": ["作成者"]})
            uow.commit()


def verify(capsys, *args: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        audit_cli.main(["verify", *args])
    return int(exit_.value.code or 0), capsys.readouterr().out


def tamper(owner: Engine, *statements: str, triggers: tuple[str, ...] = ("audit_log_append_only",)) -> None:
    with owner.begin() as connection:
        for trigger in triggers:
            connection.execute(text(f"ALTER TABLE admin.audit_log DISABLE TRIGGER {trigger}"))
        for statement in statements:
            connection.execute(text(statement))
        for trigger in triggers:
            connection.execute(text(f"ALTER TABLE admin.audit_log ENABLE TRIGGER {trigger}"))


def rows(owner: Engine) -> list[tuple[int, str, str]]:
    with owner.connect() as connection:
        return [tuple(row) for row in connection.execute(
            text("SELECT seq, prev_hash, row_hash FROM admin.audit_log ORDER BY seq"))]


# --- the write side -----------------------------------------------------------------------------


def test_an_entry_commits_with_its_transaction_and_a_rollback_leaves_neither_row_nor_gap(service, owner):
    record(service, 2)
    with service.bus.uow_factory() as uow:
        uow.audit.record(actor="9", actor_login="yamada", action="role.grant", target="suzuki")
        # the change it records, on the same connection
        uow.connection.execute(text("CREATE TEMPORARY TABLE change_it_records (x int)"))
        uow.rollback()
    assert len(rows(owner)) == 2
    with service.bus.uow_factory() as uow:
        uow.audit.record(actor="9", actor_login="yamada", action="role.grant", target="suzuki")
        # leaving without commit (an exception in the use case) rolls back too
    record(service, 1, prefix="after")
    assert [seq for seq, *_ in rows(owner)] == [1, 2, 3]  # the chain's own counter: no gap
    with service.bus.uow_factory() as uow:
        page = uow.audit.search(person="staff0")
        assert [entry.event.target for entry in page.entries] == ["after0", "user0"]
        assert page.entries[0].event.after == {"login": "after0", "roles": ["作成者"]}
        assert page.entries[0].occurred_at.tzinfo is not None


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE admin.audit_log SET target = 'forged' WHERE seq = 1",
        "DELETE FROM admin.audit_log WHERE seq = 1",
        "TRUNCATE admin.audit_log",
        "UPDATE admin.audit_chain SET seq = 0",
        "DELETE FROM admin.audit_chain",
    ],
)
def test_the_application_role_cannot_change_or_remove_entries(service, owner, statement):
    record(service, 2)
    with owner.connect() as connection, pytest.raises(DBAPIError, match=r"append-only|moves only with"):
        connection.execute(text(statement))
    assert len(rows(owner)) == 2


def test_an_entry_that_does_not_follow_the_chain_head_is_refused(service, owner):
    record(service, 2)
    (_, _, last), = rows(owner)[-1:]
    with owner.connect() as connection, pytest.raises(DBAPIError, match="does not follow the chain head"):
        connection.execute(text(
            "INSERT INTO admin.audit_log (seq, occurred_at, action, prev_hash, row_hash)"
            " VALUES (5, now(), 'x', :prev, :hash)"), {"prev": last, "hash": "f" * 64})


def test_public_holds_no_update_delete_or_truncate(owner):
    with owner.connect() as connection:
        granted = connection.execute(text(
            "SELECT privilege_type FROM information_schema.role_table_grants"
            " WHERE table_schema = 'admin' AND table_name IN ('audit_log', 'audit_chain') AND grantee = 'PUBLIC'"
        )).scalars().all()
    assert not {"UPDATE", "DELETE", "TRUNCATE"} & set(granted)


def test_concurrent_writers_keep_one_chain(service, owner, capsys):
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            record(service, 50, prefix=name)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert [seq for seq, *_ in rows(owner)] == list(range(1, 101))
    code, out = verify(capsys)
    assert code == 0, out
    assert out.startswith("chain intact (100 rows, head seq 100, ")


# --- verify ---------------------------------------------------------------------------------------


def test_verify_passes_on_an_untouched_chain_as_a_console_script(service, audit_database):
    record(service, 3)
    done = subprocess.run(
        [str(ROOT / ".venv/bin/admin-ui-audit"), "verify"], capture_output=True, text=True, timeout=60,
        env={**os.environ, "DATABASE_URL": audit_database},
    )
    assert done.returncode == 0, done.stderr
    head = rows_head(audit_database)
    assert done.stdout.strip() == f"chain intact (3 rows, head seq 3, {head})"


def rows_head(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return str(connection.execute(text("SELECT row_hash FROM admin.audit_chain")).scalar_one())
    finally:
        engine.dispose()


def test_verify_names_a_changed_row(service, owner, capsys):
    record(service, 6)
    tamper(owner, "UPDATE admin.audit_log SET after = '{\"roles\": [\"システム管理者\"]}' WHERE seq = 4")
    code, out = verify(capsys)
    assert code == 1
    assert "seq 4: changed" in out and "seq 5" not in out


def test_verify_names_deleted_rows_in_the_middle_and_at_the_end(service, owner, capsys):
    record(service, 6)
    tamper(owner, "DELETE FROM admin.audit_log WHERE seq IN (2, 3)", "DELETE FROM admin.audit_log WHERE seq = 6")
    code, out = verify(capsys)
    assert code == 1
    assert "seq 2-3: deleted (sequence gap)" in out
    assert "seq 6: deleted (missing at the end" in out


def test_verify_names_an_inserted_row(service, owner, capsys):
    record(service, 6)
    (_, _, hash_3), = [row for row in rows(owner) if row[0] == 3]
    forged = seal(ChainHead(3, hash_3), datetime.now(UTC),
                  AuditEvent.of(actor="1", actor_login="attacker", action="role.grant", target="attacker"))
    tamper(
        owner,
        # make room after seq 3 (two steps: the primary key is checked row by row)
        "UPDATE admin.audit_log SET seq = -seq WHERE seq > 3",
        "UPDATE admin.audit_log SET seq = -seq + 1 WHERE seq < 0",
        "INSERT INTO admin.audit_log (seq, occurred_at, actor, actor_login, action, target, prev_hash, row_hash)"
        f" VALUES (4, '{forged.occurred_at.isoformat()}', '1', 'attacker', 'role.grant', 'attacker',"
        f" '{forged.prev_hash}', '{forged.row_hash}')",
        triggers=("audit_log_append_only", "audit_log_follow_chain"),
    )
    code, out = verify(capsys)
    assert code == 1
    assert "seq 4: inserted (seq 5 links to seq 3)" in out


def test_an_anchor_kept_outside_catches_a_rewritten_chain(service, owner, capsys):
    record(service, 4)
    code, out = verify(capsys)
    anchor = out.split("head seq ")[1].rstrip(")\n").replace(", ", ":")
    assert code == 0
    # The attacker rewrites the last entry and recomputes its hash and the head.
    seq, prev, _ = rows(owner)[-1]
    forged = seal(ChainHead(seq - 1, prev), datetime.now(UTC),
                  AuditEvent.of(actor=None, actor_login=None, action="sign_in"))
    with owner.begin() as connection:
        connection.execute(text("ALTER TABLE admin.audit_log DISABLE TRIGGER audit_log_append_only"))
        connection.execute(text("ALTER TABLE admin.audit_chain DISABLE TRIGGER audit_chain_guard"))
        connection.execute(text(
            "UPDATE admin.audit_log SET occurred_at = :at, actor = NULL, actor_login = NULL, action = 'sign_in',"
            " target = NULL, department = NULL, source = NULL, after = NULL, row_hash = :hash WHERE seq = :seq"),
            {"at": forged.occurred_at, "hash": forged.row_hash, "seq": seq})
        connection.execute(text("UPDATE admin.audit_chain SET row_hash = :hash"), {"hash": forged.row_hash})
    assert verify(capsys)[0] == 0  # the chain alone cannot tell
    code, out = verify(capsys, "--anchor", anchor)
    assert code == 1 and f"seq {seq}: changed" in out
