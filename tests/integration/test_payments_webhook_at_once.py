"""A checkout's success webhook in two round trips and no explicit transaction (issue 12):
the unlocked read, then the claim, the save, its event and its charge as one statement
(unit_of_work.commit_claimed_charge) that writes all of it or nothing. Whenever it writes
nothing (the payment changed after the read, events wait for its success, the event was
claimed), the handler decides again in the locked transaction, as before."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from asyncpg.connection import LoggedQuery

from services.payments import repository, unit_of_work
from services.payments.checkout import CheckoutOpener
from services.payments.domain import CheckoutOrder, Money, PaidCheckout, PaymentStatus
from services.payments.local_gateway import LocalGateway
from services.payments.stripe_events import signature_header
from services.payments.webhooks import WebhookHandler
from tests.databases import migrated_pool

pytestmark = pytest.mark.asyncio(loop_scope="session")

BASE = "http://127.0.0.1:8080"
SECRET = "whsec_at_once"
CARD = "4242424242424242"


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(fresh_database, "services.payments", max_size=10) as pool:
        yield pool


async def paid_session(pool: asyncpg.Pool) -> tuple[str, str]:
    """A local checkout paid by card: its session id and the webhook it queued."""
    local = LocalGateway(pool, BASE)
    opener = CheckoutOpener(pool, local, ttl_seconds=1800, public_base_url=BASE)
    payment = await opener.open(
        CheckoutOrder(
            enrollment_id=str(uuid.uuid4()),
            learner_id="alice",
            learner_email="alice@example.com",
            provider_id=str(uuid.uuid4()),
            amount=Money(4900, "USD"),
            description="Course",
            success_url=f"{BASE}/ok",
            cancel_url=f"{BASE}/cancel",
        )
    )
    await local.pay(payment.checkout_session_id, CARD)
    async with pool.acquire() as conn:
        payload = await conn.fetchval("SELECT payload FROM local_webhook_deliveries")
    return payment.checkout_session_id, payload


async def written(conn: asyncpg.Connection, session_id: str) -> dict[str, Any]:
    payment = await repository.find_by_session(conn, session_id)
    assert payment is not None
    return {
        "status": payment.status,
        "succeeded_events": await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE type = 'upskill.payments.v1.PaymentSucceeded'"
        ),
        "charges": await conn.fetchval("SELECT count(*) FROM payout_ledger"),
        "claims": [
            dict(r)
            for r in await conn.fetch(
                """SELECT event_id, outcome, payment_id::text, payload IS NOT NULL AS kept
                     FROM webhook_events ORDER BY event_id"""
            )
        ],
    }


async def test_a_success_is_two_statements_and_writes_what_the_transaction_wrote(
    pool: asyncpg.Pool,
) -> None:
    session_id, payload = await paid_session(pool)
    ran: list[str] = []

    def log(query: LoggedQuery) -> None:
        ran.append(query.query)

    async with pool.acquire() as conn:
        conn.add_query_logger(log)
        result = await WebhookHandler(_One(conn), SECRET, fee_bps=1000).handle(
            payload.encode(), signature_header(payload, SECRET)
        )
        await asyncio.sleep(0)  # asyncpg calls its query loggers with call_soon
        conn.remove_query_logger(log)
        state = await written(conn, session_id)

    assert result.outcome == "payment SUCCEEDED"
    assert not result.duplicate
    assert [q.split()[0] for q in ran] == ["SELECT", "WITH"]  # no BEGIN, no COMMIT
    event_id = json.loads(payload)["id"]
    payment_id = json.loads(payload)["data"]["object"]["metadata"]["payment_id"]
    assert state == {
        "status": PaymentStatus.SUCCEEDED,
        "succeeded_events": 1,
        "charges": 1,
        "claims": [
            {
                "event_id": event_id,
                "outcome": "payment SUCCEEDED",
                "payment_id": payment_id,
                "kept": True,
            }
        ],
    }
    # A redelivery is one read, and writes nothing.
    ran.clear()
    async with pool.acquire() as conn:
        conn.add_query_logger(log)
        again = await WebhookHandler(_One(conn), SECRET, fee_bps=1000).handle(
            payload.encode(), signature_header(payload, SECRET)
        )
        await asyncio.sleep(0)  # asyncpg calls its query loggers with call_soon
        conn.remove_query_logger(log)
        assert await written(conn, session_id) == state
    assert again.duplicate
    assert len(ran) == 1


class _One:
    """A pool of one connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    def acquire(self) -> Any:
        conn = self.conn

        class _Held:
            async def __aenter__(self) -> asyncpg.Connection:
                return conn

            async def __aexit__(self, *exc: object) -> None:
                return None

        return _Held()


