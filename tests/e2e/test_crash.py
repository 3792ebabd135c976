"""Faults: `kill -9` the enrollment service after the payment succeeded and before it
consumed payment_succeeded; after a restart the saga converges with exactly one credential."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from services.devstack.demo import demo_program
from services.devstack.embedded import EmbeddedPostgres, PostgresServer, run_coroutine_sync
from services.devstack.stack import Stack
from tests.polling import eventually


def token(http: httpx.Client, **claims: str) -> dict[str, str]:
    response = http.post("/api/v1/dev/tokens", json=claims)
    response.raise_for_status()
    return {"authorization": f"Bearer {response.json()['token']}"}


def count(dsn: str, sql: str, *args: Any) -> int:
    async def query() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return int(await conn.fetchval(sql, *args))
        finally:
            await conn.close()

    return run_coroutine_sync(query)


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as client:
        yield client


def test_kill_9_enrollment_between_payment_and_consumption(
    stack: Stack, http: httpx.Client
) -> None:
    run = uuid.uuid4().hex[:8]
    admin = token(http, role="admin", sub=f"admin-{run}")
    provider_id = http.post(
        "/api/v1/providers", json={"name": f"Crash Co {run}"}, headers=admin
    ).json()["id"]
    provider = token(http, role="provider", sub=f"prov-{run}", provider_id=provider_id)
    program = http.post("/api/v1/programs", json=demo_program(), headers=provider).json()
    assert (
        http.post(f"/api/v1/programs/{program['id']}/publish", headers=provider).status_code == 200
    )
    learner = token(http, role="learner", sub=f"learner-{run}", email=f"l-{run}@example.com")
    created = http.post("/api/v1/enrollments", json={"program_id": program["id"]}, headers=learner)
    assert created.status_code == 201, created.text
    enrollment = created.json()
    assert enrollment["status"] == "PENDING_PAYMENT"

    stack.kill_service("enrollment")  # SIGKILL: no drain, no goodbye
    paid = http.post(
        enrollment["checkout_url"].replace(stack.gateway_url, ""),
        data={"card_number": "4242424242424242"},
        follow_redirects=False,
    )
    assert paid.status_code in (200, 303), paid.text
    payments_db = stack.env_for("payments")["DATABASE_URL"]
    eventually(
        lambda: count(
            payments_db,
            "SELECT count(*) FROM payments WHERE enrollment_id = $1 AND status = 'SUCCEEDED'",
            enrollment["id"],
        ),
        what="the payment to succeed while enrollment is down",
    )

    stack.restart_service("enrollment")

    def status() -> str:
        response = http.get(f"/api/v1/enrollments/{enrollment['id']}", headers=learner)
        return str(response.json().get("status")) if response.status_code == 200 else ""

    eventually(lambda: status() == "ACTIVE", what="the enrollment to turn ACTIVE after the restart")
    done = http.post(f"/api/v1/enrollments/{enrollment['id']}/complete", json={}, headers=provider)
    assert done.status_code == 200, done.text

    def credential_id() -> str:
        body = http.get(f"/api/v1/enrollments/{enrollment['id']}", headers=learner).json()
        return str(body.get("credential_id") or "")

    issued = eventually(credential_id, what="the credential")
    credentials_db = stack.env_for("credentials")["DATABASE_URL"]
    assert (
        count(
            credentials_db,
            "SELECT count(*) FROM credentials WHERE enrollment_id = $1",
            enrollment["id"],
        )
        == 1
    )
    enrollment_db = stack.env_for("enrollment")["DATABASE_URL"]
    assert (
        count(
            enrollment_db,
            "SELECT count(*) FROM enrollments WHERE payment_id IS NOT NULL AND id = $1",
            enrollment["id"],
        )
        == 1
    )
    assert http.get(f"/api/v1/credentials/{issued}").json()["status"] == "ISSUED"


def test_kill_9_nats_while_a_payment_is_in_flight(stack: Stack, http: httpx.Client) -> None:
    """The broker dies with the payment's events unpublished; outbox rows wait in
    PostgreSQL, and once NATS is back (same store) the saga finishes by itself."""
    if stack.nats is None:
        pytest.skip("NATS is external (NATS_URL): this test kills the embedded one")
    run = uuid.uuid4().hex[:8]
    admin = token(http, role="admin", sub=f"admin-{run}")
    provider_id = http.post(
        "/api/v1/providers", json={"name": f"Broker Co {run}"}, headers=admin
    ).json()["id"]
    provider = token(http, role="provider", sub=f"prov-{run}", provider_id=provider_id)
    body = demo_program()
    body["credential"]["issuance"] = "ON_PAYMENT"
    program = http.post("/api/v1/programs", json=body, headers=provider).json()
    http.post(f"/api/v1/programs/{program['id']}/publish", headers=provider).raise_for_status()
    learner = token(http, role="learner", sub=f"learner-{run}")
    enrollment = http.post(
        "/api/v1/enrollments", json={"program_id": program["id"]}, headers=learner
    ).json()

    stack.nats.kill()
    paid = http.post(
        enrollment["checkout_url"].replace(stack.gateway_url, ""),
        data={"card_number": "4242424242424242"},
        follow_redirects=False,
    )
    assert paid.status_code == 303, paid.text
    payments_db = stack.env_for("payments")["DATABASE_URL"]
    eventually(
        lambda: count(
            payments_db,
            "SELECT count(*) FROM outbox WHERE published_at IS NULL AND subject = $1",
            "upskill.payments.payment_succeeded",
        ),
        what="the payment to succeed with the broker down",
    )

    stack.nats.start()

    def credential_id() -> str:
        body = http.get(f"/api/v1/enrollments/{enrollment['id']}", headers=learner).json()
        return str(body.get("credential_id") or "")

    eventually(credential_id, what="the saga to converge after NATS came back", within=60)
    credentials_db = stack.env_for("credentials")["DATABASE_URL"]
    assert (
        count(
            credentials_db,
            "SELECT count(*) FROM credentials WHERE enrollment_id = $1",
            enrollment["id"],
        )
        == 1
    )
    assert count(payments_db, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


def test_kill_9_postgres_then_the_saga_still_completes(
    stack: Stack, http: httpx.Client, embedded_pg: PostgresServer
) -> None:
    """PostgreSQL dies under every service (pools, LISTEN connections, relays, consumers);
    after it restarts, pending work resumes and a purchase completes exactly once."""
    if not isinstance(embedded_pg, EmbeddedPostgres):
        pytest.skip("PostgreSQL is external (DATABASE_URL): this test kills the embedded one")
    run = uuid.uuid4().hex[:8]
    admin = token(http, role="admin", sub=f"admin-{run}")
    provider_id = http.post(
        "/api/v1/providers", json={"name": f"Database Co {run}"}, headers=admin
    ).json()["id"]
    provider = token(http, role="provider", sub=f"prov-{run}", provider_id=provider_id)
    program = http.post("/api/v1/programs", json=demo_program(), headers=provider).json()
    http.post(f"/api/v1/programs/{program['id']}/publish", headers=provider).raise_for_status()
    learner = token(http, role="learner", sub=f"learner-{run}")
    enrollment = http.post(
        "/api/v1/enrollments", json={"program_id": program["id"]}, headers=learner
    ).json()

    embedded_pg.kill()
    down = http.get(f"/api/v1/enrollments/{enrollment['id']}", headers=learner)
    assert down.status_code >= 500  # an error answer, not a hang or a crash
    embedded_pg.start()

    def paid() -> bool:
        response = http.post(
            enrollment["checkout_url"].replace(stack.gateway_url, ""),
            data={"card_number": "4242424242424242"},
            follow_redirects=False,
        )
        last["response"] = f"{response.status_code} {response.text[:300]}"
        return response.status_code == 303

    last: dict[str, str] = {}
    eventually(paid, what="payments to take the card once its database is back")

    def status() -> str:
        response = http.get(f"/api/v1/enrollments/{enrollment['id']}", headers=learner)
        return str(response.json().get("status")) if response.status_code == 200 else ""

    eventually(lambda: status() == "ACTIVE", what="ACTIVE after the database restart", within=60)
    http.post(f"/api/v1/enrollments/{enrollment['id']}/complete", json={}, headers=provider)
    eventually(
        lambda: (
            http.get(f"/api/v1/enrollments/{enrollment['id']}", headers=learner)
            .json()
            .get("credential_id")
        ),
        what="the credential",
        within=60,
    )
    assert (
        count(
            stack.env_for("credentials")["DATABASE_URL"],
            "SELECT count(*) FROM credentials WHERE enrollment_id = $1",
            enrollment["id"],
        )
        == 1
    )
    assert set(stack.running_services()) == {
        "catalog",
        "enrollment",
        "payments",
        "credentials",
        "gateway",
    }
