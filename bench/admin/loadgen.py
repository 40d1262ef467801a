"""Load generator for the staff console benchmark: a separate process, loopback only, bounded in time.

Usage: python loadgen.py PHASE CONFIG_JSON
  PHASE signin-page   every staff member GETs the sign-in page, again the moment it arrives
  PHASE signed-in     every staff member signs in (password, then TOTP), then GETs the dashboard,
                      again the moment it arrives
  PHASE sign-in       the staff members sign in one after another (nothing else runs)
CONFIG_JSON: {"base": "http://127.0.0.1:PORT", "seconds": 15, "staff": [{"login", "password", "secret"}]}
Prints one JSON object with counts and latency percentiles (ms).
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from typing import Any

import aiohttp
import pyotp

WARMUP_SECONDS = 2.0
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    count = len(ordered)

    def pct(p: float) -> float:
        return round(ordered[min(count - 1, int(p * count))] * 1000, 1) if count else 0.0

    return {"count": count, "p50_ms": pct(0.50), "p95_ms": pct(0.95), "p99_ms": pct(0.99), "max_ms": pct(1.0)}


async def csrf_token(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as response:
        html = await response.text()
    found = CSRF.search(html)
    if response.status != 200 or found is None:
        raise RuntimeError(f"no form at {url}: {response.status}")
    return found.group(1)


async def sign_in(
    session: aiohttp.ClientSession, base: str, member: dict[str, str], step_offset: int = 0
) -> dict[str, float]:
    """What a browser does: the form, the password, the code form, the code. Seconds per step."""
    times: dict[str, float] = {}
    started = time.perf_counter()
    token = await csrf_token(session, f"{base}/signin")
    times["form"] = time.perf_counter() - started
    mark = time.perf_counter()
    async with session.post(f"{base}/signin", allow_redirects=False, data={
            "csrf_token": token, "login_id": member["login"], "password": member["password"]}) as response:
        await response.read()
        if response.status != 302 or "/signin/code" not in response.headers.get("Location", ""):
            raise RuntimeError(f"password step refused for {member['login']}: {response.status}")
    times["password"] = time.perf_counter() - mark
    mark = time.perf_counter()
    token = await csrf_token(session, f"{base}/signin/code")
    times["code_form"] = time.perf_counter() - mark
    mark = time.perf_counter()
    # A code works once per 30 s step; a later step (within the one-step drift allowed) is fresh.
    code = pyotp.TOTP(member["secret"]).at(time.time() + 30 * step_offset)
    async with session.post(f"{base}/signin/code", allow_redirects=False,
                            data={"csrf_token": token, "code": code}) as response:
        await response.read()
        if response.status != 302:
            raise RuntimeError(f"code step refused for {member['login']}: {response.status}")
    times["code"] = time.perf_counter() - mark
    times["total"] = time.perf_counter() - started
    return times


def new_session() -> aiohttp.ClientSession:
    # unsafe=True: keep cookies for an IP address host (127.0.0.1).
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                 timeout=aiohttp.ClientTimeout(total=30),
                                 connector=aiohttp.TCPConnector(limit=1))


async def closed_loop(config: dict[str, Any], path: str, signed_in: bool) -> dict[str, Any]:
    base, seconds, staff = config["base"], float(config["seconds"]), config["staff"]
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    sign_ins: list[float] = []
    answered = [0]  # every answer of the load (warm-up included): what server CPU time is divided by
    sessions = [new_session() for _ in staff]
    try:
        if signed_in:  # all at once, as when a department starts its day
            results = await asyncio.gather(*(sign_in(session, base, member, config.get("step_offset", 0))
                                             for session, member in zip(sessions, staff, strict=True)))
            sign_ins = [each["total"] for each in results]
        start = time.perf_counter()
        measure_from, end = start + WARMUP_SECONDS, start + WARMUP_SECONDS + seconds

        async def member_loop(session: aiohttp.ClientSession) -> None:
            while (sent := time.perf_counter()) < end:
                try:
                    async with session.get(f"{base}{path}", allow_redirects=False) as response:
                        body = await response.read()
                        status = str(response.status)
                        if signed_in and status == "200" and "日別の増減".encode() not in body:
                            status = "200-without-figures"  # segment-service did not answer
                except (TimeoutError, aiohttp.ClientError) as exc:
                    status = type(exc).__name__
                answered[0] += 1
                if sent >= measure_from:
                    latencies.append(time.perf_counter() - sent)
                    statuses[status] = statuses.get(status, 0) + 1

        await asyncio.gather(*(member_loop(session) for session in sessions))
    finally:
        await asyncio.gather(*(session.close() for session in sessions))
    result: dict[str, Any] = {"path": path, "concurrency": len(staff), "seconds": seconds, "statuses": statuses,
                              "errors": sum(n for s, n in statuses.items() if s != "200"),
                              "requests_per_s": round(len(latencies) / seconds, 1), "answered_total": answered[0],
                              **percentiles(latencies)}
    if signed_in:
        result["concurrent_sign_in"] = percentiles(sign_ins)
    return result


async def sequential_sign_ins(config: dict[str, Any]) -> dict[str, Any]:
    steps: dict[str, list[float]] = {}
    for member in config["staff"]:
        async with new_session() as session:
            for name, seconds in (await sign_in(session, config["base"], member, config.get("step_offset", 0))).items():
                steps.setdefault(name, []).append(seconds)
    return {name: percentiles(values) for name, values in steps.items()}


def main() -> None:
    phase, raw = sys.argv[1], sys.argv[2]
    config = json.loads(raw)
    if phase == "signin-page":
        result = asyncio.run(closed_loop(config, "/signin", signed_in=False))
    elif phase == "signed-in":
        result = asyncio.run(closed_loop(config, "/", signed_in=True))
    elif phase == "sign-in":
        result = asyncio.run(sequential_sign_ins(config))
    else:
        raise SystemExit(f"unknown phase {phase!r}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
