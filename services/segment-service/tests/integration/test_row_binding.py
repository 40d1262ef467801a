"""LINE user ids at rest are bound to their resident's row, against the real PostgreSQL: a token or an
index moved to another row does not make segment-service act on the wrong person; rows sealed before
row binding are re-sealed once by `cityline-keys rotate`; pods on two rings create no duplicate."""

import io
import threading
import uuid

import pytest
from cityline_common.crypto import BlindIndex, CryptoError, FieldCipher, generate_key
from cityline_common.keys import main as keys_main
from cityline_common.settings import load_settings
from segment_service.adapters.orm import plumbing, residents
from segment_service.adapters.repository import LINE_USER_ID_CONTEXT, LINE_USER_ID_INDEX
from segment_service.bootstrap import bootstrap
from segment_service.config import Settings
from segment_service.domain.commands import FollowResident, UnfollowResident
from segment_service.domain.model import Resident
from sqlalchemy import create_engine, func, select

pytestmark = pytest.mark.integration

FIELD = f"k1:{generate_key()}"
INDEX_KEY = generate_key()
INDEX = f"i1:{INDEX_KEY}"
ALICE, BOB = "U" + "a1" * 16, "U" + "b2" * 16


@pytest.fixture
def database(service_env):
    engine = create_engine(service_env["DATABASE_URL"])

    def wipe():
        with engine.begin() as connection:
            connection.execute(residents.delete())
            connection.execute(plumbing.outbox.delete())
            connection.execute(plumbing.processed_messages.delete())

    wipe()
    yield engine
    wipe()
    engine.dispose()


@pytest.fixture
def segment(database, monkeypatch):
    """segment-service (and `cityline-keys`) with the given keyrings in the environment."""
    made = []

    def make(field=FIELD, index=INDEX):
        monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", field)
        monkeypatch.setenv("BLIND_INDEX_KEY", index)
        service = bootstrap(load_settings(Settings))
        made.append(service)
        return service

    yield make
    for service in made:
        service.engine.dispose()


def rows_by_user(database, cipher):
    with database.connect() as connection:
        rows = connection.execute(select(residents)).all()
    return {cipher.decrypt_for_row(row.line_user_id_ct, LINE_USER_ID_CONTEXT, row.id): row for row in rows}


def count(database, table=residents):
    with database.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


def test_a_token_copied_into_another_residents_row_does_not_open_there(database, segment):
    service = segment()
    service.bus.handle(FollowResident(ALICE, 1000))
    service.bus.handle(FollowResident(BOB, 1000))
    service.bus.handle(UnfollowResident(BOB, 2000))
    alice, bob = (rows_by_user(database, service.cipher)[user] for user in (ALICE, BOB))
    with database.begin() as connection:  # someone with write access to the table copies alice's token
        connection.execute(residents.update().where(residents.c.id == bob.id)
                           .values(line_user_id_ct=alice.line_user_id_ct))
    events = count(database, plumbing.outbox)

    # Bob follows again: his row no longer opens, so nothing is done (the consumer retries, then
    # dead-letters the event) instead of announcing alice's LINE id as bob's.
    with pytest.raises(CryptoError, match="wrong context or row"):
        service.bus.handle(FollowResident(BOB, 3000))
    with database.connect() as connection:
        assert connection.execute(select(residents.c.status).where(residents.c.id == bob.id)).scalar_one() == "blocked"
    assert count(database, plumbing.outbox) == events
    service.bus.handle(UnfollowResident(ALICE, 3000))  # alice's own row is untouched
    assert count(database, plumbing.outbox) == events + 1


def test_an_index_moved_to_another_row_does_not_find_the_wrong_person(database, segment):
    service = segment()
    service.bus.handle(FollowResident(ALICE, 1000))
    service.bus.handle(FollowResident(BOB, 1000))
    alice, bob = (rows_by_user(database, service.cipher)[user] for user in (ALICE, BOB))
    with database.begin() as connection:  # swap the two indexes
        connection.execute(residents.update().where(residents.c.id == alice.id).values(line_user_id_bidx="swap"))
        connection.execute(residents.update().where(residents.c.id == bob.id)
                           .values(line_user_id_bidx=alice.line_user_id_bidx))
        connection.execute(residents.update().where(residents.c.id == alice.id)
                           .values(line_user_id_bidx=bob.line_user_id_bidx))
    with pytest.raises(CryptoError, match="does not hold the LINE user id its blind index names"):
        service.bus.handle(UnfollowResident(ALICE, 2000))
    assert count(database) == 2


