"""Benchmark: ingress-webhook under gunicorn vs. the naive line-bot-sdk Flask pattern.

    make bench            # or: .venv/bin/python bench/ingress/bench.py [--seconds 15] [--rounds 3]

Both servers run as deployed (gunicorn, 2 workers × 16 threads, gthread) against the real
PostgreSQL and RabbitMQ, in a database and vhost of their own that are dropped afterwards. The load
comes from a second process on loopback (bench/ingress/loadgen.py).

1. Each server runs every scenario of SCENARIOS, one after the other.
2. Head to head: the one-event scenario (closed loop, 32 in flight) alternates between the two
   servers for --rounds rounds, so a machine shared with other work disturbs both alike; each
   server's median round is compared, and the ratio of their events/s reported.

Every run records what it cost — CPU seconds of the server's gunicorn workers (every thread) and of
the whole machine, per answered request — how busy the machine was just before it started, and,
for ingress-webhook, how often it had to fall back during the run (database unavailable, broker not
confirming in time): such a run is marked ``disturbed``. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
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
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

SCENARIOS = (
    (10, "open", 200),   # the target: 2,000 events/s as 200 ten-event requests/s
    (1, "open", 500),    # one-event requests at a steady 500/s
    (1, "closed", 32),   # how far one-event requests go with 32 in flight
    (10, "closed", 16),  # how far ten-event requests go with 16 in flight
    (1, "open", 2000),   # the target as 2,000 one-event requests/s (last: it may overload)
)
ONE_EVENT_CLOSED_32 = (1, "closed", 32)
SERVERS = ("ingress-webhook", "naive-sdk-example")
# Lines ingress-webhook logs when it could not do its job the normal way (a disturbed run).
FALLBACKS = {"database_unavailable": "database unavailable", "broker_unconfirmed": "broker did not confirm"}


@dataclass
class Server:
    name: str
    process: RunningProcess
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/callback"

    @property
    def master(self) -> int:
        assert self.process.process is not None
        return self.process.process.pid  # cityline-serve execs gunicorn, so this is the master

    def workers(self) -> list[str]:
        return Path(f"/proc/{self.master}/task/{self.master}/children").read_text().split()

    def log_size(self) -> int:
        return self.process.log.stat().st_size

    def log_since(self, offset: int) -> str:
        with self.process.log.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")


def worker_peak_rss_mb(server: Server) -> list[float]:
    peaks = []
    for pid in server.workers():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(round(int(line.split()[1]) / 1024, 1))
    return peaks


def cpu_seconds(pids: list[str]) -> float:
    """User + system CPU of these processes (every thread: request threads, the publisher's I/O
    thread, the group-commit thread), from /proc/<pid>/stat."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # a worker that was replaced during the run
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time the whole machine spent not idle: servers, PostgreSQL, RabbitMQ, load generator, and
    anything else running on it."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def machine_busy_percent(seconds: float = 2.0) -> float:
    before = machine_busy_seconds()
    time.sleep(seconds)
    return round((machine_busy_seconds() - before) / seconds * 100, 1)


def load(url: str, per_request: int, mode: str, level: float, seconds: float) -> dict:
    out = subprocess.run(
        [sys.executable, str(HERE / "loadgen.py"), url, SECRET, str(per_request), mode, str(level), str(seconds)],
        check=True, capture_output=True, text=True, timeout=seconds + 120,
    )
    return json.loads(out.stdout)


def measured(server: Server, per_request: int, mode: str, level: float, seconds: float) -> dict:
    """One load run plus what it cost: CPU per answered request (warm-up included in both)."""
    busy_before = machine_busy_percent()
    pids, offset = server.workers(), server.log_size()
    workers_before, machine_before, started = cpu_seconds(pids), machine_busy_seconds(), time.monotonic()
    run = load(server.url, per_request, mode, level, seconds)
    workers = cpu_seconds(pids) - workers_before
    machine = machine_busy_seconds() - machine_before
    elapsed = time.monotonic() - started
    answered = max(1, run["answered_total"])
    run["worker_cpu_ms_per_request"] = round(workers * 1000 / answered, 3)
    run["machine_cpu_ms_per_request"] = round(machine * 1000 / answered, 3)
    run["worker_cpu_percent"] = round(workers / elapsed * 100, 1)
    run["machine_cpu_percent"] = round(machine / elapsed * 100, 1)
    run["machine_busy_percent_before"] = busy_before
    if server.name == "ingress-webhook":
        log = server.log_since(offset)
        run["fallbacks"] = {name: log.count(line) for name, line in FALLBACKS.items()}
        run["disturbed"] = any(run["fallbacks"].values())
    settle(server.url.rsplit("/", 1)[0] + "/")
    return run


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


