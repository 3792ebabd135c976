"""A missing or unusable setting stops a service at start-up with one line naming it
(exit status 2), never a half-started process or a traceback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import nats
import pytest

from services.common import jetstream
from services.credentials.keys import IssuerKey

SECRET = "x" * 40


def start(
    service: str, env: dict[str, str], *, auth_mode: str | None = "dev"
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    # AUTH_MODE has no default: these tests choose dev mode explicitly, as `upskill dev` does.
    mode = {"AUTH_MODE": auth_mode} if auth_mode else {}
    return subprocess.run(
        [sys.executable, "-m", f"services.{service}"],
        env=clean | mode | env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("service", ["catalog", "enrollment", "payments", "credentials"])
def test_without_a_database_url_the_service_names_it(service: str) -> None:
    result = start(service, {"NATS_URL": "nats://127.0.0.1:1", "STRIPE_WEBHOOK_SECRET": "whsec_x"})
    assert result.returncode == 2, result.stderr
    assert "DATABASE_URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("service", ["catalog", "gateway"])
def test_without_auth_mode_a_process_names_it(
    service: str, fresh_database: str, nats_url: str
) -> None:
    """Leaving AUTH_MODE unset never means dev mode."""
    env = {
        "DATABASE_URL": fresh_database,
        "NATS_URL": nats_url,
        "AUTH_JWT_SECRET": SECRET,
        **{
            f"{p}_ADDR": "127.0.0.1:1" for p in ("CATALOG", "ENROLLMENT", "PAYMENTS", "CREDENTIALS")
        },
    }
    result = start(service, env, auth_mode=None)
    assert result.returncode == 2, result.stderr
    assert "AUTH_MODE" in result.stderr
    assert "Traceback" not in result.stderr


def test_gateway_names_a_missing_peer_address() -> None:
    result = start("gateway", {"AUTH_JWT_SECRET": SECRET})
    assert result.returncode == 2, result.stderr
    assert "CATALOG_ADDR" in result.stderr


def test_a_short_dev_secret_is_refused(fresh_database: str, nats_url: str) -> None:
    result = start(
        "catalog",
        {"DATABASE_URL": fresh_database, "NATS_URL": nats_url, "AUTH_JWT_SECRET": "short"},
    )
    assert result.returncode == 2, result.stderr
    assert "AUTH_JWT_SECRET must be at least 32 characters" in result.stderr


ED25519_PEM = IssuerKey.generate("EdDSA").private_pem()
ES256_PEM = IssuerKey.generate("ES256").private_pem()


@pytest.mark.parametrize(
    ("service", "env", "named"),
    [
        ("enrollment", {}, "CATALOG_ADDR"),
        ("credentials", {"PUBLIC_BASE_URL": "http://x"}, "CREDENTIALS_SIGNING_KEY"),
        (
            "credentials",
            {"PUBLIC_BASE_URL": "http://x", "CREDENTIALS_SIGNING_KEY": "not a key"},
            "CREDENTIALS_SIGNING_KEY",
        ),
        # An Ed25519 key (what earlier releases generated) signs only by explicit choice.
        (
            "credentials",
            {"PUBLIC_BASE_URL": "http://x", "CREDENTIALS_SIGNING_KEY": ED25519_PEM},
            "CREDENTIALS_SIGNING_ALG=EdDSA",
        ),
        (
            "credentials",
            {
                "PUBLIC_BASE_URL": "http://x",
                "CREDENTIALS_SIGNING_KEY": ES256_PEM,
                "CREDENTIALS_SIGNING_ALG": "RS256",
            },
            "CREDENTIALS_SIGNING_ALG=RS256",
        ),
    ],
)
def test_service_settings_read_after_connecting_still_fail_cleanly(
    fresh_database: str, nats_url: str, service: str, env: dict[str, str], named: str
) -> None:
    base = {"DATABASE_URL": fresh_database, "NATS_URL": nats_url, "AUTH_JWT_SECRET": SECRET}
    result = start(service, base | env)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("service", "env", "named"),
    [
        # Before connecting to anything: no database or NATS is needed to refuse these.
        ("catalog", {"INBOX_RETENTION_HOURS": "24"}, "INBOX_RETENTION_HOURS"),
        ("enrollment", {"OUTBOX_RETENTION_HOURS": "0"}, "OUTBOX_RETENTION_HOURS"),
        ("payments", {"WEBHOOK_PAYLOAD_RETENTION_HOURS": "24"}, "WEBHOOK_PAYLOAD_RETENTION_HOURS"),
    ],
)
def test_a_retention_too_short_for_its_guarantee_stops_start_up(
    service: str, env: dict[str, str], named: str
) -> None:
    base = {
        "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
        "NATS_URL": "nats://127.0.0.1:1",
        "AUTH_JWT_SECRET": SECRET,
        "STRIPE_WEBHOOK_SECRET": "whsec_x",
    }
    result = start(service, base | env)
    assert result.returncode == 2, result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr


async def test_more_stream_replicas_than_the_server_keeps_stop_start_up(
    fresh_database: str, nats_url: str
) -> None:
    """NATS_STREAM_REPLICAS=3 on one server, whose stream already exists (the case older
    nats-servers accept silently): start-up stops naming the setting, the stream as it was."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        # Only created when missing: another test's stream is left as it is.
        name = await jetstream.ensure_stream(js, "catalog")
        before = (await js.stream_info(name)).config
        env = {
            "DATABASE_URL": fresh_database,
            "NATS_URL": nats_url,
            "AUTH_JWT_SECRET": SECRET,
            "NATS_STREAM_REPLICAS": "3",
        }
        result = await asyncio.to_thread(start, "catalog", env)
        assert result.returncode == 2, result.stderr
        assert "NATS_STREAM_REPLICAS" in result.stderr
        assert "Traceback" not in result.stderr
        after = (await js.stream_info(name)).config
        assert (after.num_replicas, after.max_age) == (before.num_replicas, before.max_age)
    finally:
        await nc.close()