def test_pods_on_the_old_and_the_new_index_ring_create_no_duplicate_of_a_first_follow(database, segment):
    """While a new BLIND_INDEX_KEY ring rolls out, a pod on the old ring ("i1") and one on the new
    ("i2,i1") write a first follow under different keys; the unique constraint cannot tell them apart,
    the advisory locks on the shared key's index do."""
    old = segment(index=INDEX)
    new = segment(index=f"i2:{generate_key()},{INDEX}")
    outcome: list[object] = []

    def follow_on_the_new_ring():
        try:
            new.bus.handle(FollowResident(ALICE, 1001))
            outcome.append("done")
        except Exception as exc:  # reported by the assertion below
            outcome.append(exc)

    with old.bus.uow_factory() as uow:  # the old pod takes alice's first follow, not yet committed …
        assert uow.residents.get_by_line_user_id(ALICE) is None
        uow.residents.add(Resident.first_follow(ALICE, 1000))
        racer = threading.Thread(target=follow_on_the_new_ring)
        racer.start()  # … when the new pod gets an event for her too
        racer.join(1.0)
        assert racer.is_alive(), f"the new pod did not wait for the old one: {outcome}"
        uow.commit()
    racer.join(10)
    assert outcome == ["done"]
    with database.connect() as connection:
        [stored] = connection.execute(select(residents.c.line_user_id_bidx)).scalars().all()
    assert stored.startswith("i1:")  # the new pod found the old pod's row instead of inserting its own


def test_rows_sealed_before_row_binding_are_refused_until_the_one_time_rotation(database, segment):
    """The upgrade: the previous release sealed LINE ids with the column context only and indexed them
    under a bare BLIND_INDEX_KEY. The configuration stays as it was; reads refuse those tokens until
    `cityline-keys rotate` re-seals them, which refuses a legacy token moved to another row."""
    bare_index = generate_key()
    cipher, index = FieldCipher.from_spec(FIELD), BlindIndex(bare_index)
    users = [f"U{n:032x}" for n in range(1, 6)]
    ids = [uuid.uuid4() for _ in users]
    with database.begin() as connection:  # what the previous release wrote
        connection.execute(residents.insert(), [
            {"id": row_id, "line_user_id_ct": cipher.encrypt(user, LINE_USER_ID_CONTEXT),
             "line_user_id_bidx": index.compute(LINE_USER_ID_INDEX, user), "status": "following",
             "status_changed_at_ms": 1000}
            for row_id, user in zip(ids, users, strict=True)
        ])
        assert all(len(value) == 64 for value in connection.execute(select(residents.c.line_user_id_bidx)).scalars())
        # Before the upgrade someone moved user 2's token into user 3's row: it would open there.
        connection.execute(residents.update().where(residents.c.id == ids[2]).values(
            line_user_id_ct=select(residents.c.line_user_id_ct).where(residents.c.id == ids[1]).scalar_subquery()))
    service = segment(index=bare_index)

    with pytest.raises(CryptoError, match="sealed before row binding"):
        service.bus.handle(UnfollowResident(users[0], 2000))
    out = io.StringIO()
    assert keys_main(["status"], out) == 0
    assert "sealed before row binding: 5" in out.getvalue() and "need rotation: 5" in out.getvalue()

    out = io.StringIO()
    assert keys_main(["rotate", "--batch", "2"], out) == 1  # one row could not be rotated
    assert f"row {ids[2]} not rotated: its token does not match its blind index" in out.getvalue()
    with database.connect() as connection:
        tokens = dict(connection.execute(select(residents.c.id, residents.c.line_user_id_ct)).all())
        indexes = set(connection.execute(select(residents.c.line_user_id_bidx)).scalars())
    assert tokens[ids[2]].startswith("v1:")  # left for a person to look at, not laundered
    assert all(tokens[row_id].startswith("v2:k1:") for row_id in ids if row_id != ids[2])
    assert indexes == {index.compute(LINE_USER_ID_INDEX, user) for user in users}  # k0 is still active: bare

    for user in (users[0], users[1], users[3], users[4]):
        service.bus.handle(UnfollowResident(user, 3000))
    with pytest.raises(CryptoError):
        service.bus.handle(UnfollowResident(users[2], 3000))
    with database.connect() as connection:
        statuses = dict(connection.execute(select(residents.c.id, residents.c.status)).all())
    assert count(database) == 5
    assert [statuses[row_id] for row_id in ids] == ["blocked", "blocked", "following", "blocked", "blocked"]