def head_to_head(servers: dict[str, Server], seconds: float, rounds: int) -> dict:
    """The one-event scenario (closed loop, 32 in flight), alternating between the servers; each
    server's median round, the ratio, and the target: ingress ≥ 2× the naive pattern's events/s,
    p99 < 100 ms, no errors."""
    runs: dict[str, list[dict]] = {name: [] for name in servers}
    for _ in range(rounds):
        for name, server in servers.items():
            runs[name].append(measured(server, *ONE_EVENT_CLOSED_32, seconds))
    keys = ("events_per_s", "p50_ms", "p99_ms", "errors", "worker_cpu_ms_per_request", "machine_cpu_ms_per_request")
    block: dict = {"rounds": rounds, "seconds_per_round": seconds}
    for name, rounds_of in runs.items():
        median = sorted(rounds_of, key=lambda run: run["events_per_s"])[len(rounds_of) // 2]
        block[name] = {
            "median_round": {key: median[key] for key in keys},
            "events_per_s_by_round": [run["events_per_s"] for run in rounds_of],
            "p99_ms_by_round": [run["p99_ms"] for run in rounds_of],
            "errors": sum(run["errors"] for run in rounds_of),
            "worker_cpu_ms_per_request_median": statistics.median(r["worker_cpu_ms_per_request"] for r in rounds_of),
            "machine_busy_percent_before_by_round": [run["machine_busy_percent_before"] for run in rounds_of],
        }
        if name == "ingress-webhook":
            block[name]["disturbed_rounds"] = sum(run["disturbed"] for run in rounds_of)
    ingress, naive = block.get("ingress-webhook"), block.get("naive-sdk-example")
    if ingress and naive and naive["median_round"]["events_per_s"]:
        ratio = ingress["median_round"]["events_per_s"] / naive["median_round"]["events_per_s"]
        block["events_per_s_ratio"] = round(ratio, 2)
        block["target_met"] = {
            "ratio_at_least_2": ratio >= 2.0,
            "p99_under_100_ms": ingress["median_round"]["p99_ms"] < 100,
            "no_errors": ingress["errors"] == 0,
        }
    return block


def start_ingress(env: dict, metrics_dir: str) -> Server:
    port = free_port()
    process = RunningProcess("bench-ingress", ["cityline-serve", "ingress-webhook"],
                             {**env, "INGRESS_WEBHOOK_PORT": str(port), "PROMETHEUS_MULTIPROC_BASE": metrics_dir},
                             f"http://127.0.0.1:{port}/readyz")
    process.start()
    return Server("ingress-webhook", process, port)


def start_naive(env: dict, emulator_port: int) -> Server:
    port = free_port()
    process = RunningProcess(
        "bench-naive",
        [str(Path(sys.executable).parent / "gunicorn"), "--chdir", str(HERE), "-w", "2", "-k", "gthread",
         "--threads", "16", "-b", f"127.0.0.1:{port}", "--access-logfile", "/dev/null", "naive_app:app"],
        {**env, "NAIVE_REPLY_HOST": f"http://127.0.0.1:{emulator_port}"},
    )
    process.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except requests.RequestException:
            time.sleep(0.2)
    return Server("naive-sdk-example", process, port)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3, help="head-to-head rounds per server (0: none)")
    parser.add_argument("--scenario", action="append", metavar="EVENTS:MODE:LEVEL",
                        help="run only these scenarios, e.g. 1:closed:32 (default: all of SCENARIOS)")
    parser.add_argument("--server", action="append", choices=SERVERS, help="run only these servers (default: both)")
    args = parser.parse_args()
    chosen = tuple((int(e), m, float(v)) for e, m, v in (s.split(":") for s in args.scenario)) if args.scenario \
        else SCENARIOS
    wanted = args.server or SERVERS

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
    processes: list[RunningProcess] = []
    servers: dict[str, Server] = {}
    metrics_dir = tempfile.mkdtemp(prefix="bench-ingress-metrics-")
    try:
        if "ingress-webhook" in wanted:
            servers["ingress-webhook"] = start_ingress(env, metrics_dir)
            processes.append(servers["ingress-webhook"].process)
        if "naive-sdk-example" in wanted:
            emulator_port = free_port()
            emulator = RunningProcess(
                "bench-line-emulator",
                [str(Path(sys.executable).parent / "line-emulator"), "--port", str(emulator_port), "--residents", "10"],
                env, f"http://127.0.0.1:{emulator_port}/_emulator/health",
            ).start()
            processes.append(emulator)
            servers["naive-sdk-example"] = start_naive(env, emulator_port)
            processes.append(servers["naive-sdk-example"].process)
        for name, server in servers.items():
            runs = [measured(server, per_request, mode, level, args.seconds) for per_request, mode, level in chosen]
            result["servers"][name] = {"runs": runs, "worker_peak_rss_mb": worker_peak_rss_mb(server)}
        if args.rounds:
            result["one_event_requests_32_in_flight"] = head_to_head(servers, args.seconds, args.rounds)
    finally:
        for process in reversed(processes):
            process.stop()
        shutil.rmtree(metrics_dir, ignore_errors=True)
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
