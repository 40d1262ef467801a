"""Rich menus for a city: 災害時モード on and off for N residents, and relinking residents who change their 受信設定.

    python bench/richmenu/bench.py [--residents 1000000] [--kosodate-share 0.2] [--relink-rate 50]
                                   [--relink-seconds 30] [--keep-database]

Starts, on this machine, in a database and a RabbitMQ vhost of its own: the LINE emulator (N residents, all
friends, webhooks to ingress-webhook), ingress-webhook, segment-service (gunicorn) and its consumer,
richmenu-service (gunicorn), richmenu-worker, richmenu-consumer, and an outbox relay for each of ingress,
segment and richmenu. N residents are written straight into segment-service's tables (LINE user ids sealed as
the follower import would), every one with answered 受信設定; every fifth (``--kosodate-share``) chose 子育て,
and the saved segment 「子育て」 ({"category": ["kosodate"]}) matches them.

The scenario, through the services' internal APIs as the staff console calls them (a システム管理者's token):

1. three menus (くらし, 子育て, 災害時), each one tab of 2500×843 with a generated PNG, published to LINE; a
   default rule (くらし) and a segment rule (子育て → 「子育て」). ``initial_apply_seconds``: from the first rule
   until the 子育て share is on its menu and everyone else on the default.
2. 災害時モード on (``POST /internal/disaster``): ``disaster_on_seconds`` from just before the call until every
   resident's effective menu is the 災害時 menu.
3. 災害時モード off: ``disaster_off_seconds`` until every effective menu is back to the state before.
4. relinking under load: for ``--relink-seconds``, ``--relink-rate`` residents a second tap 子育て in the
   受信設定 chat (a postback through the emulator: a signed webhook → ingress-webhook → segment-consumer, which
   stores the change and emits PreferencesChanged → relay → richmenu-consumer → segment-service's memberships →
   a link or unlink on LINE), so that they enter or leave the segment. Latency: the moment in the emulator's
   rich-menu history when that resident's menu became the new one − the moment the tap was sent;
   ``relink_stages`` splits it by the rows each step leaves behind.

"Every resident's effective menu is X" is read from the emulator's summary (``*_seconds_polled``: polled, the
pause after each read three times the read, ≥ ``--poll-seconds``: one read holds the emulator's lock ~0.2 s at
1M, and polling faster slows the very links it waits for). The exact moment (``*_seconds``) is the last change
of menu among a sample of 200 residents (half of them in 子育て) in the emulator's history: a change's last
operation on LINE (the default, or the batch unlinkAll) moves some of them. The same sample is checked for
exactly one change of menu each way (``changed_once_each_way``).

Prints one JSON object (progress on stderr): residents, initial_apply_seconds, disaster_on_seconds (target
< 10 s, stretch < 3 s), disaster_on_method, disaster_off_seconds, residents_linked (by the disaster-off change),
relink_p50_ms / relink_p95_ms (target < 2,000, stretch < 500) / relink_max_ms, relinks_measured, changes made
and missed, changed_once_each_way, each mass change's row (picked up, worker seconds), the sample's timeline
of each change (first and last moves by cause) and the CPU seconds each process used in each step.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from cityline_common.amqp.topology import declare_with_url  # noqa: E402
from cityline_common.crypto import BlindIndex  # noqa: E402
from cityline_common.manifest import registered_services  # noqa: E402
from cityline_common.migrations import ensure_database, upgrade  # noqa: E402
from cityline_common.settings import load_settings  # noqa: E402

from testsupport import TEST_KEYS, internal_headers, internal_signer  # noqa: E402
from testsupport.population import SEED, emulator_ids, seed_residents  # noqa: E402
from testsupport.processes import BIN, RunningProcess, cpu_seconds_by_group, free_port  # noqa: E402
from testsupport.vhosts import own_vhost  # noqa: E402

ADMIN = ((None, "admin"),)  # システム管理者: may edit, publish, write rules and switch 災害時モード
DEPARTMENT = "総務課"
SIZE = {"width": 2500, "height": 843}
MENUS = (("kurashi", "くらし", "#2E7D32"), ("kosodate", "子育て", "#EF6C00"), ("saigai", "災害時", "#C62828"))
SAMPLE = 200  # residents whose rich-menu history is checked for one change each way


def say(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def is_kosodate(n: int, share: float) -> bool:
    """Resident n chose 子育て: spread evenly over the population (every fifth at 20 %)."""
    return int((n + 1) * share) != int(n * share)


def png(colour: str) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (SIZE["width"], SIZE["height"]), colour).save(out, "PNG")
    return out.getvalue()


def seed_answers(database_url: str, count: int, share: float, version: int) -> float:
    """Every resident answered 受信設定 (防災 always); the 子育て share also chose 子育て. The LINE ids of that
    share are found by their blind index, as segment-service finds a resident."""
    started = time.perf_counter()
    index = BlindIndex(os.environ["BLIND_INDEX_KEY"])
    ids = emulator_ids(count)
    engine = create_engine(database_url)
    with engine.begin() as connection:
        codes = dict(connection.execute(text(
            "SELECT key, code FROM segment.taxonomy_codes WHERE dimension = 'categories'")).all())
        connection.execute(text("CREATE TEMPORARY TABLE kosodate (bidx text PRIMARY KEY) ON COMMIT DROP"))
        buffer = io.StringIO("".join(f"{index.compute('line_user_id', ids[n])}\n" for n in range(count)
                                     if is_kosodate(n, share)))
        connection.connection.cursor().copy_expert("COPY kosodate (bidx) FROM STDIN", buffer)
        connection.execute(text("ANALYZE kosodate"))
        connection.execute(text("""
            UPDATE segment.resident_answers a
            SET categories = :bousai | CASE WHEN k.bidx IS NULL THEN 0 ELSE :kosodate END,
                answered_at = now(), taxonomy_version = :version, followed_at = now() - interval '30 days'
            FROM segment.residents r LEFT JOIN kosodate k ON k.bidx = r.line_user_id_bidx
            WHERE r.id = a.resident_id"""), {"bousai": 1 << codes["bousai"], "kosodate": 1 << codes["kosodate"],
                                             "version": version})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE segment.resident_answers"))
    engine.dispose()
    return round(time.perf_counter() - started, 1)


class Api:
    """richmenu-service's and segment-service's internal APIs, as the console calls them."""

    def __init__(self, richmenu: str, segment: str) -> None:
        self.richmenu, self.segment = richmenu, segment
        self.http = requests.Session()

    def call(self, method: str, path: str, expect: tuple[int, ...] = (200, 201), *, service: str = "richmenu",
             **options: Any) -> Any:
        base = self.richmenu if service == "richmenu" else self.segment
        headers = {**internal_headers(service, ADMIN, staff_id="bench-admin"), **options.pop("headers", {})}
        response = self.http.request(method, f"{base}{path}", headers=headers, timeout=120, **options)
        if response.status_code not in expect:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json()

    def changes(self) -> list[dict[str, Any]]:
        return list(self.call("GET", "/internal/changes?limit=100")["changes"])


class Emulator:
    def __init__(self, url: str, poll: float) -> None:
        self.url, self.poll = url, poll
        self.http = requests.Session()
        self.summary_seconds: list[float] = []

    def summary(self) -> dict[str, int]:
        started = time.perf_counter()
        body = self.http.get(f"{self.url}/_emulator/rich-menus/summary", timeout=60).json()
        self.summary_seconds.append(time.perf_counter() - started)
        return dict(body["effective"])

    def history(self, user_id: str) -> list[dict[str, Any]]:
        return list(self.http.get(f"{self.url}/_emulator/residents/{user_id}/rich-menu-history",
                                  timeout=60).json()["history"])

    def wait_for(self, wanted: dict[str, int], started: float, timeout: float) -> float:
        """Seconds from ``started`` (time.time()) until the summary equals ``wanted``. The summary holds the
        emulator's lock for one pass over every resident (~0.2 s at 1M): the pause after each read is at least
        three times as long, so that the polling does not slow the links it waits for."""
        deadline = time.monotonic() + timeout
        seen: dict[str, int] = {}
        while time.monotonic() < deadline:
            seen = self.summary()
            if seen == wanted:
                return round(time.time() - started, 2)
            time.sleep(max(self.poll, 3 * self.summary_seconds[-1]))
        raise RuntimeError(f"summary still {seen}, wanted {wanted} after {timeout}s")


def wait_changes_done(api: Api, timeout: float = 600) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        changes = api.changes()
        if changes and all(change["status"] in ("done", "failed") for change in changes):
            return changes
        time.sleep(0.2)
    raise RuntimeError("mass changes not done in time")


def change_row(change: dict[str, Any], requested_at: float) -> dict[str, Any]:
    """A change row with its timings relative to the staff's request."""
    started = datetime.fromisoformat(change["startedAt"]).timestamp() if change.get("startedAt") else None
    finished = datetime.fromisoformat(change["finishedAt"]).timestamp() if change.get("finishedAt") else None
    return {key: change.get(key) for key in ("reason", "status", "method", "residents", "linked", "unlinked",
                                               "error")} | {
        "picked_up_after_s": round(started - requested_at, 2) if started else None,
        "worker_seconds": round(finished - started, 2) if started and finished else None,
    }


