"""docker-compose.yml runs what `upskill dev` runs: the same command per service and the
same environment variables, each of which the code really reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.devstack.stack import SERVICES, DevSecrets, service_env

ROOT = Path(__file__).resolve().parents[2]
# Read only in stripe mode; `upskill dev` runs the local provider and never sets it.
STRIPE_ONLY = {"STRIPE_API_KEY"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def dev_env(service: str) -> dict[str, str]:
    return service_env(
        service,
        database_url="postgresql://u@h/upskill",
        nats_url="nats://h:4222",
        peer_addrs={"catalog": "c:1", "enrollment": "e:2", "payments": "p:3", "credentials": "r:4"},
        listen_addr="0.0.0.0:1",
        public_base_url="http://public",
        secrets=DevSecrets.generate(),
        gateway_url="http://gateway",
        otel_endpoint="http://jaeger:4317",
    )


@pytest.mark.parametrize("service", SERVICES)
def test_command_runs_the_service_module(compose: dict[str, Any], service: str) -> None:
    assert compose["services"][service]["command"] == ["python", "-m", f"services.{service}"]


@pytest.mark.parametrize("service", SERVICES)
def test_environment_matches_upskill_dev(compose: dict[str, Any], service: str) -> None:
    in_compose = set(compose["services"][service]["environment"])
    assert in_compose - STRIPE_ONLY == set(dev_env(service))


def test_every_variable_is_read_by_the_code(compose: dict[str, Any]) -> None:
    code = "\n".join(p.read_text() for p in (ROOT / "services").rglob("*.py"))
    read = set(re.findall(r"[\"']([A-Z][A-Z0-9_]+)[\"']", code))
    for service in SERVICES:
        variables = set(compose["services"][service]["environment"])
        assert variables - read == set(), service


def test_every_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, spec in compose["services"].items():
        assert "healthcheck" in spec, name
