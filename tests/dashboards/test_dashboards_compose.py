"""docker-compose.yml and Dockerfile, checked without a Docker engine.

The file is validated against the Compose Specification's JSON Schema as shipped by the
``check-jsonschema`` package (its builtin ``vendor.compose-spec``); mounts, dependencies,
the mounted Prometheus config and the mounted judge-monitor.toml are resolved against the
repository, with ``${VAR:-default}`` read as Compose reads it when VAR is unset.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema

from flows.serve import check_serving_source
from monitor.config import config_file, load_settings

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
EXPECTED_SERVICES = {
    "postgres", "prefect", "worker", "exporter", "pushgateway", "prometheus", "alertmanager",
    "grafana",
}  # fmt: skip
JUDGE_MONITOR_SERVICES = {"migrate", "worker", "exporter"}
CONFIG_TARGET = "/etc/judge-monitor/judge-monitor.toml"
_VARIABLE = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-([^}]*))?\}")


def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def compose_schema() -> dict[str, Any]:
    return get_builtin_schema("vendor.compose-spec")


def validator(schema: dict[str, Any]) -> jsonschema.protocols.Validator:
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def unset(value: str) -> str:
    """``value`` interpolated as Compose does with every variable unset: the default."""
    return _VARIABLE.sub(lambda m: m.group(1) or "", value)


def bind_mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(host path, container path) of each bind mount, short or long syntax."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
        else:
            source, target = unset(volume.get("source", "")), volume["target"]
            if volume.get("type") == "bind":
                mounts.append((source, target))
                continue
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


def test_matches_the_compose_specification_schema() -> None:
    """docker-compose.yml validates against the Compose Specification JSON Schema."""
    errors = sorted(validator(compose_schema()).iter_errors(compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schema_rejects_a_broken_file() -> None:
    """The schema check can fail: a misspelt service key, or one in the config mount."""
    check = validator(compose_schema())
    broken = compose()
    broken["services"]["grafana"]["depends_onn"] = ["prometheus"]
    assert any("depends_onn" in e.message for e in check.iter_errors(broken))
    broken = compose()
    (mount,) = broken["services"]["worker"]["volumes"]
    misspelt = {**mount, "bind": {"create_host_paths": False}}
    broken["services"]["worker"]["volumes"] = [misspelt]
    assert [e for e in check.iter_errors(broken) if list(e.path) == ["services", "worker"]]


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
            if isinstance(volume, dict) and volume.get("type") == "bind":
                continue
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


def test_judge_monitor_config_is_mounted_in_every_judge_monitor_service() -> None:
    """Each judge-monitor service mounts an existing judge-monitor.toml that it reads."""
    services = compose()["services"]
    built = {name for name, service in services.items() if "build" in service}
    assert built == JUDGE_MONITOR_SERVICES
    for name in sorted(built):
        service = services[name]
        config = [
            v for v in service["volumes"] if isinstance(v, dict) and v["target"] == CONFIG_TARGET
        ]
        assert len(config) == 1, f"{name} does not mount {CONFIG_TARGET}"
        mount = config[0]
        assert mount["type"] == "bind" and mount["read_only"] is True, name
        assert mount["bind"]["create_host_path"] is False, name
        assert "${JUDGE_MONITOR_CONFIG_FILE:-" in mount["source"], name
        assert unset(mount["source"]) == "./deploy/judge-monitor.toml"
        assert (REPO / unset(mount["source"])).is_file()
        assert service["environment"]["JUDGE_MONITOR_CONFIG"] == CONFIG_TARGET, name


def test_the_mounted_example_config_loads_and_is_not_the_demo(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """deploy/judge-monitor.toml loads, names a real source and an LLM judge; serve takes it."""
    path = REPO / "deploy" / "judge-monitor.toml"
    monkeypatch.setenv("JUDGE_MONITOR_CONFIG", str(path))
    assert config_file() == path
    settings = load_settings()
    assert settings.source.kind == "sql" and settings.source.table
    assert settings.allow_demo_source is False
    llm = [j for j in settings.judges if j.kind == "llm"]
    assert llm and llm[0].base_url and llm[0].api_key_env == "OPENAI_API_KEY"
    assert llm[0].price_input_per_mtok > 0 and llm[0].price_output_per_mtok > 0
    assert settings.schedule_cron == "0 6 * * *"
    check_serving_source(settings)


def test_postgres_is_not_published_on_the_host() -> None:
    """The stack's PostgreSQL is reachable only inside the Compose network by default."""
    services = compose()["services"]
    assert "ports" not in services["postgres"]
    assert all("5432" not in str(p) for s in services.values() for p in s.get("ports", []))