def make_menus(api: Api) -> dict[str, dict[str, str]]:
    """The three menus, published: key → {"menuId", "richMenuId"}."""
    made = {}
    for alias, title, colour in MENUS:
        tab = {"aliasId": alias, "name": title, "chatBarText": title, "size": SIZE, "selected": False,
               "areas": [{"bounds": {"x": 0, "y": 0, **SIZE}, "action": {"type": "message", "text": title}}]}
        menu_id = api.call("POST", "/internal/menus", json={"title": title, "department": DEPARTMENT,
                                                            "tabs": [tab]})["id"]
        menu = api.call("PUT", f"/internal/menus/{menu_id}/tabs/1/image", data=png(colour),
                        headers={"Content-Type": "image/png"})
        published = api.call("POST", f"/internal/menus/{menu_id}/publish", json={"version": menu["version"]})
        made[alias] = {"menuId": menu_id, "richMenuId": published["publication"]["tabs"][0]["richMenuId"]}
    return made


def once_each_way(emulator: Emulator, sample: list[tuple[str, str]], disaster: str,
                  windows: dict[str, float]) -> dict[str, Any]:
    """Each sampled resident's effective menu changed exactly once while disaster mode went on (to the
    disaster menu) and once while it went off (back to ``before``); and when, in each mass change, the sampled
    residents moved (seconds after the request: the first and last per-user links, the default's change), which
    splits a change into its planning, its bulk requests and its default-menu call."""
    bad = []
    moved: dict[str, dict[str, list[float]]] = {step: {} for step in ("rules", "on", "off")}
    bounds = {"rules": (windows["rules"], windows["on"]), "on": (windows["on"], windows["off"]),
              "off": (windows["off"], windows["until"])}
    for user_id, before in sample:
        history = emulator.history(user_id)
        going_on = [h["richMenuId"] for h in history if windows["on"] <= h["at"] < windows["off"]]
        going_off = [h["richMenuId"] for h in history if windows["off"] <= h["at"] < windows["until"]]
        if going_on != [disaster] or going_off != [before]:
            bad.append({"user": user_id[:9], "on": going_on, "off": going_off})
        for step, (start, end) in bounds.items():
            for entry in history:
                if start <= entry["at"] < end:
                    moved[step].setdefault(entry["cause"], []).append(entry["at"] - start)
    timeline = {step: {f"{cause}_{edge}_s": round(pick(values), 2)
                       for cause, values in causes.items() for edge, pick in (("first", min), ("last", max))}
                for step, causes in moved.items()}
    return {"changed_once_each_way": not bad, "sampled": len(sample), "not_once": bad[:5],
            "sample_timeline": timeline}


