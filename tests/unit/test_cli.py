"""The `upskill` command line: parsing, dev tokens, dev secrets, and service_env()."""

from __future__ import annotations

import base64
import json
import socket
import stat
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from services.cli import main as cli_main
from services.cli.main import build_parser, main
from services.common.auth import AuthSettings, Role, TokenVerifier
from services.common.settings import CommonSettings
from services.credentials.keys import IssuerKey
from services.devstack.demo import JourneyError, decode_jws, run_journey
from services.devstack.stack import (
    CONFIG_VARS,
    GRPC_SERVICES,
    SECRETS_FILE,
    SERVICES,
    DevSecrets,
    render_log_line,
    service_env,
)

COMMON = {"LISTEN_ADDR", "AUTH_MODE", "AUTH_JWT_SECRET", "LOG_LEVEL"}
GRPC_COMMON = COMMON | {"DATABASE_URL", "NATS_URL"}
EXPECTED_VARS = {
    "catalog": GRPC_COMMON,
    "enrollment": GRPC_COMMON | {"CATALOG_ADDR", "PAYMENTS_ADDR", "PUBLIC_BASE_URL"},
    "payments": GRPC_COMMON
    | {
        "PAYMENTS_PROVIDER",
        "STRIPE_WEBHOOK_SECRET",
        "CHECKOUT_TTL_SECONDS",
        "PUBLIC_BASE_URL",
        "LOCAL_WEBHOOK_URL",
        "PLATFORM_FEE_BPS",
        "CATALOG_ADDR",  # provider staff's memberships
    },
    "credentials": GRPC_COMMON | {"CREDENTIALS_SIGNING_KEY", "PUBLIC_BASE_URL", "CATALOG_ADDR"},
    "gateway": COMMON
    | {"CATALOG_ADDR", "ENROLLMENT_ADDR", "PAYMENTS_ADDR", "CREDENTIALS_ADDR", "PUBLIC_BASE_URL"},
}
PEERS = {
    name: f"127.0.0.1:{port}" for name, port in zip(GRPC_SERVICES, range(6001, 6005), strict=True)
}


def dev_auth(secret: str) -> AuthSettings:
    return AuthSettings(
        mode="dev", jwt_secret=secret, jwks_url="", issuer="upskill-dev", service_token=""
    )


@pytest.fixture(scope="module")
def secrets() -> DevSecrets:
    return DevSecrets.generate()


def env_of(service: str, secrets: DevSecrets, **extra: str) -> dict[str, str]:
    return service_env(
        service,
        database_url=""
        if service == "gateway"
        else f"postgresql://postgres@127.0.0.1:5999/upskill_{service}",
        nats_url="nats://127.0.0.1:4999",
        peer_addrs=PEERS,
        listen_addr="127.0.0.1:7000",
        public_base_url="http://127.0.0.1:8099/",
        secrets=secrets,
        **extra,
    )


# --------------------------------------------------------------------------- parsing


def test_dev_defaults_and_options() -> None:
    args = build_parser().parse_args(["dev"])
    assert args.data_dir == Path(".data")
    assert args.port is None
    assert args.replicas == 1
    args = build_parser().parse_args(["dev", "--data-dir", "/tmp/x", "--port", "9000"])
    assert (args.data_dir, args.port) == (Path("/tmp/x"), 9000)
    assert build_parser().parse_args(["dev", "--replicas", "3"]).replicas == 3