def _succeeded(payment: Any, session_id: str) -> Any:
    return payment.succeed(
        PaidCheckout(
            session_id=session_id,
            client_reference_id=payment.enrollment_id,
            metadata_enrollment_id=payment.enrollment_id,
            amount_minor=4900,
            currency="USD",
            payment_intent="pi_1",
        ),
        fee_bps=1000,
    )


async def test_a_payment_changed_after_the_read_is_not_written(pool: asyncpg.Pool) -> None:
    session_id, _ = await paid_session(pool)
    async with pool.acquire() as conn:
        read = await repository.find_by_session(conn, session_id)
        assert read is not None
        before = await written(conn, session_id)
        # Closed by another writer between the read and the statement.
        await conn.execute("UPDATE payments SET status = 'EXPIRED' WHERE id = $1", read.id)
        entry = _succeeded(read, session_id)
        claim = repository.WebhookClaim("evt_late", "checkout.session.completed", {}, "x")
        assert not await unit_of_work.commit_claimed_charge(
            conn, read, entry, claim, session_id, "local"
        )
        after = await written(conn, session_id)
    assert after == {**before, "status": PaymentStatus.EXPIRED}
    assert after["claims"] == []  # the event stays unclaimed: the locked path decides it


async def test_an_event_deferred_while_the_statement_waits_for_the_lock_is_seen(
    pool: asyncpg.Pool,
) -> None:
    """A refund delivered before the success, by a transaction that holds the payment's
    lock when the statement starts: committed while the statement waits, it is after the
    statement's snapshot, and still seen (payment_has_deferred's fresh one): nothing is
    written, so the locked path applies it after the success."""
    session_id, _ = await paid_session(pool)
    async with pool.acquire() as holder, pool.acquire() as conn:
        read = await repository.find_by_session(conn, session_id)
        assert read is not None
        transaction = holder.transaction()
        await transaction.start()
        await holder.execute("SELECT 1 FROM payments WHERE id = $1 FOR UPDATE", read.id)
        await holder.execute(
            """INSERT INTO webhook_events (event_id, event_type, outcome, payload, payment_id)
               VALUES ('evt_refund', 'refund.created', 'deferred: a refund', '{}', $1)""",
            read.id,
        )
        entry = _succeeded(read, session_id)
        claim = repository.WebhookClaim("evt_paid", "checkout.session.completed", {}, "x")
        attempt = asyncio.create_task(
            unit_of_work.commit_claimed_charge(conn, read, entry, claim, session_id, "local")
        )
        blocked = """SELECT count(*) FROM pg_stat_activity
                      WHERE pid = $1 AND wait_event_type = 'Lock'"""
        pid = conn.get_server_pid()
        while not await holder.fetchval(blocked, pid):
            if attempt.done():
                break
            await asyncio.sleep(0)  # a yield to the loop, not a timed wait
        await transaction.commit()
        assert not await attempt
        state = await written(conn, session_id)
    assert state["status"] is PaymentStatus.PENDING
    assert state["charges"] == 0
    assert [c["event_id"] for c in state["claims"]] == ["evt_refund"]
