"""Load generator for webhook benchmarks: a separate process, loopback only, bounded in time.

Usage: python loadgen.py URL SECRET EVENTS_PER_REQUEST MODE RATE_OR_CONCURRENCY SECONDS
  MODE open:   send RATE requests/s on a fixed schedule (latency counted from the scheduled time,
               so a slow server cannot hide queueing: no coordinated omission)
  MODE closed: keep CONCURRENCY requests in flight, as fast as the server answers
Prints one JSON object with counts, throughput and latency percentiles.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import sys
import time

import aiohttp

WARMUP_SECONDS = 2.0


def make_body(secret: bytes, events_per_request: int, counter: list[int]) -> tuple[bytes, str]:
    events = []
    for _ in range(events_per_request):
        counter[0] += 1
        n = counter[0]
        events.append({
            # Now, as LINE stamps it: ingress refuses events older than its de-duplication window.
            "type": "message", "mode": "active", "timestamp": int(time.time() * 1000),
            "webhookEventId": f"{os.getpid():08X}{n:018X}",
            "deliveryContext": {"isRedelivery": False}, "replyToken": f"{n:032x}",
            "source": {"type": "user", "userId": f"U{n:032x}"},
            "message": {"type": "text", "id": str(n), "quoteToken": f"q{n}", "text": "ごみの収集日を教えてください"},
        })
    body = json.dumps({"destination": "U" + "d" * 32, "events": events}, ensure_ascii=False).encode()
    return body, base64.b64encode(hmac.new(secret, body, hashlib.sha256).digest()).decode()


async def run(url: str, secret: bytes, per_request: int, mode: str, level: float, seconds: float) -> dict:
    counter = [0]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    completed_in_window = [0]
    answered = [0]  # every answer, warm-up included: what the server's CPU time is divided by
    start = time.perf_counter() + 0.2
    measure_from = start + WARMUP_SECONDS
    end = measure_from + seconds
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:

        async def one(scheduled: float) -> None:
            body, signature = make_body(secret, per_request, counter)
            try:
                async with session.post(url, data=body, headers={"X-Line-Signature": signature,
                                                                 "Content-Type": "application/json"}) as response:
                    await response.read()
                    status = str(response.status)
            except (TimeoutError, aiohttp.ClientError) as exc:
                status = type(exc).__name__
            done = time.perf_counter()
            answered[0] += 1
            if scheduled >= measure_from:
                latencies.append(done - scheduled)
                statuses[status] = statuses.get(status, 0) + 1
                if status == "200" and done <= end:
                    completed_in_window[0] += 1

        if mode == "open":
            interval = 1.0 / level
            tasks = []
            n = 0
            while True:
                scheduled = start + n * interval
                if scheduled >= end:
                    break
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(scheduled)))
                n += 1
            await asyncio.gather(*tasks)
        else:

            async def worker() -> None:
                while time.perf_counter() < end:
                    await one(time.perf_counter())

            await asyncio.sleep(max(0.0, start - time.perf_counter()))
            await asyncio.gather(*(worker() for _ in range(int(level))))
    latencies.sort()
    count = len(latencies)
    ok = statuses.get("200", 0)

    def pct(p: float) -> float:
        return round(latencies[min(count - 1, int(p * count))] * 1000, 2) if count else 0.0

    return {
        "mode": mode, "level": level, "events_per_request": per_request, "seconds": seconds,
        "requests": count, "statuses": statuses, "errors": count - ok, "answered_total": answered[0],
        # Sustained throughput: successful answers that arrived inside the measured window.
        "requests_per_s": round(completed_in_window[0] / seconds, 1),
        "events_per_s": round(completed_in_window[0] * per_request / seconds, 1),
        "p50_ms": pct(0.50), "p90_ms": pct(0.90), "p99_ms": pct(0.99), "max_ms": pct(1.0),
    }


if __name__ == "__main__":
    url, secret, per_request, mode, level, seconds = sys.argv[1:7]
    result = asyncio.run(run(url, secret.encode(), int(per_request), mode, float(level), float(seconds)))
    print(json.dumps(result))
