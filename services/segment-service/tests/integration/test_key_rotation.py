"""Rotating both keyrings online, against the real PostgreSQL: `cityline-keys rotate` runs while
follows and unfollows keep arriving through segment-service's bus; afterwards every row is under the
new keys, the old keys can go, and with only the new keys every resident is still found, once."""

import io
import itertools
import random
import threading
import time

import pytest
from cityline_common.crypto import FieldCipher, generate_key
from cityline_common.keys import main as keys_main
from cityline_common.settings import load_settings
from segment_service.adapters.orm import plumbing, residents
from segment_service.adapters.repository import LINE_USER_ID_CONTEXT
from segment_service.bootstrap import bootstrap
from segment_service.config import Settings
from segment_service.domain.commands import FollowResident, UnfollowResident
from sqlalchemy import create_engine, select

pytestmark = [pytest.mark.integration, pytest.mark.slow]

K1, K2, I1, I2 = (generate_key() for _ in range(4))
OLD_FIELD, OLD_INDEX = f"k1:{K1}", f"i1:{I1}"
BOTH_FIELD, BOTH_INDEX = f"k2:{K2},k1:{K1}", f"i2:{I2},i1:{I1}"
NEW_FIELD, NEW_INDEX = f"k2:{K2}", f"i2:{I2}"


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
    """segment-service (and `cityline-keys`, which reads the same environment) with the given rings."""
    made = []

    def make(field, index):
        monkeypatch.setenv("FIELD_ENCRYPTION_KEYS", field)
        monkeypatch.setenv("BLIND_INDEX_KEY", index)
        service = bootstrap(load_settings(Settings))
        made.append(service)
        return service

    yield make
    for service in made:
        service.engine.dispose()


def user(n):
    return f"U{n:032x}"


def stored(database):
    with database.connect() as connection:
        return connection.execute(select(residents.c.id, residents.c.line_user_id_ct,
                                         residents.c.line_user_id_bidx)).all()


def residents_by_user(database, cipher):
    return {cipher.decrypt_for_row(token, LINE_USER_ID_CONTEXT, row_id): row_id
            for row_id, token, _ in stored(database)}


def keys(*argv):
    """cityline-keys for segment-service's columns (other services' rows are under the suite's keys)."""
    out = io.StringIO()
    code = keys_main([*argv, "--service", "segment"], out)
    return code, out.getvalue()


class Traffic(threading.Thread):
    """Follows and unfollows of known and new residents, as the consumer would hand them to the bus."""

    def __init__(self, service, known, seed):
        super().__init__(daemon=True)
        self.service, self.known, self.seed = service, list(known), seed
        self.users = set(known)
        self.done, self.errors = 0, []
        self.stop = threading.Event()
        self._next_user = itertools.count(100_000 * seed)
        self._clock = itertools.count(10_000)

    def run(self):
        rng = random.Random(self.seed)
        while not self.stop.is_set():
            if rng.random() < 0.3:
                line_user_id = user(next(self._next_user))
                self.users.add(line_user_id)
            else:
                line_user_id = rng.choice(self.known)
            command = FollowResident if rng.random() < 0.5 else UnfollowResident
            try:
                self.service.bus.handle(command(line_user_id, next(self._clock)))
            except Exception as exc:  # every failure is a test failure, reported below
                self.errors.append(repr(exc))
            self.done += 1

    def wait_for(self, more, timeout=60):
        target, deadline = self.done + more, time.monotonic() + timeout
        while self.done < target:
            assert time.monotonic() < deadline, "traffic stalled"
            assert not self.errors, self.errors
            time.sleep(0.01)


def test_both_keyrings_rotate_under_traffic_and_the_old_keys_can_then_go(database, segment):
    old = segment(OLD_FIELD, OLD_INDEX)
    known = [user(n) for n in range(1, 301)]
    for n, line_user_id in enumerate(known):
        old.bus.handle(FollowResident(line_user_id, 1000 + n))
    assert {(token[:6], index[:3]) for _, token, index in stored(database)} == {("v2:k1:", "i1:")}

    # Every pod now runs with the new key first in both rings; the old keys still read. Three
    # workers, like the consumer's, share the service.
    service = segment(BOTH_FIELD, BOTH_INDEX)
    workers = [Traffic(service, known, seed) for seed in (1, 2, 3)]
    for worker in workers:
        worker.start()
    try:
        workers[0].wait_for(30)
        during = sum(worker.done for worker in workers)
        code, output = keys("rotate", "--batch", "20")
        assert sum(worker.done for worker in workers) > during, "the rotation did not overlap the traffic"
        workers[0].wait_for(30)
    finally:
        for worker in workers:
            worker.stop.set()
        for worker in workers:
            worker.join(30)
    assert [error for worker in workers for error in worker.errors] == []
    assert code == 0, output
    users = set().union(*(worker.users for worker in workers))
    assert "segment: segment.residents.line_user_id_ct: " in output and "rows/s" in output
    assert "nothing left to rotate" in output
    assert "FIELD_ENCRYPTION_KEYS k1: no row uses it any more; it can be removed" in output
    assert "BLIND_INDEX_KEY i1: no row uses it any more; it can be removed" in output

    rows = stored(database)
    assert all(token.startswith("v2:k2:") for _, token, _ in rows)
    assert all(index.startswith("i2:") for _, _, index in rows)
    assert len(rows) == len(users)  # one resident per LINE user, none doubled by the traffic

    # The old keys removed: every resident still decrypts, and is found rather than inserted again.
    new = segment(NEW_FIELD, NEW_INDEX)
    before = residents_by_user(database, FieldCipher.from_spec(NEW_FIELD))
    assert set(before) == users
    clock = itertools.count(10_000_000)
    for line_user_id in sorted(users):
        new.bus.handle(FollowResident(line_user_id, next(clock)))
    assert residents_by_user(database, FieldCipher.from_spec(NEW_FIELD)) == before
    assert len(stored(database)) == len(before)
    assert keys("rotate")[0] == 0


