"""OIDC mode: tokens are verified against the issuer's JWKS, fetched over HTTP off the event
loop, with issuer and audience enforced; dev-mode HS256 tokens are refused there."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from services.common.auth import (
    AUDIENCE,
    AuthSettings,
    JwksCache,
    Role,
    TokenVerifier,
    mint_dev_token,
)
from services.common.errors import UnauthenticatedError
from services.common.settings import MissingSettingError

ISSUER = "https://login.example"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks(*kids: str) -> bytes:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    keys = [public | {"kid": kid, "alg": "RS256", "use": "sig"} for kid in kids]
    return json.dumps({"keys": keys}).encode()


@dataclass
class Issuer:
    """A JWKS endpoint whose answers the test controls: which keys, and when to answer."""

    url: str = ""
    kids: list[str] = field(default_factory=lambda: ["k1"])
    requests: int = 0
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    state = Issuer()
    state.release.set()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests += 1
            state.arrived.set()
            # A slow issuer: hold the answer until the test releases it (the bound only
            # keeps a broken build from hanging; no assertion depends on it).
            state.release.wait(timeout=20)
            body = jwks(*state.kids)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_port}/jwks.json"
    yield state
    state.release.set()
    server.shutdown()


@pytest.fixture
def jwks_url(issuer: Issuer) -> str:
    return issuer.url


def issued(kid: str = "k1", **overrides: object) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "role": "learner",
        "email": "alice@example.com",
        "iat": now,
        "exp": now + 300,
    } | overrides
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": kid})


@pytest.fixture
def verifier(jwks_url: str) -> TokenVerifier:
    return TokenVerifier(
        AuthSettings(
            "oidc",
            "",
            jwks_url,
            ISSUER,
            "svc-token",
            audience=AUDIENCE,
            admin_claim="realm_access.roles",
            admin_value="upskill-admin",
            service_client_id="upskill-services",
        )
    )


async def test_a_token_from_the_issuer_becomes_a_principal(verifier: TokenVerifier) -> None:
    principal = await verifier.authenticate(issued())
    assert (principal.subject, principal.role, principal.email) == (
        "alice",
        Role.LEARNER,
        "alice@example.com",
    )


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(issued(iss="https://evil.example"), id="other issuer"),
        pytest.param(issued(iss=None), id="no issuer"),
        pytest.param(issued(kid="k-unknown"), id="key not in the JWKS"),
        pytest.param(issued(aud="someone-else"), id="other audience"),
        pytest.param(issued(exp=int(time.time()) - 10), id="expired"),
        pytest.param(issued(aud=None), id="no audience"),
        pytest.param(mint_dev_token("s" * 40, role="admin", subject="x"), id="dev HS256 token"),
    ],
)
async def test_tokens_the_issuer_did_not_vouch_for_are_refused(
    verifier: TokenVerifier, token: str
) -> None:
    with pytest.raises(UnauthenticatedError):
        await verifier.authenticate(token)


@pytest.mark.parametrize(
    "claims",
    [
        {"role": "admin"},
        {"role": "service"},
        {"role": "provider", "provider_id": "0b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d"},
        {"groups": ["upskill-admin"]},  # the right value under another claim
        {"realm_access": {"roles": "upskill-administrator"}},
        {"realm_access": ["upskill-admin"]},
        {"client_id": "upskill-services"},  # a user's token through the services' client
        {"azp": "upskill-services", "preferred_username": "service-account-other"},
        {"azp": "other", "preferred_username": "service-account-upskill-services"},
    ],
)
async def test_an_issuers_token_grants_no_role_it_was_not_configured_to(
    verifier: TokenVerifier, claims: dict[str, Any]
) -> None:
    principal = await verifier.authenticate(issued(**claims))

    assert (principal.role, principal.provider_id) == (Role.LEARNER, "")


@pytest.mark.parametrize("roles", [["upskill-admin"], ["x", "upskill-admin"], "upskill-admin"])
async def test_admins_are_named_by_the_configured_claim(
    verifier: TokenVerifier, roles: object
) -> None:
    principal = await verifier.authenticate(issued(realm_access={"roles": roles}))

    assert principal.role is Role.ADMIN


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "upskill-services", "client_id": "upskill-services"},
        # Keycloak: its service-account user, the client in azp.
        {
            "sub": "5b0c7e4e-2f0a-4c1e-9f57-0c1d2e3f4a5b",
            "azp": "upskill-services",
            "preferred_username": "service-account-upskill-services",
        },
    ],
)
async def test_the_services_client_credentials_token_is_a_service(
    verifier: TokenVerifier, claims: dict[str, Any]
) -> None:
    token = issued(email=None, **claims)

    assert (await verifier.authenticate(token)).role is Role.SERVICE


async def test_an_unverified_email_is_not_the_callers(verifier: TokenVerifier) -> None:
    principal = await verifier.authenticate(issued(email_verified=False))

    assert principal.email == ""


def test_auth_mode_has_no_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_MODE", raising=False)
    monkeypatch.setenv("AUTH_JWT_SECRET", "s" * 40)

    with pytest.raises(MissingSettingError, match="AUTH_MODE"):
        AuthSettings.from_env()


@pytest.mark.parametrize("name", ["AUTH_AUDIENCE", "AUTH_ADMIN_CLAIM", "AUTH_ADMIN_VALUE"])
def test_oidc_mode_requires_its_settings(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    for key, value in {
        "AUTH_MODE": "oidc",
        "AUTH_JWKS_URL": "https://login.example/jwks.json",
        "AUTH_ISSUER": ISSUER,
        "AUTH_AUDIENCE": "upskill",
        "AUTH_ADMIN_CLAIM": "groups",
        "AUTH_ADMIN_VALUE": "admins",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv(name)

    with pytest.raises(MissingSettingError, match=name):
        AuthSettings.from_env()


def test_services_present_the_configured_token_in_oidc_mode(verifier: TokenVerifier) -> None:
    assert verifier.service_token("enrollment") == "svc-token"


async def test_a_slow_issuer_does_not_block_the_event_loop(issuer: Issuer) -> None:
    issuer.release.clear()
    verifier = TokenVerifier(AuthSettings("oidc", "", issuer.url, ISSUER, ""))
    pending = asyncio.create_task(verifier.authenticate(issued()))
    # Wait (in a thread) until the issuer holds the JWKS request open...
    await asyncio.to_thread(issuer.arrived.wait, 20)
    assert issuer.arrived.is_set()

    # ...and meanwhile this loop still runs other coroutines: many turns of it pass while
    # the token check waits on the issuer. A blocking fetch would hold the loop inside
    # the task until the issuer answered.
    turns = 0
    for _ in range(100):
        await asyncio.sleep(0)
        turns += 1
    assert turns == 100
    assert not pending.done()

    issuer.release.set()
    principal = await pending
    assert principal.subject == "alice"


async def test_unknown_keys_refresh_the_jwks_at_most_once_per_interval(issuer: Issuer) -> None:
    now = [1000.0]
    cache = JwksCache(issuer.url, min_refresh_interval=30, max_age=3600, clock=lambda: now[0])

    assert await cache.key("k1") is not None
    assert issuer.requests == 1

    # The issuer rotates to k2; a flood of tokens naming unknown keys asks it once at most.
    issuer.kids = ["k2"]
    results = await asyncio.gather(*(cache.key(f"forged-{i}") for i in range(20)))
    assert results == [None] * 20
    assert issuer.requests == 1  # within the interval: no fetch at all
    assert await cache.key("k1") is not None  # a known key needs no fetch either

    now[0] += 30
    found = await asyncio.gather(*(cache.key("k2") for _ in range(20)))
    assert all(k is not None for k in found)
    assert issuer.requests == 2  # one fetch for twenty concurrent callers


async def test_keys_the_issuer_dropped_stop_working_after_max_age(issuer: Issuer) -> None:
    now = [1000.0]
    cache = JwksCache(issuer.url, min_refresh_interval=30, max_age=300, clock=lambda: now[0])
    assert await cache.key("k1") is not None

    issuer.kids = ["k2"]
    now[0] += 301
    assert await cache.key("k1") is None
    assert await cache.key("k2") is not None


async def test_an_unreachable_issuer_keeps_the_keys_we_had(issuer: Issuer) -> None:
    now = [1000.0]
    cache = JwksCache(issuer.url, min_refresh_interval=30, max_age=300, clock=lambda: now[0])
    assert await cache.key("k1") is not None

    cache._url = "http://127.0.0.1:1/jwks.json"  # the issuer goes away
    now[0] += 301
    assert await cache.key("k1") is not None


def test_oidc_mode_requires_the_issuer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_MODE", "oidc")
    monkeypatch.setenv("AUTH_JWKS_URL", "https://login.example/jwks.json")
    monkeypatch.delenv("AUTH_ISSUER", raising=False)

    with pytest.raises(MissingSettingError, match="AUTH_ISSUER"):
        AuthSettings.from_env()


@pytest.mark.parametrize("process", ["gateway", "catalog"])
def test_a_process_in_oidc_mode_without_an_issuer_exits_naming_it(process: str) -> None:
    keep = ("PATH", "HOME", "LANG", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep} | {
        "AUTH_MODE": "oidc",
        "AUTH_JWKS_URL": "https://login.example/jwks.json",
        # Everything else a process reads before its auth settings, pointing nowhere.
        "DATABASE_URL": "postgresql://u@127.0.0.1:1/db",
        "NATS_URL": "nats://127.0.0.1:1",
        **{
            f"{p}_ADDR": "127.0.0.1:1" for p in ("CATALOG", "ENROLLMENT", "PAYMENTS", "CREDENTIALS")
        },
    }
    result = subprocess.run(
        [sys.executable, "-m", f"services.{process}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2, result.stderr
    assert "AUTH_ISSUER" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("body", [b"[1, 2]", b"not json", b'{"keys": "nope"}', b"{}"])
async def test_a_broken_jwks_refuses_tokens_without_crashing(body: bytes) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/jwks.json"
        verifier = TokenVerifier(AuthSettings("oidc", "", url, ISSUER, ""))
        with pytest.raises(UnauthenticatedError, match="unknown signing key"):
            await verifier.authenticate(issued())
    finally:
        server.shutdown()


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c", "e30.e30.", issued(kid="")])
async def test_a_malformed_token_is_refused_with_a_stable_message(
    verifier: TokenVerifier, token: str
) -> None:
    with pytest.raises(UnauthenticatedError) as refused:
        await verifier.authenticate(token)
    assert refused.value.message.startswith("invalid bearer token")
    assert "Error" not in refused.value.message  # no exception class names
