"""Outages of PostgreSQL and NATS, on a stack of its own (these tests stop its servers):

- a request that needs the database while it is down is answered 503 problem+json with
  Retry-After (gRPC UNAVAILABLE inside), never 401, 404 or 502; the same request works
  once the database is back, with no restart;
- a service (re)started while its PostgreSQL or NATS is down does not crash-loop: it stays
  up, alive but not ready, and turns ready by itself once the dependency is back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common import healthcheck
from services.devstack.demo import demo_program
from services.devstack.stack import Stack, StackOptions
from tests.polling import eventually


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(
        Path(tmp_path_factory.mktemp("outages")), options=StackOptions(durable=False)
    ) as running:
        yield running


@pytest.fixture
def http(own_stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=own_stack.gateway_url, timeout=30, trust_env=False) as client:
        yield client


def token(http: httpx.Client, **claims: str) -> dict[str, str]:
    response = http.post("/api/v1/dev/tokens", json=claims)
    response.raise_for_status()
    return {"authorization": f"Bearer {response.json()['token']}"}


def published_program(http: httpx.Client) -> tuple[dict[str, Any], dict[str, str]]:
    """A published program and a learner token."""
    run = uuid.uuid4().hex[:8]
    admin = token(http, role="admin", sub=f"admin-{run}")
    provider_id = http.post(
        "/api/v1/providers", json={"name": f"Outage Co {run}"}, headers=admin
    ).json()["id"]
    provider = token(http, role="provider", sub=f"prov-{run}", provider_id=provider_id)
    program = http.post("/api/v1/programs", json=demo_program(), headers=provider).json()
    published = http.post(f"/api/v1/programs/{program['id']}/publish", headers=provider)
    assert published.status_code == 200, published.text
    learner = token(http, role="learner", sub=f"learner-{run}", email=f"l-{run}@example.com")
    return program, learner


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["retry-after"]) > 0
    assert response.json()["type"] == "urn:upskill:problem:service-unavailable"


def test_a_database_outage_is_503_with_retry_after(own_stack: Stack, http: httpx.Client) -> None:
    assert own_stack.postgres is not None
    program, learner = published_program(http)
    own_stack.postgres.kill()
    try:
        # The paths an audit saw answer 401 (enrolment) and 404 (a program read).
        assert_unavailable(
            http.post("/api/v1/enrollments", json={"program_id": program["id"]}, headers=learner)
        )
        assert_unavailable(http.get(f"/api/v1/programs/{program['id']}"))
        assert_unavailable(http.get("/api/v1/programs"))
        assert_unavailable(http.get("/api/v1/enrollments", headers=learner))
        # The gateway itself needs no database: it stays in rotation.
        assert http.get("/readyz").status_code == 200
    finally:
        own_stack.postgres.start()
    created = eventually(
        lambda: http.post(
            "/api/v1/enrollments", json={"program_id": program["id"]}, headers=learner
        ),
        until=lambda r: r.status_code == 201,
        within=60,
        what="enrolment to work again once PostgreSQL is back",
    )
    assert created.json()["program_id"] == program["id"]
    assert all(own_stack.is_running(name) for name in ("catalog", "enrollment", "gateway"))


def _health(stack: Stack, name: str, service: str = "") -> str | None:
    return healthcheck.check(stack.addr(name), service=service)


def test_a_service_started_without_its_database_waits_for_it(
    own_stack: Stack, http: httpx.Client
) -> None:
    assert own_stack.postgres is not None
    own_stack.postgres.kill()
    try:
        own_stack.restart_service("catalog", wait=False)
        # Up and alive (no restart wanted), not ready (no traffic wanted), and staying so.
        eventually(
            lambda: _health(own_stack, "catalog", "liveness") is None,
            what="catalog to answer its liveness check while PostgreSQL is down",
        )
        assert _health(own_stack, "catalog") == "gRPC health: NOT_SERVING"
        assert own_stack.is_running("catalog")
    finally:
        own_stack.postgres.start()
    eventually(
        lambda: _health(own_stack, "catalog"),
        until=lambda problem: problem is None,
        within=60,
        what="catalog to turn ready by itself once PostgreSQL is back",
    )
    own_stack.wait_ready(60)
    assert http.get("/api/v1/programs").status_code == 200


def test_a_service_started_without_nats_waits_for_it(own_stack: Stack) -> None:
    assert own_stack.nats is not None
    own_stack.nats.kill()
    try:
        own_stack.restart_service("enrollment", wait=False)
        eventually(
            lambda: _health(own_stack, "enrollment", "liveness") is None,
            what="enrollment to answer its liveness check while NATS is down",
        )
        assert _health(own_stack, "enrollment") == "gRPC health: NOT_SERVING"
        assert own_stack.is_running("enrollment")
    finally:
        own_stack.nats.start()
    eventually(
        lambda: _health(own_stack, "enrollment"),
        until=lambda problem: problem is None,
        within=60,
        what="enrollment to turn ready by itself once NATS is back",
    )
    own_stack.wait_ready(60)