class Relinks:
    """``rate`` residents a second tap 子育て in the 受信設定 chat for ``seconds``; each one's relink latency
    read from the emulator's history afterwards."""

    def __init__(self, emulator: Emulator, version: int, candidates: list[tuple[str, str]], rate: float) -> None:
        self.emulator, self.rate = emulator, rate
        self.data = f"pref=cat&v={version}&k=kosodate"
        self.candidates = candidates  # (user id, the menu they should end on)
        self.sent: list[tuple[str, str, float]] = []
        self.event_ids: dict[str, str] = {}  # user id → the webhook event id of their tap
        self.failed = 0
        self.lock = threading.Lock()

    def replied_at(self, user_id: str, after: float) -> float | None:
        """When segment-consumer's answer to the tap (a reply) reached the emulator."""
        messages = self.emulator.http.get(f"{self.emulator.url}/_emulator/residents/{user_id}/messages",
                                          timeout=60).json()["messages"]
        moments = [datetime.fromisoformat(m["at"]).timestamp() for m in messages if m["endpoint"] == "reply"]
        return min((m for m in moments if m >= after), default=None)

    def tap(self, user_id: str, target: str) -> None:
        at = time.time()
        try:
            answer = self.emulator.http.post(f"{self.emulator.url}/_emulator/residents/{user_id}/postback",
                                             params={"wait": "false"}, json={"data": self.data}, timeout=10)
            answer.raise_for_status()
            event_id = str(answer.json()["events"][0]["webhookEventId"])
        except (requests.RequestException, ValueError, LookupError):
            with self.lock:
                self.failed += 1
            return
        with self.lock:
            self.sent.append((user_id, target, at))
            self.event_ids[user_id] = event_id

    def run(self) -> float:
        """Sends every tap on schedule; returns the seconds the sending took."""
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=8) as pool:
            for n, (user_id, target) in enumerate(self.candidates):
                delay = started + n / self.rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(self.tap, user_id, target)
        return round(time.monotonic() - started, 1)

    def relinked_at(self) -> dict[str, float]:
        """When each tapped resident's menu became the one they should end on (from the emulator's history)."""
        found = {}
        for user_id, target, at in self.sent:
            moved = [h["at"] for h in self.emulator.history(user_id) if h["at"] >= at and h["richMenuId"] == target]
            if moved:
                found[user_id] = moved[0]
        return found


