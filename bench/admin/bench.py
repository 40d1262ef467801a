"""Benchmark: the staff console (admin-ui) under 20 concurrent staff, as deployed.

    make bench            # or: set -a; . ./.env; set +a; .venv/bin/python bench/admin/bench.py [--seconds 15]

Makes a database of its own (dropped afterwards), migrates admin-ui's and segment-service's schemas,
seeds a city's worth of residents (counters and rows; the dashboard reads counts) and 20 staff
accounts with TOTP, then starts segment-service and admin-ui as deployed (``cityline-serve``:
gunicorn, their manifests' workers and threads, JSON access log on) so the dashboard's internal API
call is real. A second process on loopback (loadgen.py) plays the staff. Measures:

* argon2id: hash and verify times with the configured parameters (nothing else running);
* the sign-in page, GET, 20 staff each asking again the moment the page arrives (target p95 < 100 ms);
* a signed-in page (the dashboard: session check, then segment-service's summary over HTTP with a
  token signed for the member), the same way (target p95 < 300 ms); before it, the 20 sign in at once;
* a full sign-in (form, password, code form, code), one member after another.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from statistics import median
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from admin_ui.adapters.passwords import Argon2PasswordHasher  # noqa: E402
from admin_ui.bootstrap import bootstrap  # noqa: E402
from admin_ui.config import Settings  # noqa: E402
from admin_ui.domain.commands import CreateDepartment, CreateStaff  # noqa: E402
from admin_ui.domain.permissions import Grant, Role  # noqa: E402
from cityline_common.manifest import registered_services  # noqa: E402
from cityline_common.migrations import ensure_database, upgrade  # noqa: E402
from cityline_common.settings import load_settings  # noqa: E402

from testsupport import TEST_KEYS  # noqa: E402
from testsupport.processes import RunningProcess, free_port  # noqa: E402

HERE = Path(__file__).resolve().parent
STAFF = 20
PASSWORD = "bench-kusunoki-no-michi"
DEPARTMENTS = (("bousai", "防災危機管理課"), ("kosodate", "子育て支援課"), ("kouhou", "広報課"))


def process_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (a gunicorn master and workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine (every core) since boot, from /proc/stat."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def loadavg() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def argon2_times(settings: Settings, rounds: int = 30) -> dict[str, Any]:
    hasher = Argon2PasswordHasher(settings.admin_ui_argon2_time_cost, settings.admin_ui_argon2_memory_kib)
    hashes, verifies = [], []
    stored = hasher.hash(PASSWORD)
    for _ in range(rounds):
        started = time.perf_counter()
        hasher.hash(PASSWORD)
        hashes.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert hasher.verify(stored, PASSWORD)
        verifies.append(time.perf_counter() - started)
    return {"type": "argon2id", "time_cost": settings.admin_ui_argon2_time_cost,
            "memory_kib": settings.admin_ui_argon2_memory_kib, "parallelism": 1, "rounds": rounds,
            "hash_ms_median": round(median(hashes) * 1000, 1), "verify_ms_median": round(median(verifies) * 1000, 1),
            "verify_ms_min": round(min(verifies) * 1000, 1), "verify_ms_max": round(max(verifies) * 1000, 1),
            "target_ms": 50}


def seed_residents(database_url: str, residents: int) -> None:
    """Residents as rows (the ciphertexts are placeholders: the dashboard never opens them) and 60
    days of follow and block counters over the 8 counter rows of a day."""
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO segment.residents (id, line_user_id_ct, line_user_id_bidx, status, status_changed_at_ms) "
            "SELECT gen_random_uuid(), 'bench-placeholder', 'bench:' || g, "
            "CASE WHEN g % 9 = 0 THEN 'blocked' ELSE 'following' END, 0 FROM generate_series(1, :n) AS g"),
            {"n": residents})
        connection.execute(text(
            "INSERT INTO segment.friend_changes_daily (day, shard, follows, unfollows) "
            "SELECT current_date - d, s, (d * 7 + s * 3) % 40, (d * 5 + s) % 9 "
            "FROM generate_series(0, 59) AS d, generate_series(0, 7) AS s"))
        connection.execute(text("ANALYZE segment.residents"))
    engine.dispose()


def seed_staff(settings: Settings) -> list[dict[str, str]]:
    import pyotp

    service = bootstrap(settings)
    for code, name in DEPARTMENTS:
        service.bus.handle(CreateDepartment(None, code, name))
    staff = []
    roles = (Role.VIEWER, Role.AUTHOR, Role.APPROVER)
    for n in range(STAFF):
        login = f"bench{n:02d}"
        secret = pyotp.random_base32(32)
        grants = frozenset({Grant(Role.ADMIN)}) if n == 0 else frozenset(
            {Grant(roles[n % 3], DEPARTMENTS[n % len(DEPARTMENTS)][0])})
        service.bus.handle(CreateStaff(None, login, f"ベンチ {n:02d}", grants, password=PASSWORD, totp_secret=secret))
        staff.append({"login": login, "password": PASSWORD, "secret": secret})
    service.engine.dispose()
    return staff


def load(phase: str, config: dict[str, Any], seconds: float, servers: dict[str, int] | None = None) -> dict[str, Any]:
    """Run one phase of loadgen.py; with ``servers`` (name → master pid), also the CPU milliseconds
    each server and the whole machine spent per request of the phase."""
    before = {name: process_tree_cpu_seconds(pid) for name, pid in (servers or {}).items()}
    machine = machine_cpu_seconds()
    out = subprocess.run([sys.executable, str(HERE / "loadgen.py"), phase, json.dumps(config)],
                         check=True, capture_output=True, text=True, timeout=seconds + 300)
    machine = machine_cpu_seconds() - machine
    result: dict[str, Any] = json.loads(out.stdout)
    answered = result.get("answered_total") or 0
    if servers and answered:
        spent = {name: process_tree_cpu_seconds(pid) - before[name] for name, pid in servers.items()}
        result["cpu_ms_per_request"] = {**{name: round(sec * 1000 / answered, 2) for name, sec in spent.items()},
                                        "machine (all processes)": round(machine * 1000 / answered, 2)}
    return result


def judged(result: dict[str, Any], target_ms: float) -> dict[str, Any]:
    return {**result, "target_p95_ms": target_ms, "met": result["p95_ms"] < target_ms and result["errors"] == 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per load phase")
    parser.add_argument("--residents", type=int, default=60_000, help="residents (friends and blocks) to seed")
    args = parser.parse_args()

    base_db = os.environ.get("DATABASE_URL", "postgresql://cityline:cityline@127.0.0.1:5432/cityline")
    database_url = make_url(base_db.replace("postgresql://", "postgresql+psycopg2://", 1)).set(
        database=f"cityline_bench_admin_{uuid.uuid4().hex[:8]}").render_as_string(hide_password=False)
    env = {**TEST_KEYS, "DATABASE_URL": database_url, "LOG_LEVEL": "INFO", "LOG_FORMAT": "json",
           # Plain http on loopback: the cookies drop Secure and the __Host- prefix (the local demo's mode).
           "ADMIN_UI_COOKIE_SECURE": "false", "TRUSTED_PROXIES": "0"}
    os.environ.update(env)  # seeding in this process uses the same settings as the servers
    result: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                              "machine": {"cpus": os.cpu_count(), "loadavg_at_start": loadavg()},
                              "staff": STAFF, "residents": args.residents, "seconds_per_phase": args.seconds}
    ensure_database(database_url)
    processes: list[RunningProcess] = []
    try:
        services = registered_services()
        for name in ("admin", "segment"):
            upgrade(services[name], database_url)
        settings = load_settings(Settings)
        result["argon2id"] = argon2_times(settings)
        seed_residents(database_url, args.residents)
        staff = seed_staff(settings)

        segment_port, admin_port = free_port(), free_port()
        segment = RunningProcess("bench-segment-service", ["cityline-serve", "segment-service"],
                                 {**env, "SEGMENT_SERVICE_PORT": str(segment_port)},
                                 f"http://127.0.0.1:{segment_port}/healthz")
        processes.append(segment.start())
        admin = RunningProcess("bench-admin-ui", ["cityline-serve", "admin-ui"],
                               {**env, "ADMIN_UI_PORT": str(admin_port),
                                "SEGMENT_SERVICE_URL": f"http://127.0.0.1:{segment_port}"},
                               f"http://127.0.0.1:{admin_port}/healthz")
        processes.append(admin.start())
        config = {"base": f"http://127.0.0.1:{admin_port}", "seconds": args.seconds, "staff": staff}
        assert admin.process is not None and segment.process is not None
        servers = {"admin-ui": admin.process.pid, "segment-service": segment.process.pid}  # cityline-serve execs

        result["machine"]["loadavg_before_load"] = loadavg()
        result["sign_in_page"] = judged(load("signin-page", config, args.seconds, servers), 100)
        result["signed_in_page"] = judged(load("signed-in", config, args.seconds, servers), 300)
        # The sign-ins above used this step's codes (each works once): the next step's are fresh.
        result["full_sign_in_sequential"] = load("sign-in", {**config, "step_offset": 1}, args.seconds)
        result["machine"]["loadavg_at_end"] = loadavg()
    finally:
        for process in reversed(processes):
            process.stop()
        admin_engine = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin_engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(database_url).database}" WITH (FORCE)'))
        admin_engine.dispose()
    print(json.dumps(result, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