def test_status_says_old_keys_are_removable_only_after_rotation_which_resumes_where_it_stopped(database, segment):
    old = segment(OLD_FIELD, OLD_INDEX)
    for n in range(1, 26):
        old.bus.handle(FollowResident(user(n), 1000))
    segment(BOTH_FIELD, BOTH_INDEX)  # the environment `cityline-keys` reads: the new keys first

    code, before = keys("status")
    assert code == 0
    assert "segment: segment.residents.line_user_id_ct (blind index line_user_id_bidx): 25 rows" in before
    assert "field keys: k1 25" in before and "index keys: i1 25" in before and "need rotation: 25" in before
    assert "FIELD_ENCRYPTION_KEYS k1: in use by 25 rows; keep it" in before
    assert "BLIND_INDEX_KEY i1: in use by 25 rows; keep it" in before
    assert "can be removed" not in before

    code, partly = keys("rotate", "--batch", "4", "--limit", "10")
    assert code == 3, partly  # stopped by --limit: rows remain
    assert "10 rotated" in partly and "15 remaining" in partly
    code, middle = keys("status")
    assert "field keys: k2 10 (active), k1 15" in middle and "need rotation: 15" in middle
    assert "can be removed" not in middle

    code, rest = keys("rotate", "--batch", "4")
    assert code == 0, rest
    assert "15 rows to rotate" in rest and "15 rotated" in rest  # it went on where the first run stopped
    code, after = keys("status")
    assert "field keys: k2 25 (active)" in after and "index keys: i2 25 (active)" in after
    assert "need rotation: 0" in after
    assert "FIELD_ENCRYPTION_KEYS k1: no row uses it; can be removed" in after
    assert "BLIND_INDEX_KEY i1: no row uses it; can be removed" in after


def test_rows_held_by_live_transactions_are_skipped_not_waited_for_and_taken_in_a_later_pass(database, segment):
    old = segment(OLD_FIELD, OLD_INDEX)
    for n in range(1, 11):
        old.bus.handle(FollowResident(user(n), 1000))
    segment(BOTH_FIELD, BOTH_INDEX)
    held = residents_by_user(database, FieldCipher.from_spec(OLD_FIELD))[user(5)]
    result: list[tuple[int, str]] = []
    with database.connect() as connection:  # a handler holds user 5's row …
        connection.execute(select(residents.c.id).where(residents.c.id == held).with_for_update())
        rotation = threading.Thread(target=lambda: result.append(keys("rotate", "--batch", "3")), daemon=True)
        rotation.start()

        def rotated():
            return sum(token.startswith("v2:k2:") for _, token, _ in stored(database))

        deadline = time.monotonic() + 20
        while rotated() < 9:  # … the rotation does the other nine meanwhile
            assert time.monotonic() < deadline, "the rotation waited for the held row"
            time.sleep(0.05)
        assert rotation.is_alive()  # and keeps coming back for the tenth
        connection.commit()
    rotation.join(30)
    [(code, output)] = result
    assert code == 0, output
    assert rotated() == 10


def test_display_names_rotate_with_the_line_ids_and_rows_without_one_are_not_counted(database, segment):
    from datetime import UTC, datetime

    from segment_service.adapters.line_api import Profile
    from segment_service.adapters.orm import DISPLAY_NAME
    from segment_service.adapters.profiles import SqlProfileStore

    old = segment(OLD_FIELD, OLD_INDEX)
    for n in range(1, 6):
        old.bus.handle(FollowResident(user(n), 1000))
    named = [row_id for row_id, _token, _index in stored(database)][:3]
    SqlProfileStore(old.engine, old.cipher).save([(row_id, Profile("伊丹 花子", "ja")) for row_id in named],
                                                 datetime.now(UTC))
    segment(BOTH_FIELD, BOTH_INDEX)
    code, before = keys("status")
    assert code == 0
    assert "segment: segment.residents.display_name_ct: 3 rows" in before  # the two without a name hold no key

    code, out = keys("rotate")
    assert code == 0, out
    new = FieldCipher.from_spec(NEW_FIELD)
    with database.connect() as connection:
        rows = connection.execute(select(residents.c.id, residents.c.display_name_ct)
                                  .where(residents.c.display_name_ct.is_not(None))).all()
    assert {new.decrypt_for_row(token, DISPLAY_NAME.context, row_id) for row_id, token in rows} == {"伊丹 花子"}
    assert all(token.startswith("v2:k2:") for _row_id, token in rows)