def stages(database_url: str, relinks: Relinks, relinked: dict[str, float]) -> dict[str, Any]:
    """Where a relink's time goes, per tap, from what each step leaves behind: the tap → ingress-webhook answered
    the emulator's webhook (the emulator's webhook log) → segment-consumer took the event (its
    ``processed_messages`` row: the transaction's start) → stored the change (``preference_changes.changed_at``)
    → the relay published PreferencesChanged (``outbox.published_at``) → richmenu-consumer took it → LINE
    relinked (the emulator's history)."""
    index = BlindIndex(os.environ["BLIND_INDEX_KEY"])
    tapped = {index.compute("line_user_id", user_id): (user_id, at) for user_id, _target, at in relinks.sent}
    log = relinks.emulator.http.get(f"{relinks.emulator.url}/_emulator/webhooks",
                                    params={"last": str(len(relinks.sent) * 2)}, timeout=60).json()["webhooks"]
    answered = {event_id: entry["at"] for entry in log for event_id in entry["eventIds"]}
    engine = create_engine(database_url)
    with engine.connect() as connection:
        rows = connection.execute(text("""
            SELECT r.line_user_id_bidx AS bidx, min(pc.changed_at) AS stored, min(o.published_at) AS published,
                   min(pm.processed_at) AS taken
            FROM segment.residents r
            JOIN segment.preference_changes pc ON pc.resident_id = r.id AND pc.source = 'chat'
            LEFT JOIN segment.outbox o ON o.type LIKE 'segment.PreferencesChanged%'
                 AND o.payload->>'residentId' = r.id::text
            LEFT JOIN richmenu.processed_messages pm ON pm.message_id = o.message_id
            WHERE r.line_user_id_bidx = ANY(:bidx)
            GROUP BY r.line_user_id_bidx"""), {"bidx": list(tapped)}).all()
        consumed = dict(connection.execute(text(
            "SELECT message_id, processed_at FROM segment.processed_messages WHERE message_id = ANY(:ids)"),
            {"ids": list(relinks.event_ids.values())}).all())
    engine.dispose()
    gaps: dict[str, list[float]] = {"tap_to_webhook_answered": [], "answered_to_segment_consumer": [],
                                    "segment_consumer_to_stored": [], "stored_to_published": [],
                                    "published_to_richmenu_consumer": [], "richmenu_consumer_to_relinked": []}
    replies: list[float] = []
    for row in rows:
        user_id, at = tapped[row.bidx]
        event_id = relinks.event_ids[user_id]
        moments = [at, answered.get(event_id), consumed.get(event_id), row.stored, row.published, row.taken,
                   relinked.get(user_id)]
        moments = [m.timestamp() if isinstance(m, datetime) else m for m in moments]
        for name, start, end in zip(gaps, moments, moments[1:], strict=False):
            if start is not None and end is not None:
                gaps[name].append((end - start) * 1000)
        replied = relinks.replied_at(user_id, at)
        if replied is not None and moments[3] is not None:
            replies.append((replied - moments[3]) * 1000)  # the commit, then the reply to LINE, in the consumer
    gaps["stored_to_reply_received (segment-consumer, after its commit)"] = replies
    out: dict[str, Any] = {name: {"p50_ms": percentile(values, 0.5), "p95_ms": percentile(values, 0.95),
                                  "n": len(values)} for name, values in gaps.items()}
    # Each consumer takes one message at a time: its pace while a backlog waits is its throughput.
    for name, moments in (("segment_consumer", list(consumed.values())),
                          ("richmenu_consumer", [row.taken for row in rows if row.taken])):
        moments.sort()
        if len(moments) > 1:
            out[f"{name}_events_per_s"] = round((len(moments) - 1) / (moments[-1] - moments[0]).total_seconds(), 1)
    return out


