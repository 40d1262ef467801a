"""The container image installs requirements-runtime.lock; `make up` and CI install requirements.lock.
They must agree on every package they share, and the runtime lock must hold every third-party
dependency our packages declare — or the image would run versions the tests never ran, or lack one."""

from __future__ import annotations

import re
import tomllib

from testsupport import LOCAL_PACKAGES, ROOT

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)", re.MULTILINE)


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lock: str) -> dict[str, str]:
    return {_canonical(name): version for name, version in PIN.findall((ROOT / lock).read_text(encoding="utf-8"))}


def _declared_dependencies() -> dict[str, set[str]]:
    """Third-party requirement names of each local package, from its pyproject.toml."""
    projects = {}
    for package in LOCAL_PACKAGES:
        project = tomllib.loads((package / "pyproject.toml").read_text(encoding="utf-8"))["project"]
        projects[_canonical(project["name"])] = {
            _canonical(re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0])
            for requirement in project.get("dependencies", [])
        }
    local = set(projects)
    return {name: deps - local for name, deps in projects.items()}


def test_runtime_lock_is_the_full_lock_narrowed():
    runtime, full = _pins("requirements-runtime.lock"), _pins("requirements.lock")
    assert runtime, "requirements-runtime.lock pins nothing"
    disagree = {name: (version, full.get(name)) for name, version in runtime.items() if full.get(name) != version}
    assert not disagree, f"run `make lock`: runtime pins differ from requirements.lock: {disagree}"


def test_runtime_lock_holds_every_dependency_our_packages_declare():
    runtime = _pins("requirements-runtime.lock")
    missing = {package: sorted(deps - runtime.keys()) for package, deps in _declared_dependencies().items()
               if deps - runtime.keys()}
    assert not missing, f"add to requirements-runtime.in and run `make lock`: {missing}"
