"""docker-compose.yml and Dockerfile, checked without a Docker engine.

The file is validated against the Compose Specification's JSON Schema kept in the shared
folder next to the repository; mounts, dependencies and the mounted Prometheus config are
resolved against the repository.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
SCHEMA = REPO.parent / "shared" / "schemas" / "compose-spec.json"
EXPECTED_SERVICES = {
    "postgres", "prefect", "worker", "exporter", "pushgateway", "prometheus", "alertmanager",
    "grafana",
}  # fmt: skip


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of each relative bind mount, short or long syntax."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
        else:
            source, target = volume.get("source", ""), volume["target"]
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


def test_matches_the_compose_specification_schema() -> None:
    """docker-compose.yml validates against the Compose Specification JSON Schema."""
    if not SCHEMA.is_file():
        pytest.fail(f"the Compose schema is missing: expected {SCHEMA} (the shared folder)")
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schema_rejects_a_broken_file() -> None:
    """The schema check can fail: a misspelt service key is reported."""
    schema = json.loads(SCHEMA.read_text())
    broken = compose()
    broken["services"]["grafana"]["depends_onn"] = ["prometheus"]
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_the_whole_stack_is_there() -> None:
    """Every service of the design runs, each long-running one with a healthcheck."""
    services = compose()["services"]
    assert set(services) >= EXPECTED_SERVICES
    for name in EXPECTED_SERVICES - {"worker"}:
        assert "healthcheck" in services[name], name


def test_bind_mounts_exist_in_the_repo() -> None:
    """Every relative file or folder a service mounts exists in the repository."""
    seen = 0
    for name, service in compose()["services"].items():
        for source, _target in bind_mounts(service):
            assert (REPO / source).exists(), f"{name} mounts missing {source}"
            seen += 1
    assert seen >= 5


def test_named_volumes_are_declared() -> None:
    """Every named volume a service uses is declared at the top level."""
    data = compose()
    declared = set(data.get("volumes", {}))
    for name, service in data["services"].items():
        for volume in service.get("volumes", []):
            source = volume.partition(":")[0] if isinstance(volume, str) else volume["source"]
            if not source.startswith((".", "/")):
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_depends_on_names_real_services() -> None:
    """Each depends_on entry names a service of the file."""
    services = compose()["services"]
    for name, service in services.items():
        for dep in service.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"


def test_environment_contract() -> None:
    """The worker and exporter get the database, Prefect and Pushgateway URLs."""
    services = compose()["services"]
    for name in ("worker", "exporter"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"] == "postgresql://judge:judge@postgres:5432/judge_monitor"
        assert env["PREFECT_API_URL"] == "http://prefect:4200/api"
        assert env["JUDGE_MONITOR_PUSHGATEWAY_URL"] == "http://pushgateway:9091"
    assert services["worker"]["command"] == ["serve"]
    assert services["exporter"]["command"] == ["exporter"]


def test_mounted_prometheus_config_loads_existing_rules() -> None:
    """The prometheus.yml the prometheus service mounts names rule files that exist."""
    prometheus = compose()["services"]["prometheus"]
    mounts = {PurePosixPath(t): REPO / s for s, t in bind_mounts(prometheus)}
    config_path = PurePosixPath("/etc/prometheus/prometheus.yml")
    assert config_path in mounts, "prometheus.yml is not mounted where --config.file says"
    assert f"--config.file={config_path}" in prometheus["command"]
    config = yaml.safe_load(mounts[config_path].read_text())
    assert config["rule_files"]
    for pattern in config["rule_files"]:
        in_container = config_path.parent / pattern
        # find the mount that holds the pattern's folder and glob on the host side
        folder = in_container.parent
        assert folder in mounts, f"rule folder {folder} is not mounted"
        matched = sorted(mounts[folder].glob(in_container.name))
        assert matched, f"{pattern} matches no rule file in {mounts[folder]}"
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    assert "judge_monitor_exporter" in jobs


def test_dockerfile_installs_the_project() -> None:
    """The image is python:3.11-slim with the project installed and the CLI as entrypoint."""
    text = (REPO / "Dockerfile").read_text()
    assert text.count("FROM python:3.11-slim") == 1
    assert "pip install ." in text
    assert 'ENTRYPOINT ["judge-monitor"]' in text
    for line in text.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (REPO / source).exists(), f"Dockerfile copies missing {source}"
