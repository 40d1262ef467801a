"""Demo data for `make up`: once the stack answers, some of the emulator's residents follow the
city's account (real signed webhooks through ingress-webhook), the demo rich menus are put on LINE (the
emulator starts empty: ``richmenu-service reconcile`` puts back what was published on earlier runs,
``richmenu-service seed-demo`` makes a default and a disaster menu the first time), then this process waits
quietly so the supervisor keeps running. Not used in production."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import requests
from cityline_common.internal_auth import InternalTokenSigner

EMULATOR = f"http://127.0.0.1:{os.environ.get('LINE_EMULATOR_PORT', '8090')}"
INGRESS = f"http://127.0.0.1:{os.environ.get('INGRESS_WEBHOOK_PORT', '8001')}"
SEGMENT = os.environ.get("SEGMENT_SERVICE_URL", "http://127.0.0.1:8002")
ADMIN = f"http://127.0.0.1:{os.environ.get('ADMIN_UI_PORT', '8000')}/"
FOLLOWERS = int(os.environ.get("DEMO_FOLLOWERS", "200"))


def segment_headers() -> dict[str, str]:
    """segment-service's internal API answers only signed callers: the demo signs as ``service:demo``
    with the demo signing key of .env."""
    signer = InternalTokenSigner.from_spec(os.environ["INTERNAL_TOKEN_SIGNING_KEY"], "demo")
    return {"Authorization": f"Bearer {signer.as_service('segment', ttl_seconds=60)}"}


def wait_for(url: str, seconds: float = 90) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.5)
    return False


def main() -> None:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for url in (f"{EMULATOR}/_emulator/health", f"{INGRESS}/readyz", f"{SEGMENT}/readyz"):
        if not wait_for(url):
            print(f"demo: {url} did not become ready; no demo residents added", file=sys.stderr, flush=True)
            stop.wait()
            return
    # The emulator starts empty on every run while the database keeps last run's residents: the
    # same (seeded) residents follow again, so both sides agree; segment-service takes a repeated
    # follow as the same resident.
    friends = requests.get(f"{EMULATOR}/_emulator/stats", timeout=5).json()["friends"]
    if friends < FOLLOWERS:
        requests.post(f"{EMULATOR}/_emulator/follow", json={"count": FOLLOWERS - friends, "perRequest": 10}, timeout=30)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not stop.is_set():
        stats = requests.get(f"{SEGMENT}/internal/residents/stats", headers=segment_headers(), timeout=5)
        following = stats.json()["following"]
        if following >= FOLLOWERS:
            break
        time.sleep(0.5)
    for step in (["richmenu-service", "reconcile"], ["richmenu-service", "seed-demo"]):
        done = subprocess.run(step, capture_output=True, text=True, timeout=120, check=False)  # noqa: S603 - our argv
        if done.returncode != 0:
            print(f"demo: {' '.join(step)} failed: {done.stderr.strip()[-500:]}", file=sys.stderr, flush=True)
    print(f"demo: {following} residents follow @itami_city (from the LINE emulator). 管理画面: {ADMIN}", flush=True)
    stop.wait()


if __name__ == "__main__":
    main()