@pytest.mark.parametrize(
    "argv",
    [
        ["dev", "--port", "0"],
        ["dev", "--port", "http"],
        ["dev", "--replicas", "0"],
        ["dev", "--replicas", "two"],
        ["token", "--role", "superuser", "--sub", "x"],
        ["token", "--sub", "x"],
        ["dlq", "replay", "--consumer", "credentials"],  # needs --seq or --all
        ["dlq", "replay", "--consumer", "credentials", "--seq", "3", "--all"],
        ["dlq", "list", "--seq", "3"],
        [],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(argv)
    assert exit_.value.code == 2
    assert "error" in capsys.readouterr().err


def test_dlq_arguments() -> None:
    args = build_parser().parse_args(["dlq", "replay", "--consumer", "enrollment", "--seq", "7"])
    assert (args.command, args.dlq_command, args.consumer, args.seq, args.all) == (
        "dlq",
        "replay",
        "enrollment",
        7,
        False,
    )
    args = build_parser().parse_args(["dlq", "--nats-url", "nats://h:1", "list", "--json"])
    assert (args.nats_url, args.consumer, args.json) == ("nats://h:1", None, True)


# --------------------------------------------------------------------------- tokens


def test_token_round_trip(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "s" * 40
    monkeypatch.setenv("AUTH_JWT_SECRET", secret)
    assert (
        main(["token", "--role", "learner", "--sub", "alice", "--email", "alice@example.com"]) == 0
    )
    token = capsys.readouterr().out.strip()
    principal = TokenVerifier(dev_auth(secret)).verify(token)
    assert (principal.subject, principal.role, principal.email) == (
        "alice",
        Role.LEARNER,
        "alice@example.com",
    )
    with pytest.raises(Exception, match="invalid bearer token"):
        TokenVerifier(dev_auth("t" * 40)).verify(token)


def test_provider_token_carries_provider_id(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "p" * 40
    monkeypatch.setenv("AUTH_JWT_SECRET", secret)
    main(["token", "--role", "provider", "--sub", "bob", "--provider-id", "prov-1"])
    principal = TokenVerifier(dev_auth(secret)).verify(capsys.readouterr().out.strip())
    assert (principal.role, principal.provider_id) == (Role.PROVIDER, "prov-1")


def test_provider_token_needs_provider_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_JWT_SECRET", "p" * 40)
    with pytest.raises(SystemExit) as exit_:
        main(["token", "--role", "provider", "--sub", "bob"])
    assert exit_.value.code == 2


def test_token_uses_the_dev_secrets_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AUTH_JWT_SECRET", raising=False)
    secrets = DevSecrets.load_or_create(tmp_path)
    assert main(["token", "--role", "admin", "--sub", "root", "--data-dir", str(tmp_path)]) == 0
    principal = TokenVerifier(dev_auth(secrets.jwt_secret)).verify(capsys.readouterr().out.strip())
    assert principal.role is Role.ADMIN


def test_token_without_any_secret_explains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("AUTH_JWT_SECRET", raising=False)
    assert main(["token", "--role", "admin", "--sub", "x", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "AUTH_JWT_SECRET" in err
    assert "upskill dev" in err


@pytest.mark.parametrize("command", [["dev"], ["demo", "--url", "http://127.0.0.1:9"]])
def test_dev_tools_without_the_local_extra_name_it_in_one_line(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # As if the `local` extra were not installed (tools/check_runtime_package.py runs the
    # real thing in a venv without it).
    monkeypatch.setattr(cli_main, "DEV_DISTRIBUTIONS", ("upskill-no-such-distribution",))
    assert main(command) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert f"`upskill {command[0]}` needs the 'local' extra" in err[0]
    assert "pip install -e '.[local]'" in err[0]


# --------------------------------------------------------------------------- secrets


def test_dev_secrets_are_generated_once_and_private(tmp_path: Path) -> None:
    first = DevSecrets.load_or_create(tmp_path)
    second = DevSecrets.load_or_create(tmp_path)
    assert first == second
    path = tmp_path / SECRETS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["AUTH_JWT_SECRET"] == first.jwt_secret
    assert DevSecrets.load_or_create(tmp_path / "other") != first


def test_dev_secrets_have_the_right_shapes(secrets: DevSecrets) -> None:
    assert len(secrets.jwt_secret) >= 32
    assert secrets.stripe_webhook_secret.startswith("whsec_")
    assert len(base64.b64decode(secrets.stripe_webhook_secret.removeprefix("whsec_"))) == 32
    key = load_pem_private_key(secrets.signing_key_pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)  # ES256, what every verifier accepts
    assert isinstance(key.curve, ec.SECP256R1)
    assert secrets.signing_key_pem.startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8


def test_an_ed25519_dev_key_from_an_older_release_is_rotated_to_es256(tmp_path: Path) -> None:
    old = DevSecrets.load_or_create(tmp_path)
    ed25519 = IssuerKey.generate("EdDSA").private_pem()
    path = tmp_path / SECRETS_FILE
    path.write_text(json.dumps({**old.as_env(), "CREDENTIALS_SIGNING_KEY": ed25519}))

    loaded = DevSecrets.load_or_create(tmp_path)

    assert IssuerKey.from_setting(loaded.signing_key_pem).alg == "ES256"
    assert loaded.jwt_secret == old.jwt_secret  # only the signing key changed
    assert DevSecrets.load(path) == loaded  # and the rotation was saved
    assert not isinstance(
        load_pem_private_key(loaded.signing_key_pem.encode(), password=None), Ed25519PrivateKey
    )


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
def test_keygen_prints_a_key_of_the_asked_type(
    alg: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keygen", "--alg", alg]) == 0

    assert IssuerKey.from_setting(capsys.readouterr().out).alg == alg


def test_keygen_defaults_to_es256(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen"]) == 0

    assert IssuerKey.from_setting(capsys.readouterr().out).alg == "ES256"


# --------------------------------------------------------------------------- service_env


@pytest.mark.parametrize("service", SERVICES)
def test_service_env_gives_each_service_exactly_its_variables(
    service: str, secrets: DevSecrets
) -> None:
    env = env_of(service, secrets)
    assert set(env) == EXPECTED_VARS[service]
    assert set(env) <= CONFIG_VARS
    assert env["AUTH_MODE"] == "dev"
    assert env["AUTH_JWT_SECRET"] == secrets.jwt_secret
    assert env["LISTEN_ADDR"] == "127.0.0.1:7000"
    if service != "gateway":
        assert env["DATABASE_URL"].endswith(f"/upskill_{service}")
        assert env["NATS_URL"] == "nats://127.0.0.1:4999"
    for name, var in (("catalog", "CATALOG_ADDR"), ("payments", "PAYMENTS_ADDR")):
        if var in env:
            assert env[var] == PEERS[name]
    if "PUBLIC_BASE_URL" in env:
        assert env["PUBLIC_BASE_URL"] == "http://127.0.0.1:8099"


def test_service_env_payments_values(secrets: DevSecrets) -> None:
    env = env_of("payments", secrets)
    assert env["PAYMENTS_PROVIDER"] == "local"
    assert env["STRIPE_WEBHOOK_SECRET"] == secrets.stripe_webhook_secret
    assert env["CHECKOUT_TTL_SECONDS"] == "1800"
    assert env["PLATFORM_FEE_BPS"] == "1000"
    assert env["LOCAL_WEBHOOK_URL"] == "http://127.0.0.1:8099/webhooks/stripe"
    internal = env_of("payments", secrets, gateway_url="http://gateway:8080")
    assert internal["LOCAL_WEBHOOK_URL"] == "http://gateway:8080/webhooks/stripe"
    assert internal["PUBLIC_BASE_URL"] == "http://127.0.0.1:8099"


def test_service_env_credentials_and_gateway_values(secrets: DevSecrets) -> None:
    assert env_of("credentials", secrets)["CREDENTIALS_SIGNING_KEY"] == secrets.signing_key_pem
    gateway = env_of("gateway", secrets)
    assert {gateway[f"{name.upper()}_ADDR"] for name in GRPC_SERVICES} == set(PEERS.values())


def test_service_env_optional_and_invalid(secrets: DevSecrets) -> None:
    with_otel = env_of("catalog", secrets, otel_endpoint="http://jaeger:4317", log_level="DEBUG")
    assert with_otel["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4317"
    assert with_otel["LOG_LEVEL"] == "DEBUG"
    with pytest.raises(ValueError, match="unknown service"):
        env_of("billing", secrets)
    with pytest.raises(ValueError, match="database_url"):
        service_env(
            "catalog",
            database_url="",
            nats_url="nats://x:1",
            peer_addrs=PEERS,
            listen_addr="127.0.0.1:1",
            public_base_url="http://x",
            secrets=secrets,
        )


@pytest.mark.parametrize("service", GRPC_SERVICES)
def test_service_env_satisfies_the_settings_readers(
    service: str, secrets: DevSecrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in CONFIG_VARS:
        monkeypatch.delenv(var, raising=False)
    for key, value in env_of(service, secrets).items():
        monkeypatch.setenv(key, value)
    common = CommonSettings.from_env(50051)
    assert common.listen_addr == "127.0.0.1:7000"
    auth = AuthSettings.from_env()
    assert (auth.mode, auth.jwt_secret) == ("dev", secrets.jwt_secret)


def test_service_env_satisfies_the_gateway_settings(
    secrets: DevSecrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.gateway.settings import GatewaySettings

    for var in CONFIG_VARS:
        monkeypatch.delenv(var, raising=False)
    for key, value in env_of("gateway", secrets).items():
        monkeypatch.setenv(key, value)
    settings = GatewaySettings.from_env()
    assert (settings.listen_host, settings.listen_port) == ("127.0.0.1", 7000)
    assert settings.peers == dict(PEERS)
    assert settings.public_base_url == "http://127.0.0.1:8099"


# --------------------------------------------------------------------------- helpers


def test_render_log_line() -> None:
    line = json.dumps(
        {
            "ts": "2025-01-02T03:04:05.678+00:00",
            "level": "WARNING",
            "service": "payments",
            "logger": "x",
            "msg": "retrying",
            "trace_id": "ab" * 16,
            "attempt": 2,
        }
    )
    assert render_log_line(line) == "03:04:05.678 WARNING retrying  attempt=2"
    assert render_log_line("plain text\n") == "plain text"
    assert render_log_line("{not json") == "{not json"


def test_decode_jws() -> None:
    def b64(obj: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    header, claims = decode_jws(f"{b64({'alg': 'EdDSA', 'kid': 'k1'})}.{b64({'sub': 'alice'})}.sig")
    assert header["kid"] == "k1"
    assert claims == {"sub": "alice"}
    with pytest.raises(ValueError, match="compact JWS"):
        decode_jws("only.two")


def test_demo_stops_at_the_first_failing_step_with_the_problem() -> None:
    problem = {"type": "about:blank", "title": "Forbidden", "status": 403, "detail": "admins only"}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/dev/tokens":
            return httpx.Response(200, json={"token": "t"})
        if request.url.path == "/api/v1/providers":
            return httpx.Response(
                403, json=problem, headers={"content-type": "application/problem+json"}
            )
        raise AssertionError(f"the demo went on to {request.url.path}")

    said: list[str] = []
    client = httpx.Client(base_url="http://gw.test", transport=httpx.MockTransport(handler))
    with pytest.raises(JourneyError) as failure:
        run_journey("http://gw.test", say=said.append, client=client)
    assert failure.value.step == "create provider"
    assert failure.value.body == problem
    assert "returned 403" in str(failure.value)
    assert '"detail": "admins only"' in str(failure.value)
    assert said == ["1. admin token: POST /api/v1/dev/tokens -> ok"]


def test_demo_command_exits_1_when_the_gateway_is_unreachable(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.socket() as sock:  # a port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["demo", "--url", f"http://127.0.0.1:{port}"]) == 1
    assert "step 'admin token' failed" in capsys.readouterr().err


def test_a_kid_that_starts_with_a_dash_is_withdrawn_after_double_dash() -> None:
    # base64url thumbprints start with '-' one time in 64: argparse takes such an argument for
    # an option unless it comes after '--'.
    args = build_parser().parse_args(
        ["keys", "withdraw", "--reason", "leak", "--", "-hL1gy-4-oRc9PL56-pBT-n2k"]
    )
    assert (args.kid, args.reason) == ("-hL1gy-4-oRc9PL56-pBT-n2k", "leak")


def test_a_kid_that_starts_with_a_dash_is_scheduled_joined_to_kid_by_equals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A separate `--kid -abc` leaves --kid without its value (argparse takes -abc for an
    # option); `--kid=-abc` is one argument, so the value is never mistaken.
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["keys", "schedule", "--kid", "-abc", "--from", "2027-01-01T00:00Z"]
        )
    assert "--kid: expected one argument" in capsys.readouterr().err
    args = build_parser().parse_args(
        ["keys", "schedule", "--kid=-abc", "--from", "2027-01-01T00:00Z"]
    )
    assert (args.kid, args.key_file) == ("-abc", None)
    assert args.signs_from == datetime(2027, 1, 1, tzinfo=UTC)
