"""One delivery to N residents through the whole send path, at LINE's real limits.

    python bench/dispatch/bench.py [--recipients 1000000] [--senders 2] [--faults 0.05]
                                   [--kill-senders-every 3] [--keep-database]

Starts, on this machine: the LINE emulator (N friends, LINE's multicast limit of 200 requests/s per
channel), segment-service (gunicorn), the outbox relay, ``--senders`` dispatcher-sender processes (one
consumes, the others stand by: the send-jobs queue has a single active consumer), and ingress-webhook with
a load generator posting one-event webhooks at 100/s during the send. N residents are written straight
into segment-service's tables (their LINE user ids sealed, as the follower import would), a delivery is
drafted, approved by another person and started through dispatcher's message bus.

``--faults R`` makes the emulator fail R of the multicasts (a quarter each: 500, timeout, 429, and
accepted-then-500); ``--kill-senders-every S`` SIGKILLs every sender process every S seconds and starts
them again, and the outbox relay with them (the crash drill). Prints one JSON object:

recipients, recipients_per_s, seconds_to_last_acceptance (from the start's commit to the last job LINE
accepted), freeze_seconds (segment-service freezing the list, before that), duplicates and lost (from the
emulator's record of who received the content), multicast_requests, self_caused_429_ratio (429s the
emulator answered from its rate limit, not injected, over all multicasts), ingress_p99_ms_during_send.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from cityline_common.amqp.topology import declare_with_url  # noqa: E402
from cityline_common.manifest import registered_services  # noqa: E402
from cityline_common.migrations import ensure_database, upgrade  # noqa: E402
from cityline_common.settings import load_settings  # noqa: E402

from testsupport import TEST_KEYS  # noqa: E402
from testsupport.population import SEED, seed_residents  # noqa: E402
from testsupport.processes import BIN, RunningProcess, cpu_seconds_by_group, free_port  # noqa: E402

LOADGEN = ROOT / "bench/ingress/loadgen.py"
def _die_with_parent() -> None:
    """In the child: SIGKILL when the bench dies, however it dies (no orphan sender keeps consuming)."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Senders:
    """The sending processes: ``count`` dispatcher-senders and the outbox relay of dispatcher's jobs;
    ``kill`` is SIGKILL to every one of them, as a crashed node."""

    def __init__(self, env: dict[str, str], count: int) -> None:
        self.env, self.count = env, count
        self.processes: list[subprocess.Popen[bytes]] = []
        self.kills = 0
        self.log = Path(f"/tmp/bench-dispatch-senders-{os.getpid()}.log")

    def start(self) -> None:
        """Start them all and wait until each serves /readyz (a restart is not instant: imports, pools)."""
        ports = [free_port() for _ in range(self.count + 1)]
        commands = [[str(BIN / "dispatcher-sender"), "--http-port", str(port)] for port in ports[:-1]]
        commands.append([str(BIN / "cityline-outbox-relay"), "dispatcher", "--http-port", str(ports[-1])])
        with self.log.open("ab") as out:
            for argv in commands:
                self.processes.append(subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **self.env}, stdout=out,
                                                       stderr=subprocess.STDOUT, start_new_session=True,
                                                       preexec_fn=_die_with_parent))  # noqa: PLW1509
        deadline = time.monotonic() + 60
        for port in ports:
            while time.monotonic() < deadline:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.1)

    def kill(self) -> None:
        for process in self.processes:
            process.kill()
            process.wait()
        self.processes.clear()
        self.kills += 1

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--senders", type=int, default=2)
    parser.add_argument("--faults", type=float, default=0.0, help="fraction of multicasts that fail (0-1)")
    parser.add_argument("--kill-senders-every", type=float, default=0.0, help="SIGKILL the senders every S seconds")
    parser.add_argument("--ingress-rate", type=int, default=100, help="one-event webhooks per second during the send")
    parser.add_argument("--multicast-rate", type=float, default=190.0,
                        help="the senders' pace (MULTICAST_RATE); lower it to stretch a small drill")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up waiting for the send after S seconds")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()

    base_db = os.environ.get("DATABASE_URL", "postgresql://cityline:cityline@127.0.0.1:5432/cityline")
    database_url = make_url(base_db.replace("postgresql://", "postgresql+psycopg2://", 1)).set(
        database=f"cityline_bench_dispatch_{uuid.uuid4().hex[:8]}").render_as_string(hide_password=False)
    amqp_url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    ports = {name: free_port() for name in ("emulator", "segment", "ingress")}
    line_url = f"http://127.0.0.1:{ports['emulator']}"
    env = {**TEST_KEYS, "DATABASE_URL": database_url, "AMQP_URL": amqp_url, "LOG_FORMAT": "json",
           "LOG_LEVEL": "WARNING", "LINE_API_BASE_URL": line_url, "LINE_API_DATA_BASE_URL": line_url,
           "SEGMENT_SERVICE_URL": f"http://127.0.0.1:{ports['segment']}",
           "SEGMENT_SERVICE_PORT": str(ports["segment"]), "INGRESS_WEBHOOK_PORT": str(ports["ingress"]),
           "SENDING_HOURS_START": "00:00", "SENDING_HOURS_END": "23:59", "GUNICORN_WORKERS": "2",
           "OTEL_TRACES_EXPORTER": "none", "MULTICAST_RATE": str(args.multicast_rate)}
    os.environ.update(env)
    result: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                              "machine": {"cpus": os.cpu_count(), "loadavg_at_start": os.getloadavg()[0]},
                              "recipients": args.recipients, "senders": args.senders, "faults": args.faults,
                              "kill_senders_every": args.kill_senders_every}
    ensure_database(database_url)
    declare_with_url(amqp_url)
    for manifest in registered_services().values():
        upgrade(manifest, database_url)
    processes: list[RunningProcess] = []
    senders = Senders(env, args.senders)
    try:
        from segment_service.bootstrap import bootstrap as segment_bootstrap
        from segment_service.config import Settings as SegmentSettings
        from segment_service.domain.commands import PublishTaxonomy

        segment = segment_bootstrap(load_settings(SegmentSettings))
        bousai = {"key": "bousai", "label": "防災", "always_delivered": True}
        segment.bus.handle(PublishTaxonomy({"municipality": {"code": "282073", "name": "伊丹市"},
                                            "categories": [bousai]}))
        segment.engine.dispose()
        result["seed_seconds"] = seed_residents(database_url, args.recipients)
        emulator = RunningProcess("emulator", [str(BIN / "line-emulator"), "--host", "127.0.0.1", "--port",
                                               str(ports["emulator"]), "--residents", str(args.recipients),
                                               "--friends", str(args.recipients), "--seed", str(SEED)],
                                  {}, f"{line_url}/_emulator/stats")
        processes = [emulator.start(timeout=180),
                     RunningProcess("segment", ["cityline-serve", "segment-service"], env,
                                    f"http://127.0.0.1:{ports['segment']}/readyz").start(60),
                     RunningProcess("ingress", ["cityline-serve", "ingress-webhook"], env,
                                    f"http://127.0.0.1:{ports['ingress']}/readyz").start(60),
                     RunningProcess("relay", [str(BIN / "cityline-outbox-relay"), "ingress"], env).start()]
        senders.start()
        if args.faults:
            share = args.faults / 4
            requests.post(f"{line_url}/_emulator/faults", json={
                "errorRate": share, "timeoutRate": share, "rateLimitRate": share, "acceptThenFailRate": share,
                "timeoutSeconds": 2, "operations": ["multicast"]}, timeout=10).raise_for_status()

        from dispatcher.bootstrap import bootstrap as dispatcher_bootstrap
        from dispatcher.config import Settings as DispatcherSettings
        from dispatcher.domain import commands as c
        from dispatcher.domain.lifecycle import Actor

        dispatcher = dispatcher_bootstrap(load_settings(DispatcherSettings))
        author = Actor("bench-author", frozenset({("author", "bousai")}))
        approver = Actor("bench-approver", frozenset({("approver", "bousai")}))
        marker = f"ベンチマークの配信 {uuid.uuid4().hex[:8]}"
        delivery_id = dispatcher.bus.handle(c.CreateDelivery(author, "bousai", "ベンチマーク", "bousai",
                                                             ({"type": "text", "text": marker},),
                                                             {"kind": "everyone"}))
        dispatcher.bus.handle(c.ActOnDelivery(delivery_id, author, "submit"))
        dispatcher.bus.handle(c.ActOnDelivery(delivery_id, approver, "approve"))
        for confirmer in (author, approver):  # above the threshold: two people confirm
            dispatcher.bus.handle(c.ActOnDelivery(delivery_id, confirmer, "confirm"))
        time.sleep(3)  # the senders connect (one active, the others standing by)

        expected_seconds = max(20, int(args.recipients / 90_000 * 2) + 20)
        loadgen = subprocess.Popen([sys.executable, str(LOADGEN), f"http://127.0.0.1:{ports['ingress']}/callback",
                                    TEST_KEYS["LINE_CHANNEL_SECRET"], "1", "open", str(args.ingress_rate),
                                    str(expected_seconds)], stdout=subprocess.PIPE, text=True)
        cpu_before = cpu_seconds_by_group()
        freeze_started = time.perf_counter()
        send_id = dispatcher.bus.handle(c.StartDelivery(delivery_id, author))
        result["freeze_seconds"] = round(time.perf_counter() - freeze_started, 2)
        stop = threading.Event()

        def crash_drill() -> None:
            while not stop.wait(args.kill_senders_every):
                senders.kill()
                senders.start()
                # The scheduler's safety net, as it runs in a city: jobs whose messages a kill storm
                # pushed past the queue's delivery limit are queued again from their rows.
                dispatcher.bus.handle(c.RequeueStalledJobs(stalled_seconds=args.kill_senders_every * 3))

        if args.kill_senders_every:
            threading.Thread(target=crash_drill, daemon=True).start()
        engine = create_engine(database_url)
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                settled, jobs = connection.execute(text(
                    "SELECT jobs_settled, jobs FROM dispatcher.sends WHERE id = :id"), {"id": send_id}).one()
            if settled >= jobs:
                break
            time.sleep(0.2)
        stop.set()
        cpu_after = cpu_seconds_by_group()
        groups = {"emulator": [processes[0]], "segment-service": [processes[1]], "ingress-webhook": [processes[2]]}

        def used(pids: list[int]) -> float:
            return round(sum(cpu_after.get(p, 0.0) - cpu_before.get(p, 0.0) for p in pids), 1)

        result["cpu_seconds_during_send"] = {
            **{name: used([each.process.pid for each in group if each.process]) for name, group in groups.items()},
            "senders_and_relay": used([p.pid for p in senders.processes]),
            "bench_process (dispatcher start, polling)": used([os.getpgrp()]),
        }
        with engine.connect() as connection:
            row = connection.execute(text(
                "SELECT s.started_at, max(j.settled_at) AS last, s.sent, s.failed, s.status, "
                "count(*) FILTER (WHERE j.status = 'pending') AS pending "
                "FROM dispatcher.sends s JOIN dispatcher.send_jobs j ON j.send_id = s.id WHERE s.id = :id "
                "GROUP BY s.id"), {"id": send_id}).one()
        engine.dispose()
        seconds = (row.last - row.started_at).total_seconds() if row.last else None
        received = requests.get(f"{line_url}/_emulator/received", params={"text": marker}, timeout=30).json()
        content = received["contents"][0] if received["contents"] else {"recipients": 0, "duplicates": 0}
        stats = requests.get(f"{line_url}/_emulator/stats", timeout=30).json()
        faults = requests.get(f"{line_url}/_emulator/faults", timeout=30).json()
        try:
            ingress = json.loads(loadgen.communicate(timeout=expected_seconds + 60)[0])
        except (ValueError, subprocess.TimeoutExpired):
            ingress = {}
        answers = stats.get("responsesByEndpointAndStatus") or {}  # "<operationId> <status>": count
        multicast = {key.split()[-1]: int(count) for key, count in answers.items() if key.split()[0] == "multicast"}
        total = sum(multicast.values())
        limited = multicast.get("429", 0)
        injected_429 = int((faults.get("injected") or {}).get("rate_limit", 0))
        result.update({
            "recipients_per_s": round(args.recipients / seconds) if seconds else None,
            "seconds_to_last_acceptance": round(seconds, 2) if seconds else None,
            "sent": row.sent, "failed": row.failed, "status": row.status, "jobs_pending": row.pending,
            "duplicates": content["duplicates"], "lost": args.recipients - content["recipients"],
            "multicast_requests": total, "multicast_answers": multicast,
            "self_caused_429_ratio": round((limited - injected_429) / total, 4) if total else None,
            "faults_injected": faults.get("injected"), "sender_kills": senders.kills,
            "ingress_p99_ms_during_send": ingress.get("p99_ms"), "ingress": ingress,
        })
        dispatcher.engine.dispose()
        result["machine"]["loadavg_at_end"] = os.getloadavg()[0]
    finally:
        senders.stop()
        for process in reversed(processes):
            process.stop()
        if not args.keep_database:
            admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(database_url).database}" WITH (FORCE)'))
            admin.dispose()
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
