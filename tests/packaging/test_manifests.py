"""The lists outside the services' folders agree with what the services declare in their manifests:
the Procfile, the Helm chart's components and cronJobs, .env.example and the container image. So
adding a service means its own folder plus one line in each list, and a forgotten line fails here."""

from __future__ import annotations

import re
from importlib.metadata import entry_points

import yaml
from cityline_common.manifest import ENTRY_POINT_GROUP, Process, all_processes

from testsupport import ROOT, procfile

LOCAL_ONLY = {"emulator", "demo"}  # the LINE stand-in and the demo residents never run in a city


def camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(part.capitalize() for part in rest)


def locally(process: Process) -> list[str]:
    """How the Procfile runs a process: workers serve their probes on ${<NAME>_PORT:-<port>}."""
    if process.kind == "worker":
        return [*process.command, "--http-port", f"${{{process.port_env}:-{process.port}}}"]
    return list(process.command)


def values() -> dict:
    return yaml.safe_load((ROOT / "deploy/helm/cityline/values.yaml").read_text(encoding="utf-8"))


def test_the_procfile_runs_every_process_of_every_manifest_and_nothing_else():
    processes = {process.name: locally(process) for process in all_processes()}
    declared = {name: argv for name, argv in procfile().items() if name not in LOCAL_ONLY}
    assert declared == processes


def test_the_chart_has_a_component_or_cron_job_for_every_process():
    chart = values()
    components, cron_jobs = chart["components"], chart["cronJobs"]
    expected_components = {camel(p.name): p for p in all_processes() if p.kind != "cron"}
    expected_cron_jobs = {camel(p.name): p for p in all_processes() if p.kind == "cron"}
    assert set(components) == set(expected_components)
    assert set(cron_jobs) == set(expected_cron_jobs)
    for name, process in expected_components.items():
        spec = components[name]
        assert spec["command"] == list(process.command), name
        assert spec["port"] == process.port, name
        assert spec.get("portEnv") == (process.port_env if process.kind == "web" else None), name
    for name, process in expected_cron_jobs.items():
        assert cron_jobs[name]["command"] == [*process.command, "--once"], name
        assert cron_jobs[name]["schedule"] == process.schedule, name


def test_env_example_gives_every_process_its_port():
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    settings = dict(line.split("=", 1) for line in lines if re.match(r"^[A-Z_]+=", line))
    for process in all_processes():
        if process.port is not None:
            assert settings.get(process.port_env) == str(process.port), process.port_env


def test_the_image_installs_every_registered_service():
    dockerfile = (ROOT / "deploy/container/Dockerfile").read_text(encoding="utf-8")
    globs = re.findall(r"\./((?:libs|services|tools)/\*)", dockerfile)
    assert sorted(globs) == ["libs/*", "services/*", "tools/*"]
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        package = entry.value.split(".", 1)[0]
        homes = [path.parent for path in ROOT.glob(f"*/*/src/{package}/__init__.py")]
        assert homes, f"{entry.name}: package {package} is not under libs/, services/ or tools/"
        assert homes[0].parts[-4] in {"libs", "services", "tools"}
