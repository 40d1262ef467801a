"""Benchmark: ingress-webhook under gunicorn vs. the naive line-bot-sdk Flask pattern.

    make bench            # or: .venv/bin/python bench/ingress/bench.py [--seconds 15]

Both servers run as deployed (gunicorn, 2 workers, gthread) against the real PostgreSQL and
RabbitMQ, in a database and vhost of their own that are dropped afterwards. The load comes from a
second process on loopback (bench/ingress/loadgen.py). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from cityline_common.amqp.topology import declare_with_url  # noqa: E402
from cityline_common.manifest import registered_services  # noqa: E402
from cityline_common.migrations import ensure_database, upgrade  # noqa: E402

from testsupport.processes import RunningProcess, free_port  # noqa: E402

HERE = Path(__file__).resolve().parent
SECRET = os.environ.get("LINE_CHANNEL_SECRET", "8c570fa6dd201bb328f1c1eac23a96d8")


def worker_peak_rss_mb(master_pid: int) -> list[float]:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    peaks = []
    for pid in children:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(round(int(line.split()[1]) / 1024, 1))
    return peaks


def gunicorn_master(process: RunningProcess) -> int:
    assert process.process is not None
    return process.process.pid  # cityline-serve execs gunicorn, so this is the master


def load(url: str, per_request: int, mode: str, level: float, seconds: float) -> dict:
    out = subprocess.run(
        [sys.executable, str(HERE / "loadgen.py"), url, SECRET, str(per_request), mode, str(level), str(seconds)],
        check=True, capture_output=True, text=True, timeout=seconds + 120,
    )
    return json.loads(out.stdout)


SCENARIOS = (
    (10, "open", 200),   # the target: 2,000 events/s as 200 ten-event requests/s
    (1, "open", 500),    # one-event requests at a steady 500/s
    (1, "closed", 32),   # how far one-event requests go with 32 in flight
    (10, "closed", 16),  # how far ten-event requests go with 16 in flight
    (1, "open", 2000),   # the target as 2,000 one-event requests/s (last: it may overload)
)


def settle(url: str, limit: float = 120.0) -> None:
    """Wait until an overloaded server has worked off its backlog (three quick answers in a row), so
    one scenario's queue does not count against the next."""
    quick, deadline = 0, time.monotonic() + limit
    while quick < 3 and time.monotonic() < deadline:
        started = time.monotonic()
        try:
            requests.get(url, timeout=5)
            quick = quick + 1 if time.monotonic() - started < 0.2 else 0
        except requests.RequestException:
            quick = 0
        time.sleep(0.5)


def scenarios(url: str, seconds: float) -> list[dict]:
    runs = []
    for per_request, mode, level in SCENARIOS:
        runs.append(load(url, per_request, mode, level, seconds))
        settle(url.rsplit("/", 1)[0] + "/")
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()

    base_db = os.environ.get("DATABASE_URL", "postgresql://cityline:cityline@127.0.0.1:5432/cityline")
    amqp_base = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F").rsplit("/", 1)[0]
    tag = uuid.uuid4().hex[:8]
    database_url = make_url(base_db.replace("postgresql://", "postgresql+psycopg2://", 1)).set(
        database=f"cityline_bench_{tag}").render_as_string(hide_password=False)
    vhost = f"cityline_bench_{tag}"
    use_vhost = shutil.which("rabbitmqctl") is not None
    if use_vhost:
        subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True)
        subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True)
    amqp_url = f"{amqp_base}/{quote(vhost, safe='')}" if use_vhost else f"{amqp_base}/%2F"
    ensure_database(database_url)
    upgrade(registered_services()["ingress"], database_url)
    declare_with_url(amqp_url)
    engine = create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE SCHEMA IF NOT EXISTS bench_naive"))
        connection.execute(text("CREATE TABLE IF NOT EXISTS bench_naive.events (id text PRIMARY KEY, body jsonb)"))

    env = {"DATABASE_URL": database_url, "AMQP_URL": amqp_url, "LINE_CHANNEL_SECRET": SECRET,
           "LINE_CHANNEL_ACCESS_TOKEN": "bench", "LOG_LEVEL": "WARNING"}
    result: dict = {"machine": {"cpus": os.cpu_count()}, "seconds_per_scenario": args.seconds, "servers": {}}
    try:
        port = free_port()
        ingress = RunningProcess("bench-ingress", ["cityline-serve", "ingress-webhook"],
                                 {**env, "INGRESS_WEBHOOK_PORT": str(port)}, f"http://127.0.0.1:{port}/readyz")
        ingress.env["GUNICORN_CMD_ARGS"] = "--access-logfile=/dev/null"
        ingress.start()
        try:
            runs = scenarios(f"http://127.0.0.1:{port}/callback", args.seconds)
            result["servers"]["ingress-webhook"] = {"runs": runs,
                                                    "worker_peak_rss_mb": worker_peak_rss_mb(gunicorn_master(ingress))}
        finally:
            ingress.stop()

        emulator_port = free_port()
        emulator = RunningProcess(
            "bench-line-emulator",
            [str(Path(sys.executable).parent / "line-emulator"), "--port", str(emulator_port), "--residents", "10"],
            env, f"http://127.0.0.1:{emulator_port}/_emulator/health",
        ).start()
        port = free_port()
        naive = RunningProcess(
            "bench-naive",
            [str(Path(sys.executable).parent / "gunicorn"), "--chdir", str(HERE), "-w", "2", "-k", "gthread",
             "--threads", "16", "-b", f"127.0.0.1:{port}", "--access-logfile", "/dev/null", "naive_app:app"],
            {**env, "NAIVE_REPLY_HOST": f"http://127.0.0.1:{emulator_port}"},
        )
        naive.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"http://127.0.0.1:{port}/", timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.2)
        try:
            runs = scenarios(f"http://127.0.0.1:{port}/callback", args.seconds)
            result["servers"]["naive-sdk-example"] = {"runs": runs,
                                                      "worker_peak_rss_mb": worker_peak_rss_mb(gunicorn_master(naive))}
        finally:
            naive.stop()
            emulator.stop()
    finally:
        engine.dispose()
        admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(database_url).database}" WITH (FORCE)'))
        admin.dispose()
        if use_vhost:
            subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
