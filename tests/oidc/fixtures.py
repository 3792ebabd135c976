"""Session fixtures for the login tests, registered as a plugin in tests/conftest.py so that
the e2e and browser tests share one OpenID provider and one stack in oidc mode: the
provider, the whole system trusting it, and a provider whose owner accepted her
invitation by signing in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.devstack.embedded import PostgresServer, free_port
from services.devstack.stack import SERVICES, Stack, StackOptions
from services.gateway.signin import CALLBACK_PATH
from tests.oidc.browserless import sign_in_at_provider, submit
from tests.oidc.server import OidcProvider

PROGRAM = {
    "title": "SQL for analysts",
    "price": {"amount_minor": 4900, "currency": "USD"},
    "credential": {"name": "SQL Analyst", "description": "Queries", "criteria": "Pass"},
}


def bearer(provider: OidcProvider, sub: str, **claims: object) -> dict[str, str]:
    """A user's access token as the provider issues them (email verified, groups)."""
    token = provider.sign(
        {"sub": sub, "email": f"{sub}@example.test", "email_verified": True, **claims}
    )
    return {"authorization": f"Bearer {token}"}


def sign_in(
    browser: httpx.Client, gateway: str, login: str, next_path: str = "/"
) -> httpx.Response:
    start = browser.get(f"{gateway}/signin", params={"next": next_path})
    assert start.status_code == 302, start.text
    back = sign_in_at_provider(browser, start, login, stop_at=gateway + CALLBACK_PATH)
    assert back.is_redirect, back.text[:500]
    return browser.get(back.headers["location"])


@pytest.fixture(scope="session")
def gateway_port() -> int:
    """Fixed before either starts: the provider must know the gateway's redirect URIs."""
    return free_port()


@pytest.fixture(scope="session")
def provider(tmp_path_factory: pytest.TempPathFactory, gateway_port: int) -> Iterator[OidcProvider]:
    gateway = f"http://127.0.0.1:{gateway_port}"
    server = OidcProvider(
        tmp_path_factory.mktemp("oidc"),
        gateway_redirect_uri=gateway + CALLBACK_PATH,
        post_logout_redirect_uri=gateway + "/",
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def oidc_stack(
    provider: OidcProvider,
    gateway_port: int,
    tmp_path_factory: pytest.TempPathFactory,
    embedded_pg: PostgresServer,
) -> Iterator[Stack]:
    env = provider.stack_env()
    with Stack(
        Path(tmp_path_factory.mktemp("oidc-stack")),
        database_url=embedded_pg.dsn,
        options=StackOptions(
            durable=False,
            database_prefix=f"oidc{os.getpid()}",
            gateway_port=gateway_port,
            env_overrides={name: env for name in SERVICES},
        ),
    ) as running:
        running.start()
        running.wait_ready(120)
        yield running


@pytest.fixture(scope="session")
def staffed(oidc_stack: Stack, provider: OidcProvider) -> dict[str, str]:
    """A provider whose owner, olga, accepted her invitation by signing in."""
    api = oidc_stack.gateway_url + "/api/v1"
    admin = bearer(provider, "root", groups=["upskill-admins"])
    created = httpx.post(f"{api}/providers", json={"name": "Olga's Academy"}, headers=admin)
    assert created.status_code == 201, created.text
    provider_id = created.json()["id"]
    invited = httpx.post(
        f"{api}/providers/{provider_id}/invitations",
        json={"email": "Olga@Example.test", "role": "OWNER"},
        headers=admin,
    )
    assert invited.status_code == 201, invited.text
    invitation_id = invited.json()["id"]
    assert invited.json()["email"] == "olga@example.test"

    with httpx.Client(timeout=30, trust_env=False) as browser:
        page = sign_in(browser, oidc_stack.gateway_url, "olga", f"/invitations/{invitation_id}")
        assert page.headers["location"] == f"/invitations/{invitation_id}"
        form = browser.get(oidc_stack.gateway_url + page.headers["location"])
        assert "Accept the invitation" in form.text
        accepted = submit(browser, form, {}, action="/accept")
        assert accepted.status_code == 200, accepted.text
        assert "You are now owner" in accepted.text
    return {"provider_id": provider_id, "invitation_id": invitation_id}
