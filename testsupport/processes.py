"""Start the platform's real processes (gunicorn apps, consumers, relays) for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from testsupport import ROOT

BIN = Path(sys.executable).parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds_by_group() -> dict[int, float]:
    """CPU seconds (user + system) of every live process, summed by process group (a RunningProcess is the
    leader of its own group: its gunicorn workers count with it)."""
    groups: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        groups[int(fields[2])] = groups.get(int(fields[2]), 0.0) + (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return groups


class RunningProcess:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], health_url: str | None = None) -> None:
        self.name = name
        self.argv = argv
        self.env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", **env}
        self.health_url = health_url
        self.log = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> RunningProcess:
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        while self.health_url:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.output()}")
            try:
                if requests.get(self.health_url, timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not healthy within {timeout}s:\n{self.output()}")
            time.sleep(0.1)
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-5000:]

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