def taken_by_richmenu_consumer(database_url: str) -> int:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        taken = int(connection.execute(text("SELECT count(*) FROM richmenu.processed_messages")).scalar_one())
    engine.dispose()
    return taken


def drained(database_url: str, sent: int, timeout: float, baseline: int) -> float | None:
    """Seconds until richmenu-consumer has taken a PreferencesChanged for every tap (its processed_messages
    rows; a cheap query, unlike the emulator's summary), None if it had not within ``timeout``."""
    started = time.monotonic()
    engine = create_engine(database_url)
    try:
        while time.monotonic() - started < timeout:
            with engine.connect() as connection:
                taken = int(connection.execute(text("SELECT count(*) FROM richmenu.processed_messages")).scalar_one())
            if taken - baseline >= sent:
                time.sleep(1)  # its last relink's LINE call and commit
                return round(time.monotonic() - started, 1)
            time.sleep(0.5)
        return None
    finally:
        engine.dispose()


def percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)


def cpu_used(before: dict[int, float], after: dict[int, float],
             processes: dict[str, RunningProcess]) -> dict[str, float]:
    pids = {name: each.process.pid for name, each in processes.items() if each.process}
    return {name: round(after.get(pid, 0.0) - before.get(pid, 0.0), 1) for name, pid in pids.items()}


def timed(what: str, call: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = call()
    say(f"{what}: {time.perf_counter() - started:.1f} s")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=1_000_000)
    parser.add_argument("--kosodate-share", type=float, default=0.2, help="share of residents who chose 子育て")
    parser.add_argument("--relink-rate", type=float, default=50.0, help="preference changes per second")
    parser.add_argument("--relink-seconds", type=float, default=30.0)
    parser.add_argument("--poll-seconds", type=float, default=0.1,
                        help="pause between two reads of the emulator's summary (each holds its lock ~0.2 s at 1M)")
    parser.add_argument("--timeout", type=float, default=600.0, help="give up waiting for one step after S seconds")
    parser.add_argument("--consumers", type=int, default=2,
                        help="processes of segment-consumer and of richmenu-consumer each (the chart runs 2 replicas)")
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()

    base_db = os.environ.get("DATABASE_URL", "postgresql://cityline:cityline@127.0.0.1:5432/cityline")
    database_url = make_url(base_db.replace("postgresql://", "postgresql+psycopg2://", 1)).set(
        database=f"cityline_bench_richmenu_{uuid.uuid4().hex[:8]}").render_as_string(hide_password=False)
    result: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"),
                              "machine": {"cpus": os.cpu_count(), "loadavg_at_start": os.getloadavg()[0]},
                              "residents": args.residents, "commit": subprocess.run(
                                  ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                  check=False).stdout.strip()}
    with own_vhost("cityline_bench_richmenu") as amqp_url:
        ports = {name: free_port() for name in ("emulator", "segment", "richmenu", "ingress")}
        line_url = f"http://127.0.0.1:{ports['emulator']}"
        env = {**TEST_KEYS, "DATABASE_URL": database_url, "AMQP_URL": amqp_url, "LOG_FORMAT": "json",
               "LOG_LEVEL": "WARNING", "LINE_API_BASE_URL": line_url, "LINE_API_DATA_BASE_URL": line_url,
               "SEGMENT_SERVICE_URL": f"http://127.0.0.1:{ports['segment']}",
               "SEGMENT_SERVICE_PORT": str(ports["segment"]), "RICHMENU_SERVICE_PORT": str(ports["richmenu"]),
               "INGRESS_WEBHOOK_PORT": str(ports["ingress"]), "GUNICORN_WORKERS": "2", "OTEL_TRACES_EXPORTER": "none"}
        os.environ.update(env)
        ensure_database(database_url)
        declare_with_url(amqp_url)
        for manifest in registered_services().values():
            upgrade(manifest, database_url)
        processes: dict[str, RunningProcess] = {}
        try:
            result.update(run(args, env, ports, database_url, processes))
        finally:
            for name, process in reversed(processes.items()):
                process.stop()
                say(f"stopped {name} (log {process.log})")
            if not args.keep_database:
                admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{make_url(database_url).database}" '
                                            "WITH (FORCE)"))
                admin.dispose()
    result["machine"]["loadavg_at_end"] = os.getloadavg()[0]
    print(json.dumps(result, indent=2, ensure_ascii=False, default=str))


