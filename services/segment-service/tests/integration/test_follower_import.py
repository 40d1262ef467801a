"""`segment-service-residents import-followers` against the real database and the LINE emulator: a run
killed mid-way and run again registers each of 5,000 friends exactly once; profiles follow, sealed,
backing off when LINE answers 429."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cityline_common.settings import load_settings
from segment_service.adapters.orm import DISPLAY_NAME, LINE_USER_ID, follower_imports, residents
from segment_service.bootstrap import bootstrap
from segment_service.config import Settings
from sqlalchemy import func, select

from testsupport import ROOT
from testsupport.emulator import running_emulator

pytestmark = pytest.mark.integration

CLI = str(Path(sys.executable).parent / "segment-service-residents")
FRIENDS = 5000


@pytest.fixture
def service(service_env):
    service = bootstrap(load_settings(Settings))
    with service.engine.begin() as connection:  # each test starts from an empty schema
        connection.execute(residents.delete())
        connection.execute(follower_imports.delete())
    yield service
    service.engine.dispose()


@pytest.fixture
def emulator():
    with running_emulator(residents=FRIENDS + 10) as (url, emulator):
        with emulator.world.lock:
            for number, resident in enumerate(emulator.world.residents.values()):
                resident.friend = number < FRIENDS  # 5,000 friends from before this system, 10 strangers
        yield url, emulator


def cli(url, *args):
    return subprocess.Popen([CLI, *args], cwd=ROOT, env={**os.environ, "LINE_API_BASE_URL": url,
                                                          "LINE_API_DATA_BASE_URL": url},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_an_import_killed_mid_way_then_run_again_registers_each_friend_once(service, emulator):
    url, line = emulator
    friends = {resident.user_id for resident in line.world.friends()}
    # Slowly (10 pages a second) so the kill lands mid-way: after the fifth page was committed.
    first = cli(url, "import-followers", "--page-size", "100", "--max-rate", "10")
    seen = []
    assert first.stderr is not None
    for text in first.stderr:
        seen.append(text)
        if "page 5," in text:
            first.send_signal(signal.SIGKILL)
            break
    first.wait(30)
    assert first.returncode == -signal.SIGKILL, "".join(seen)
    with service.engine.connect() as connection:
        [stopped] = connection.execute(select(follower_imports)).all()
        registered = connection.execute(select(func.count()).select_from(residents)).scalar_one()
    assert stopped.finished_at is None and 5 <= stopped.pages_done < 50
    assert registered == stopped.residents_added == stopped.ids_seen  # each page with its progress

    # LINE now answers some calls 429 (the channel's budget is shared with other senders): the tool
    # waits and asks again; every page and every profile is fetched all the same.
    line.faults.rate_limit_rate = 0.004
    again = cli(url, "import-followers", "--page-size", "100", "--max-rate", "500", "--profiles")
    _out, err = again.communicate(timeout=180)
    assert again.returncode == 0, err
    assert "LINE answered HTTP 429; waiting" in err
    assert f"import {stopped.id}: page {stopped.pages_done + 1}," in err  # resumed, not started over
    assert f"{FRIENDS:,} ids, {FRIENDS:,} residents added" in err
    assert f"profiles finished: {FRIENDS:,} stored" in err

    with service.engine.connect() as connection:
        rows = connection.execute(select(residents)).all()
        [run] = connection.execute(select(follower_imports)).all()
    assert (run.id, run.pages_done, run.ids_seen, run.residents_added) == (stopped.id, 50, FRIENDS, FRIENDS)
    assert run.finished_at is not None
    stored = {service.cipher.decrypt_for_row(row.line_user_id_ct, LINE_USER_ID.context, row.id): row for row in rows}
    assert len(rows) == len(stored) == FRIENDS and set(stored) == friends  # each exactly once
    assert {(row.origin, row.status, row.followed_at) for row in rows} == {("import", "following", None)}
    for user_id in list(friends)[:50]:  # names sealed to their rows, languages in clear
        row = stored[user_id]
        profile = line.world.resident(user_id)
        assert profile.display_name not in row.display_name_ct
        assert service.cipher.decrypt_for_row(row.display_name_ct, DISPLAY_NAME.context, row.id) == profile.display_name
        assert row.language == profile.language and row.profile_fetched_at is not None

    # A new run finds everyone registered and every profile fetched: it adds nothing, asks for no profile.
    profile_calls = line.world.requests_by_endpoint.get("getProfile", 0)
    last = cli(url, "import-followers", "--profiles")
    _out, err = last.communicate(timeout=60)
    assert last.returncode == 0, err
    assert f"{FRIENDS:,} ids, 0 residents added" in err
    assert line.world.requests_by_endpoint.get("getProfile", 0) == profile_calls
