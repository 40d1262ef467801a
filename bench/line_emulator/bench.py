"""Benchmark: the LINE emulator under multicast load (it must never be the bottleneck when the
dispatcher is measured against LINE's 200 multicast requests/s).

    .venv/bin/python bench/line_emulator/bench.py [--seconds 20] [--concurrency 32]

Starts ``line-emulator`` as `make up` does (its multicast limit raised for the run), makes 10,000
residents friends, then a second process on loopback sends multicast requests of 500 recipients
each, every one with its own X-Line-Retry-Key. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from testsupport.processes import RunningProcess, free_port  # noqa: E402

TOKEN = os.environ.get("LINE_CHANNEL_ACCESS_TOKEN", "bench-token")
SECRET = os.environ.get("LINE_CHANNEL_SECRET", "8c570fa6dd201bb328f1c1eac23a96d8")
RESIDENTS = 10_000
WARMUP = 2.0


async def load(url: str, user_ids: list[str], seconds: float, concurrency: int) -> dict:
    import aiohttp

    latencies: list[float] = []
    statuses: dict[str, int] = {}
    start = time.perf_counter()
    measure_from, end = start + WARMUP, start + WARMUP + seconds
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    counter = [0]

    async def worker(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < end:
            counter[0] += 1
            offset = (counter[0] * 500) % (len(user_ids) - 500)
            body = json.dumps({"to": user_ids[offset:offset + 500], "messages": [
                {"type": "text", "text": f"【伊丹市】防災訓練のお知らせ ({counter[0]})"}]})
            sent = time.perf_counter()
            try:
                async with session.post(f"{url}/v2/bot/message/multicast", data=body,
                                        headers={**headers, "X-Line-Retry-Key": str(uuid.uuid4())}) as response:
                    await response.read()
                    status = str(response.status)
            except (TimeoutError, aiohttp.ClientError) as exc:
                status = type(exc).__name__
            done = time.perf_counter()
            if measure_from <= sent and done <= end:
                latencies.append(done - sent)
                statuses[status] = statuses.get(status, 0) + 1

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    latencies.sort()
    ok = statuses.get("200", 0)

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000, 2) if latencies else 0.0

    return {"seconds": seconds, "concurrency": concurrency, "requests": len(latencies), "statuses": statuses,
            "errors": len(latencies) - ok, "multicast_requests_per_s": round(ok / seconds, 1),
            "recipients_per_s": round(ok * 500 / seconds), "p50_ms": pct(0.5), "p99_ms": pct(0.99)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--load", help=argparse.SUPPRESS)  # internal: run as the load process
    args = parser.parse_args()
    if args.load:
        user_ids = json.loads(sys.stdin.read())
        print(json.dumps(asyncio.run(load(args.load, user_ids, args.seconds, args.concurrency))))
        return

    import requests

    port = free_port()
    emulator = RunningProcess(
        "bench-line-emulator",
        [str(Path(sys.executable).parent / "line-emulator"), "--port", str(port), "--residents", str(RESIDENTS),
         "--rate-limit", "multicast=100000/s"],
        {"LINE_CHANNEL_ACCESS_TOKEN": TOKEN, "LINE_CHANNEL_SECRET": SECRET},
        f"http://127.0.0.1:{port}/_emulator/health",
    ).start()
    url = f"http://127.0.0.1:{port}"
    try:
        followed = requests.post(f"{url}/_emulator/follow", json={"count": RESIDENTS, "perRequest": 100},
                                 timeout=60).json()["followed"]
        out = subprocess.run(
            [sys.executable, __file__, "--load", url, "--seconds", str(args.seconds),
             "--concurrency", str(args.concurrency)],
            input=json.dumps(followed), capture_output=True, text=True, check=True, timeout=args.seconds + 120,
        )
        result = json.loads(out.stdout)
        stats = requests.get(f"{url}/_emulator/stats", timeout=10).json()
        result["emulator_recipients_recorded"] = stats["recipientsDelivered"]
        result["target_multicast_requests_per_s"] = 250
        result["meets_target"] = result["multicast_requests_per_s"] >= 250 and result["errors"] == 0
        status = Path(f"/proc/{emulator.process.pid}/task/{emulator.process.pid}/children").read_text().split()
        if status:
            for line in Path(f"/proc/{status[0]}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    result["emulator_worker_peak_rss_mb"] = round(int(line.split()[1]) / 1024, 1)
    finally:
        emulator.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