def start_processes(env: dict[str, str], ports: dict[str, int], residents: int,
                    processes: dict[str, RunningProcess], consumers: int) -> None:
    line_url = f"http://127.0.0.1:{ports['emulator']}"
    # Each is registered before it starts, so that one failing to become ready is stopped too.
    processes["emulator"] = RunningProcess("emulator", [
        str(BIN / "line-emulator"), "--host", "127.0.0.1", "--port", str(ports["emulator"]), "--residents",
        str(residents), "--friends", str(residents), "--seed", str(SEED), "--webhook-url",
        f"http://127.0.0.1:{ports['ingress']}/callback"], {}, f"{line_url}/_emulator/health")
    processes["emulator"].start(timeout=300)
    web = {"segment-service": "segment", "richmenu-service": "richmenu", "ingress-webhook": "ingress"}
    for service, port in web.items():
        processes[service] = RunningProcess(service, ["cityline-serve", service], env,
                                            f"http://127.0.0.1:{ports[port]}/readyz")
        processes[service].start(90)
    # As many consumer processes as the chart runs replicas: each handles one message at a time.
    workers = {**{f"segment-consumer-{n}": ["segment-service-consumer"] for n in range(1, consumers + 1)},
               **{f"richmenu-consumer-{n}": ["richmenu-consumer"] for n in range(1, consumers + 1)},
               # INFO: the worker logs each mass change it carries out
               "richmenu-worker": ["richmenu-worker"]}
    for name, argv in workers.items():
        port = free_port()
        level = {"LOG_LEVEL": "INFO"} if name == "richmenu-worker" else {}
        processes[name] = RunningProcess(name, [*argv, "--http-port", str(port)], {**env, **level},
                                         f"http://127.0.0.1:{port}/readyz")
        processes[name].start(90)
    for service in ("ingress", "segment", "richmenu"):
        port = free_port()
        processes[f"relay-{service}"] = RunningProcess(
            f"relay-{service}", [str(BIN / "cityline-outbox-relay"), service, "--http-port", str(port)], env,
            f"http://127.0.0.1:{port}/readyz")
        processes[f"relay-{service}"].start(60)


