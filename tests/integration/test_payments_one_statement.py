"""Payments' purchase path in fewer round trips, against PostgreSQL: the local checkout's pay
and its webhook's delivery row are one statement (no transaction around it), and a paid
checkout's webhook saves the payment, stages its event, books the charge and records the
outcome in one statement.

Each merge is run against the path it replaced on the same aggregate (the old one rolled
back): the same rows, fewer statements. A cancel racing a pay has exactly one winner."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from asyncpg.connection import LoggedQuery

from services.common.errors import FailedPreconditionError
from services.payments import local_gateway, repository, unit_of_work
from services.payments.checkout import CheckoutOpener
from services.payments.domain import CheckoutOrder, Money, PaidCheckout, PaymentStatus
from services.payments.gateways import SESSION_COMPLETE, SESSION_EXPIRED
from services.payments.local_gateway import LocalGateway
from services.payments.stripe_events import (
    CHECKOUT_COMPLETED,
    build_event,
    checkout_session_object,
    event_around,
    signature_header,
)
from services.payments.webhooks import WebhookHandler
from tests.databases import migrated_pool

pytestmark = pytest.mark.asyncio(loop_scope="session")

BASE = "http://127.0.0.1:8080"
SECRET = "whsec_one_statement"
CARD = "4242424242424242"


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(fresh_database, "services.payments", max_size=20) as pool:
        yield pool


def order(email: str = "alice@example.com") -> CheckoutOrder:
    return CheckoutOrder(
        enrollment_id=str(uuid.uuid4()),
        learner_id="alice",
        learner_email=email,
        provider_id=str(uuid.uuid4()),
        amount=Money(4900, "USD"),
        description="Course",
        success_url=f"{BASE}/ok",
        cancel_url=f"{BASE}/cancel",
    )


class OneConnection:
    """A pool of one connection whose statements are recorded (BEGIN and COMMIT too)."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        self.statements: list[str] = []

    def _log(self, query: LoggedQuery) -> None:
        self.statements.append(query.query)

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        yield self.conn

    @asynccontextmanager
    async def recording(self) -> AsyncIterator[list[str]]:
        self.statements = []
        self.conn.add_query_logger(self._log)
        try:
            yield self.statements
        finally:
            self.conn.remove_query_logger(self._log)


# What the session and its delivery row hold, the per-attempt values aside (the event's id
# and creation time, the row's id and timestamps, the session's closing time).
SESSION_SQL = """SELECT id, payment_id, enrollment_id, description, amount_minor, currency,
        customer_email, success_url, cancel_url, status, payment_status, payment_intent,
        failed_attempts, last_decline, expires_at, created_at, destination_account,
        application_fee_minor, closed_at IS NOT NULL AS closed
   FROM local_checkout_sessions WHERE id = $1"""
DELIVERY_SQL = """SELECT event_type, payload, attempts, last_status, last_error, delivered_at,
        traceparent, tracestate
   FROM local_webhook_deliveries ORDER BY id"""


def comparable(delivery: asyncpg.Record) -> dict[str, Any]:
    row = dict(delivery)
    event = json.loads(row.pop("payload"))
    event.pop("id")
    event.pop("created")
    return {**row, "event": event}


async def opened_session(pool: asyncpg.Pool, email: str = "alice@example.com") -> str:
    local = LocalGateway(pool, BASE)
    opener = CheckoutOpener(pool, local, ttl_seconds=1800, public_base_url=BASE)
    return (await opener.open(order(email))).checkout_session_id


