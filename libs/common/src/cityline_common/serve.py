"""``cityline-serve NAME``: run the web process NAME of some service's manifest under gunicorn.

Prometheus' multiprocess directory must be set before Python imports prometheus_client in the
workers and wiped on every start, so this sets it and then replaces itself with gunicorn.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from cityline_common.manifest import all_processes


def main(argv: list[str] | None = None) -> None:
    web = {process.name: process for process in all_processes() if process.kind == "web"}
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("process", choices=sorted(web), help="a web process of an installed service")
    args = parser.parse_args(argv)
    process = web[args.process]
    base = Path(os.environ.get("PROMETHEUS_MULTIPROC_BASE") or Path(tempfile.gettempdir()) / "cityline-prometheus")
    directory = base / process.name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    os.environ["CITYLINE_PROCESS"] = process.name
    assert process.app is not None  # a web process always names its app (checked by Process)
    argv = [sys.executable, "-m", "gunicorn", "-c", "python:cityline_common.gunicorn_conf", process.app]
    os.execv(sys.executable, argv)  # noqa: S606 - our own interpreter, an argv of our own making
