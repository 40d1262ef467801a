"""The container image installs our packages as built wheels, not from the source tree (see
deploy/container/Dockerfile). A file the source has but the wheel lacks — a migration, a template,
a static asset — would work in `make up` (editable installs) and break only in production, so every
package is built here and its wheel compared with its source."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from testsupport import LOCAL_PACKAGES

IGNORED_SUFFIXES = {".pyc"}


def _source_files(project: Path) -> set[str]:
    src = project / "src"
    return {
        path.relative_to(src).as_posix()
        for path in src.rglob("*")
        if path.is_file()
        and path.suffix not in IGNORED_SUFFIXES
        and not any(part.endswith(".egg-info") or part == "__pycache__" for part in path.relative_to(src).parts)
    }


def _uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        pytest.fail("uv is not installed: run `make install`")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("project", LOCAL_PACKAGES, ids=[p.name for p in LOCAL_PACKAGES])
def test_wheel_carries_every_file_of_the_package(project: Path, tmp_path: Path) -> None:
    # Built from a copy: setuptools leaves build/ behind, and must not reuse one either.
    copy = tmp_path / project.name
    shutil.copytree(project, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"))
    out = tmp_path / "dist"
    subprocess.run(
        [_uv(), "build", "--wheel", "--quiet", "--out-dir", str(out), str(copy)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packaged = {name for name in archive.namelist() if ".dist-info/" not in name}
    missing = sorted(_source_files(project) - packaged)
    assert not missing, f"{wheel.name} lacks files its source has (add them to package-data): {missing}"