@pytest.mark.parametrize("email", ["alice@example.com", ""])
async def test_paying_is_one_statement_writing_what_the_transaction_wrote(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch, email: str
) -> None:
    session_id = await opened_session(pool, email)
    monkeypatch.setattr(local_gateway, "stripe_id", lambda prefix, length=24: prefix + "same")
    async with pool.acquire() as conn:
        one = OneConnection(conn)
        local = LocalGateway(one, BASE)

        # The old path: in a transaction, the charge, then its delivery row (rolled back).
        async with one.recording() as old_statements:
            transaction = conn.transaction()
            await transaction.start()
            row = await conn.fetchrow(local_gateway._COMPLETE_SQL, session_id, "pi_same")
            await local._queue_webhook(conn, CHECKOUT_COMPLETED, local_gateway._session(row))
            old_session = dict(await conn.fetchrow(SESSION_SQL, session_id))
            old_deliveries = [comparable(r) for r in await conn.fetch(DELIVERY_SQL)]
            await transaction.rollback()
        assert (await conn.fetchrow(SESSION_SQL, session_id))["status"] == "open"

        async with one.recording() as new_statements:
            result = await local.pay(session_id, CARD)
        new_session = dict(await conn.fetchrow(SESSION_SQL, session_id))
        new_deliveries = [comparable(r) for r in await conn.fetch(DELIVERY_SQL)]

    # Four round trips (ROLLBACK here in place of the COMMIT), the test's reads aside.
    assert [s.split()[0] for s in old_statements if not s.startswith("SELECT")] == [
        "BEGIN;",
        "UPDATE",
        "INSERT",
        "ROLLBACK;",
    ]
    assert len(new_statements) == 1
    assert new_statements[0].startswith("WITH paid AS (")
    assert new_session == old_session
    assert new_session["status"] == "complete"
    assert new_deliveries == old_deliveries
    assert len(new_deliveries) == 1
    # The object the database wrote is the one the Python model describes.
    assert new_deliveries[0]["event"]["data"]["object"] == checkout_session_object(result.session)
    assert (result.session.payment_intent, result.session.status) == ("pi_same", "complete")


async def test_the_payload_is_build_events_envelope_around_the_session(
    pool: asyncpg.Pool,
) -> None:
    session_id = await opened_session(pool)
    local = LocalGateway(pool, BASE)
    result = await local.pay(session_id, CARD)
    async with pool.acquire() as conn:
        [row] = await conn.fetch(
            "SELECT event_id, event_type, payload FROM local_webhook_deliveries"
        )
    event = json.loads(row["payload"])
    like = json.loads(
        build_event(CHECKOUT_COMPLETED, checkout_session_object(result.session)).payload
    )
    assert event["id"] == row["event_id"]
    assert row["event_type"] == event["type"] == CHECKOUT_COMPLETED
    assert {**event, "id": "", "created": 0} == {**like, "id": "", "created": 0}
    # Verifiable and applicable as any webhook.
    outcome = await WebhookHandler(pool, SECRET, fee_bps=1000).handle(
        row["payload"].encode(), signature_header(row["payload"], SECRET)
    )
    assert outcome.outcome == "payment SUCCEEDED"


def test_an_event_around_splits_the_envelope_at_its_data_object() -> None:
    around = event_around(CHECKOUT_COMPLETED, created=7)
    payload = around.before + '{"id":"cs_1"}' + around.after
    assert json.loads(payload)["data"] == {"object": {"id": "cs_1"}}
    assert json.loads(payload)["id"] == around.id
    assert json.loads(payload)["created"] == 7


async def test_a_cancel_racing_a_pay_has_exactly_one_winner(pool: asyncpg.Pool) -> None:
    local = LocalGateway(pool, BASE)
    sessions = [await opened_session(pool) for _ in range(12)]

    for session_id in sessions:
        paid, cancelled = await asyncio.gather(
            local.pay(session_id, CARD), local.expire_session(session_id), return_exceptions=True
        )
        final = await local.get(session_id)
        if isinstance(paid, BaseException):
            assert isinstance(paid, FailedPreconditionError)
            assert str(paid) == f"checkout session {session_id} is expired and cannot be paid"
            assert cancelled == SESSION_EXPIRED
            assert (final.status, final.payment_status) == ("expired", "unpaid")
        else:
            assert cancelled == SESSION_COMPLETE
            assert (final.status, final.payment_status) == ("complete", "paid")

    async with pool.acquire() as conn:
        queued = await conn.fetch(
            """SELECT s.status, d.event_type FROM local_checkout_sessions s
                 JOIN local_webhook_deliveries d ON d.payload::jsonb #>> '{data,object,id}' = s.id"""
        )
        sessions_with_events = await conn.fetchval(
            """SELECT count(DISTINCT payload::jsonb #>> '{data,object,id}')
                 FROM local_webhook_deliveries"""
        )
    # One event per session, the one of the state it ended in.
    assert len(queued) == sessions_with_events == len(sessions)
    assert {(r["status"], r["event_type"]) for r in queued} <= {
        ("complete", "checkout.session.completed"),
        ("expired", "checkout.session.expired"),
    }


