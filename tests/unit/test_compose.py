"""docker-compose.yml runs what `upskill dev` runs (the same command per service and the
same environment variables, each of which the code really reads), except that it signs
people in through its identity provider (AUTH_MODE=oidc), and it is safe by default: no
secret has a usable default, dev mode is never selected, and every OIDC setting reaches
every process that reads it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.common.auth import AuthSettings, TokenVerifier
from services.devstack.stack import SERVICES, DevSecrets, service_env
from services.gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[2]
# Read only in stripe mode; `upskill dev` runs the local provider and never sets it.
STRIPE_ONLY = {"STRIPE_API_KEY"}
# What compose's processes read instead of dev mode's AUTH_JWT_SECRET: every process trusts
# the issuer and fetches its own service token; the gateway is also the relying party.
OIDC_VARS = {
    "AUTH_ISSUER",
    "AUTH_JWKS_URL",
    "AUTH_TOKEN_URL",
    "AUTH_AUDIENCE",
    "AUTH_ADMIN_CLAIM",
    "AUTH_ADMIN_VALUE",
    "AUTH_SERVICE_CLIENT_ID",
    "AUTH_SERVICE_CLIENT_SECRET",
}
GATEWAY_OIDC_VARS = {"OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_DISCOVERY_URL", "SESSION_SECRET"}
# The operator's secrets: each must be given, none may have a default.
SECRETS = {
    "POSTGRES_PASSWORD",
    "KEYCLOAK_ADMIN_PASSWORD",
    "UPSKILL_ADMIN_PASSWORD",
    "OIDC_CLIENT_SECRET",
    "SERVICES_CLIENT_SECRET",
    "SESSION_SECRET",
    "STRIPE_WEBHOOK_SECRET",
    "CREDENTIALS_SIGNING_KEY",
}
REQUIRED = SECRETS | {"PUBLIC_BASE_URL", "KEYCLOAK_PUBLIC_URL", "UPSKILL_ADMIN_EMAIL"}
_INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?([-?+]))?([^}]*)\}")


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
    oidc = OIDC_VARS | (GATEWAY_OIDC_VARS if service == "gateway" else set())
    assert in_compose - STRIPE_ONLY == (set(dev_env(service)) - {"AUTH_JWT_SECRET"}) | oidc


def test_no_process_selects_dev_mode(compose: dict[str, Any]) -> None:
    for service in SERVICES:
        assert compose["services"][service]["environment"]["AUTH_MODE"] == "oidc", service
    assert "AUTH_JWT_SECRET" not in (ROOT / "docker-compose.yml").read_text()


def test_no_secret_has_a_default() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    uses = _INTERPOLATION.findall(text)
    named = {name for name, _, _ in uses}
    assert named >= REQUIRED
    for name, operator, message in uses:
        if name in REQUIRED:
            # `${NAME:?how to make one}`: missing stops compose, with that line.
            assert operator == "?", name
            assert name in message, (name, message)
    # Nothing else that looks like a secret is written out in full.
    for line in text.splitlines():
        key, _, value = line.strip().partition(":")
        if re.search(r"(SECRET|PASSWORD|_KEY)$", key) and key != "STRIPE_API_KEY":
            assert value.strip().startswith("${"), line
            assert ":?" in value, line


def _resolved(spec: dict[str, Any]) -> dict[str, str]:
    """A service's environment as compose would pass it, every ${...} given a value."""

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        return {
            "KEYCLOAK_PUBLIC_URL": "https://login.example",
            "PUBLIC_BASE_URL": "https://upskill.example",
        }.get(name, "x" * 40)

    return {k: _INTERPOLATION.sub(value_of, str(v)) for k, v in spec["environment"].items()}


@pytest.mark.parametrize("service", SERVICES)
def test_every_oidc_setting_reaches_every_process(
    compose: dict[str, Any], service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each process starts in oidc mode on exactly compose's environment, trusting the
    issuer browsers see and renewing its own service token."""
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in _resolved(compose["services"][service]).items():
        monkeypatch.setenv(name, value)

    auth = AuthSettings.from_env()
    assert auth.mode == "oidc"
    assert auth.issuer == "https://login.example/realms/upskill"
    assert TokenVerifier(auth).fetches_service_token
    if service == "gateway":
        gateway = GatewaySettings.from_env()
        assert gateway.oidc is not None
        assert gateway.public_base_url == "https://upskill.example"


def test_the_realm_matches_what_the_processes_expect(compose: dict[str, Any]) -> None:
    realm = json.loads((ROOT / "deploy" / "keycloak" / "upskill-realm.json").read_text())
    env = compose["services"]["gateway"]["environment"]
    clients = {c["clientId"]: c for c in realm["clients"]}
    gateway = clients[env["OIDC_CLIENT_ID"]]
    assert gateway["attributes"]["pkce.code.challenge.method"] == "S256"
    assert gateway["redirectUris"] == ["${PUBLIC_BASE_URL}/signin/callback"]
    assert not gateway["directAccessGrantsEnabled"]
    assert not gateway["implicitFlowEnabled"]
    services = clients[env["AUTH_SERVICE_CLIENT_ID"]]
    assert services["serviceAccountsEnabled"]
    assert not services["standardFlowEnabled"]
    for client in (gateway, services):
        audiences = [
            m["config"]["included.custom.audience"]
            for m in client["protocolMappers"]
            if m["protocolMapper"] == "oidc-audience-mapper"
        ]
        assert audiences == [env["AUTH_AUDIENCE"]]
    assert {"name": env["AUTH_ADMIN_VALUE"]} in realm["groups"]
    admin = next(u for u in realm["users"] if u["username"] == "admin")
    assert admin["credentials"][0]["value"] == "${UPSKILL_ADMIN_PASSWORD}"
    assert f"/{env['AUTH_ADMIN_VALUE']}" in admin["groups"]


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="needs docker-compose")
@pytest.mark.parametrize("missing", sorted(REQUIRED))
def test_a_missing_secret_stops_compose_naming_it(missing: str) -> None:
    env = {"PATH": os.environ["PATH"]} | {name: "x" for name in REQUIRED - {missing}}
    result = subprocess.run(
        ["docker-compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert f"set {missing}" in result.stderr


def test_every_variable_is_read_by_the_code(compose: dict[str, Any]) -> None:
    code = "\n".join(p.read_text() for p in (ROOT / "services").rglob("*.py"))
    read = set(re.findall(r"[\"']([A-Z][A-Z0-9_]+)[\"']", code))
    for service in SERVICES:
        variables = set(compose["services"][service]["environment"])
        assert variables - read == set(), service


def test_every_service_has_a_health_check(compose: dict[str, Any]) -> None:
    for name, spec in compose["services"].items():
        assert "healthcheck" in spec, name
