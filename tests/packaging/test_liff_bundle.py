"""The residents' LIFF page ships its JavaScript already bundled (segment-service's package data), so
`make up`, the container image and the wheel need no Node.js; this checks the committed bundle is
what `npm run build:liff` makes from services/segment-service/liff/app.js and package-lock.json."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from testsupport import ROOT

BUNDLE = ROOT / "services/segment-service/src/segment_service/liff/static/liff.js"


def test_the_committed_liff_bundle_is_built_from_the_source(tmp_path: Path):
    esbuild = ROOT / "node_modules" / ".bin" / "esbuild"
    assert esbuild.exists(), "run `make install` (npm ci installs esbuild, @line/liff and @line/liff-mock)"
    script = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))["scripts"]["build:liff"]
    argv = [str(esbuild), *(arg for arg in script.split()[1:] if not arg.startswith("--outfile="))]
    built = tmp_path / "liff.js"
    result = subprocess.run([*argv, f"--outfile={built}"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert built.read_bytes() == BUNDLE.read_bytes(), "liff.js is stale: run `npm run build:liff` and commit it"


def test_the_bundlers_inputs_are_build_time_only():
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    for package in ("node_modules/@line/liff", "node_modules/@line/liff-mock", "node_modules/esbuild"):
        assert lock["packages"][package]["dev"], package  # build-time only: nothing of npm runs in production