def run(args: argparse.Namespace, env: dict[str, str], ports: dict[str, int], database_url: str,
        processes: dict[str, RunningProcess]) -> dict[str, Any]:
    from richmenu_service.adapters.segments import HttpSegments
    from segment_service.bootstrap import bootstrap as segment_bootstrap
    from segment_service.config import Settings as SegmentSettings
    from segment_service.domain.commands import PublishTaxonomy
    from segment_service.service_layer.preferences import current_taxonomy

    result: dict[str, Any] = {}
    segment = segment_bootstrap(load_settings(SegmentSettings))
    segment.bus.handle(PublishTaxonomy({"municipality": {"code": "282073", "name": "伊丹市"}, "categories": [
        {"key": "bousai", "label": "防災", "always_delivered": True}, {"key": "kosodate", "label": "子育て"},
        {"key": "kenkou", "label": "健康"}, {"key": "event", "label": "イベント"}]}))
    version = segment.bus.query(current_taxonomy).version
    segment.engine.dispose()
    result["seed_seconds"] = timed("residents seeded", lambda: seed_residents(database_url, args.residents))
    result["answers_seed_seconds"] = timed("answers seeded",
                                           lambda: seed_answers(database_url, args.residents, args.kosodate_share,
                                                                        version))
    timed("processes started", lambda: start_processes(env, ports, args.residents, processes, args.consumers))
    result["consumers_each"] = args.consumers
    for name, process in processes.items():
        say(f"{name}: log {process.log}")
    emulator = Emulator(f"http://127.0.0.1:{ports['emulator']}", args.poll_seconds)
    api = Api(f"http://127.0.0.1:{ports['richmenu']}", f"http://127.0.0.1:{ports['segment']}")
    segment_id = api.call("POST", "/internal/segments", service="segment", json={
        "name": "子育て", "department": DEPARTMENT, "expression": {"category": ["kosodate"]}})["id"]
    menus = timed("menus published", lambda: make_menus(api))
    kurashi, kosodate, saigai = (menus[key]["richMenuId"] for key in ("kurashi", "kosodate", "saigai"))
    ids = emulator_ids(args.residents)
    members = sum(1 for n in range(args.residents) if is_kosodate(n, args.kosodate_share))
    before = {kurashi: args.residents - members, kosodate: members} if members else {kurashi: args.residents}
    result["kosodate_members"] = members

    # 1. the rules, applied by the worker
    started = time.time()
    api.call("POST", "/internal/rules", json={"kind": "default", "menuId": menus["kurashi"]["menuId"]})
    api.call("POST", "/internal/rules", json={"kind": "segment", "menuId": menus["kosodate"]["menuId"],
                                              "segmentId": segment_id})
    result["initial_apply_seconds_polled"] = emulator.wait_for(before, started, args.timeout)
    changes = wait_changes_done(api, args.timeout)
    result["initial_changes"] = [change_row(c, started) for c in reversed(changes)  # not the publications' own
                                 if c["startedAt"] and datetime.fromisoformat(c["startedAt"]).timestamp() >= started]
    say(f"rules applied: {result['initial_apply_seconds_polled']} s")

    # a sample of residents (half of them in 子育て) kept out of the relinking
    rng = random.Random(7)
    sampled = set(rng.sample([n for n in range(args.residents) if is_kosodate(n, args.kosodate_share)],
                             min(SAMPLE // 2, members)))
    sampled |= set(rng.sample([n for n in range(args.residents) if not is_kosodate(n, args.kosodate_share)],
                              min(SAMPLE // 2, args.residents - members)))
    sample = [(ids[n], kosodate if is_kosodate(n, args.kosodate_share) else kurashi) for n in sorted(sampled)]

    # 2. 災害時モード on
    cpu_before = cpu_seconds_by_group()
    on_at = time.time()
    api.call("POST", "/internal/disaster", json={"on": True, "menuId": menus["saigai"]["menuId"],
                                                 "confirm": "災害時モード"})
    result["disaster_on_seconds_polled"] = emulator.wait_for({saigai: args.residents}, on_at, args.timeout)
    say(f"disaster on: {result['disaster_on_seconds_polled']} s")
    on_change = wait_changes_done(api, args.timeout)[0]
    result["cpu_seconds_disaster_on"] = cpu_used(cpu_before, cpu_seconds_by_group(), processes)
    result["disaster_on_method"] = on_change["method"]
    result["disaster_on_change"] = change_row(on_change, on_at)

    # 3. 災害時モード off
    cpu_before = cpu_seconds_by_group()
    off_at = time.time()
    api.call("POST", "/internal/disaster", json={"on": False, "confirm": "災害時モード"})
    result["disaster_off_seconds_polled"] = emulator.wait_for(before, off_at, args.timeout)
    say(f"disaster off: {result['disaster_off_seconds_polled']} s")
    off_change = wait_changes_done(api, args.timeout)[0]
    result["cpu_seconds_disaster_off"] = cpu_used(cpu_before, cpu_seconds_by_group(), processes)
    result["disaster_off_method"] = off_change["method"]
    result["residents_linked"] = off_change["linked"]
    result["disaster_off_change"] = change_row(off_change, off_at)
    # The part of a mass change's planning that is segment-service's: the members of 「子育て」 frozen and paged
    # with their LINE user ids opened, asked exactly as richmenu-worker asks (adapters/segments.py).
    members_started = time.perf_counter()
    listed = sum(1 for _ in HttpSegments(api.segment, internal_signer("richmenu")).members(
        f"bench-{uuid.uuid4().hex}", segment_id))
    result["segment_members_fetch"] = {"members": listed,
                                       "seconds": round(time.perf_counter() - members_started, 2)}
    summaries = emulator.summary_seconds
    result["summary_call_ms"] = {"p50": percentile([s * 1000 for s in summaries], 0.5),
                                 "max": round(max(summaries) * 1000, 1), "calls": len(summaries)}
    windows = {"rules": started, "on": on_at, "off": off_at, "until": time.time()}
    result.update(timed("sample checked", lambda: once_each_way(emulator, sample, saigai, windows)))
    # The exact moment each change was complete: its last operation on LINE, which moved some of the sample
    # (the default, or the batch unlinkAll, comes last and moves everyone it concerns); the polled figures
    # above confirm the state and bound it from above.
    for step, name in (("rules", "initial_apply_seconds"), ("on", "disaster_on_seconds"),
                       ("off", "disaster_off_seconds")):
        lasts = [value for key, value in result["sample_timeline"][step].items() if key.endswith("_last_s")]
        result[name] = max(lasts) if lasts else None

    # 4. relinking under preference changes
    count = min(int(args.relink_rate * args.relink_seconds), args.residents - len(sampled))
    chosen = rng.sample([n for n in range(args.residents) if n not in sampled], count)
    candidates = [(ids[n], kurashi if is_kosodate(n, args.kosodate_share) else kosodate) for n in chosen]
    relinks = Relinks(emulator, version, candidates, args.relink_rate)
    baseline = taken_by_richmenu_consumer(database_url)
    cpu_before = cpu_seconds_by_group()
    result["relink_send_seconds"] = timed("taps sent", relinks.run)
    result["relink_drained_after_send_seconds"] = drained(database_url, len(relinks.sent), args.timeout, baseline)
    leaving = sum(1 for _user, target in candidates if target == kurashi)
    after = {kurashi: before[kurashi] + leaving - (count - leaving), kosodate: members - leaving + (count - leaving)}
    result["summary_after_relinks_as_expected"] = emulator.summary() == after
    result["cpu_seconds_relinking"] = cpu_used(cpu_before, cpu_seconds_by_group(), processes)
    relinked = timed("relinks read", relinks.relinked_at)
    latencies = [(relinked[user_id] - at) * 1000 for user_id, _target, at in relinks.sent if user_id in relinked]
    missed = len(relinks.sent) - len(latencies)
    result["relink_stages"] = stages(database_url, relinks, relinked)
    result.update({
        "relink_rate_per_s": args.relink_rate, "relink_changes_made": len(relinks.sent),
        "relink_changes_failed_to_send": relinks.failed, "relinks_measured": len(latencies),
        "relinks_missed": missed, "relink_p50_ms": percentile(latencies, 0.5),
        "relink_p95_ms": percentile(latencies, 0.95), "relink_max_ms": round(max(latencies), 1) if latencies else None,
        "relink_mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
    })
    result["targets"] = {
        "disaster_on_under_10s": result["disaster_on_seconds"] < 10,
        "disaster_on_under_3s (stretch)": result["disaster_on_seconds"] < 3,
        "relink_p95_under_2000ms": (result["relink_p95_ms"] or 1e9) < 2000,
        "relink_p95_under_500ms (stretch)": (result["relink_p95_ms"] or 1e9) < 500,
    }
    return result


if __name__ == "__main__":
    main()