# --- the webhook: the payment's save and its charge ------------------------------------------


async def test_a_paid_checkouts_save_and_charge_are_one_statement(pool: asyncpg.Pool) -> None:
    session_id = await opened_session(pool)
    async with pool.acquire() as conn:
        payment = await repository.find_by_session(conn, session_id)
        assert payment is not None
        # Two events about the payment deferred until it succeeds, and the one that does.
        for n, event_id in enumerate(["evt_late_1", "evt_late_2", "evt_paid"]):
            await conn.execute(
                """INSERT INTO webhook_events (event_id, event_type, outcome, payload, payment_id,
                       received_at)
                   VALUES ($1, 'refund.created', $2, $3::jsonb, $4, now() + make_interval(secs => $5))""",
                event_id,
                "received" if event_id == "evt_paid" else "deferred: a refund",
                json.dumps({"id": event_id, "n": n}),
                payment.id,
                n,
            )
        await conn.execute("DELETE FROM outbox")
        entry = payment.succeed(
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
        outcome = repository.WebhookOutcome("evt_paid", "payment SUCCEEDED")

        async def old(p: Any) -> list[dict[str, Any]]:
            # The path before commit_charge: the save, then the booking that was
            # repository.book_charge (its statement, as it was).
            await unit_of_work.commit(conn, p)
            rows = await conn.fetch(
                """WITH booked AS (
                       INSERT INTO payout_ledger (payment_id, provider_id, kind, currency,
                           gross_amount_minor, platform_fee_minor, provider_net_minor, fee_bps)
                       VALUES ($1, $2, 'charge', $3, $4, $5, $6, $7)),
                   recorded AS (UPDATE webhook_events SET outcome = $9, payment_id = $1
                                 WHERE event_id = $8)
                   SELECT payload FROM webhook_events
                    WHERE payment_id = $1 AND outcome LIKE 'deferred%' AND payload IS NOT NULL
                    ORDER BY received_at, event_id""",
                entry.payment_id,
                entry.provider_id,
                entry.currency,
                entry.gross_minor,
                entry.fee_minor,
                entry.net_minor,
                entry.fee_bps,
                outcome.event_id,
                outcome.outcome,
            )
            return repository.deferred_payloads(rows)

        async def new(p: Any) -> list[dict[str, Any]]:
            return await unit_of_work.commit_charge(conn, p, entry, outcome)

        results = []
        for run, keep in ((old, False), (new, True)):
            ran: list[str] = []

            def log(query: LoggedQuery, ran: list[str] = ran) -> None:
                ran.append(query.query)

            transaction = conn.transaction()
            await transaction.start()
            conn.add_query_logger(log)
            try:
                answer = await run(copy.deepcopy(payment) if not keep else payment)
            finally:
                conn.remove_query_logger(log)
            state: dict[str, Any] = {
                "payment": dict(
                    await conn.fetchrow("SELECT * FROM payments WHERE id = $1", payment.id)
                ),
                "outbox": [
                    dict(r)
                    for r in await conn.fetch(
                        """SELECT subject, type, source, ce_subject, payload, traceparent, tracestate
                             FROM outbox ORDER BY seq"""
                    )
                ],
                "ledger": [
                    dict(r)
                    for r in await conn.fetch(
                        """SELECT payment_id, provider_id, kind, currency, gross_amount_minor,
                                  platform_fee_minor, provider_net_minor, fee_bps
                             FROM payout_ledger"""
                    )
                ],
                "inbox": [
                    dict(r)
                    for r in await conn.fetch(
                        "SELECT event_id, outcome, payment_id FROM webhook_events ORDER BY event_id"
                    )
                ],
            }
            await (transaction.commit() if keep else transaction.rollback())
            results.append((answer, ran, state))

    (old_answer, old_ran, old_state), (new_answer, new_ran, new_state) = results
    assert len(old_ran) == 2
    assert len(new_ran) == 1
    assert new_ran[0].startswith("WITH saved AS (")
    assert new_answer == old_answer == [{"id": "evt_late_1", "n": 0}, {"id": "evt_late_2", "n": 1}]
    assert new_state == old_state
    assert new_state["payment"]["status"] == "SUCCEEDED"
    assert [r["type"] for r in new_state["outbox"]] == ["upskill.payments.v1.PaymentSucceeded"]
    assert [
        (r["kind"], r["gross_amount_minor"], r["platform_fee_minor"]) for r in new_state["ledger"]
    ] == [("charge", 4900, 490)]
    assert ("evt_paid", "payment SUCCEEDED") in {
        (r["event_id"], r["outcome"]) for r in new_state["inbox"]
    }


async def test_a_charge_whose_payment_is_not_saved_books_nothing(pool: asyncpg.Pool) -> None:
    session_id = await opened_session(pool)
    async with pool.acquire() as conn:
        payment = await repository.find_by_session(conn, session_id)
        assert payment is not None
        real_id = payment.id
        await conn.execute(
            """INSERT INTO webhook_events (event_id, event_type, outcome, payload)
               VALUES ('evt_paid', 'checkout.session.completed', 'received', '{}')"""
        )
        staged_before = await conn.fetchval("SELECT count(*) FROM outbox")
        entry = payment.succeed(
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
        payment.id = str(uuid.uuid4())  # no such row: the save writes nothing
        outcome = repository.WebhookOutcome("evt_paid", "payment SUCCEEDED")
        transaction = conn.transaction()
        await transaction.start()
        with pytest.raises(RuntimeError, match="not saved"):
            await unit_of_work.commit_charge(conn, payment, entry, outcome)
        # What the statement wrote, seen before the transaction ends: nothing.
        assert await conn.fetchval("SELECT count(*) FROM payout_ledger") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == staged_before
        outcome_now = "SELECT outcome FROM webhook_events WHERE event_id = 'evt_paid'"
        assert await conn.fetchval(outcome_now) == "received"
        await transaction.rollback()
        assert (await repository.get(conn, real_id)).status is PaymentStatus.PENDING


async def test_racing_deliveries_of_a_completion_book_one_charge(pool: asyncpg.Pool) -> None:
    session_id = await opened_session(pool)
    local = LocalGateway(pool, BASE)
    await local.pay(session_id, CARD)
    async with pool.acquire() as conn:
        payload = await conn.fetchval("SELECT payload FROM local_webhook_deliveries")
    handler = WebhookHandler(pool, SECRET, fee_bps=1000)
    twin = build_event(CHECKOUT_COMPLETED, json.loads(payload)["data"]["object"]).payload

    results = await asyncio.gather(
        *(
            handler.handle(p.encode(), signature_header(p, SECRET))
            for p in [payload] * 6 + [twin] * 6
        )
    )

    assert sorted(r.outcome for r in results) == sorted(
        ["payment SUCCEEDED", "ignored: payment already SUCCEEDED"] + ["duplicate"] * 10
    )
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM payout_ledger") == 1
        succeeded = (
            "SELECT count(*) FROM outbox WHERE type = 'upskill.payments.v1.PaymentSucceeded'"
        )
        assert await conn.fetchval(succeeded) == 1
        outcomes = "SELECT count(*) FROM webhook_events WHERE outcome = 'payment SUCCEEDED'"
        assert await conn.fetchval(outcomes) == 1
