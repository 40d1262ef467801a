"""Where LINE's official OpenAPI files are: ../shared/line-openapi beside the repository (or
LINE_OPENAPI_DIR). Tests read them at run time; nothing is copied into the repository."""

from __future__ import annotations

import os
from pathlib import Path

from testsupport import ROOT


def line_openapi_dir() -> Path:
    candidates = [os.environ.get("LINE_OPENAPI_DIR", ""), ROOT.parent / "shared" / "line-openapi"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "messaging-api.yml").is_file():
            return Path(candidate)
    raise FileNotFoundError("LINE's OpenAPI files not found: set LINE_OPENAPI_DIR or put shared/ beside the repo")
