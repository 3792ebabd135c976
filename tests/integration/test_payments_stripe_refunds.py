"""Refunds and disputes in Stripe mode: the payments service (a real process) against the
fake Stripe, driven by the real stripe-python client, no monkeypatching.

A refund asked through RefundPayment goes to Stripe's Refunds API with its idempotency
key; a refund made in Stripe's dashboard (the API called without our metadata) is booked
from the webhooks alone; a lost dispute is booked like a full refund. Every event Stripe
sends is delivered, in order, and the books come out right.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import stripe
from upskill.payments.v1 import payments_pb2
from upskill.payments.v1 import payments_service_pb2 as pb

from services.cli.main import main as cli_main
from services.common import db
from services.devstack.embedded import PostgresServer
from tests.fakes.stripe_server import FakeStripe
from tests.integration.test_payments_service import (
    ADMIN,
    Payments,
    ledger_of,
    refunds_of,
    stripe_mode_payments,
)
from tests.polling import eventually_async as eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def deliver_all(service: Payments, fake: FakeStripe, seen: set[str]) -> None:
    """Deliver every event the fake sent that was not delivered yet, in order."""
    for event in fake.events:
        if event.id not in seen:
            seen.add(event.id)
            await service.webhook(event.payload, event.signature)


async def ask(
    service: Payments, payment: payments_pb2.Payment, amount: int = 0, key: str = ""
) -> payments_pb2.Refund:
    reply = await service.stub.RefundPayment(
        pb.RefundPaymentRequest(
            payment_id=payment.id,
            enrollment_id=payment.enrollment_id,
            reason="requested_by_admin",
            amount_minor=amount,
            idempotency_key=key,
        ),
        metadata=ADMIN,
        timeout=10,
    )
    return reply.refund


async def test_api_dashboard_and_dispute_refunds_in_stripe_mode(
    fresh_database: str, nats_url: str, tmp_path: Path
) -> None:
    async with stripe_mode_payments(fresh_database, nats_url, tmp_path) as (service, fake):
        seen: set[str] = set()
        paid = await service.checkout(str(uuid.uuid4()))
        fake.complete_session(paid.checkout_session_id)
        await deliver_all(service, fake, seen)
        paid = await service.payment(paid.id)
        intent = paid.gateway_payment_id

        # Through our API: a partial refund, asked twice with one key, made once.
        first = await ask(service, paid, 1000, "part-1")
        again = await ask(service, paid, 1000, "part-1")
        assert again.id == first.id
        assert first.full_refund is False

        async def made() -> bool:
            await deliver_all(service, fake, seen)
            done = [
                r
                for r in await refunds_of(service, paid.enrollment_id)
                if r.status == payments_pb2.REFUND_STATUS_SUCCEEDED
            ]
            return len(done) == 1

        await eventually(made)
        [ours] = [r for r in fake.refunds.values() if r["metadata"].get("refund_id") == first.id]
        assert (ours["amount"], ours["payment_intent"]) == (1000, intent)
        keys = {r.headers["idempotency-key"] for r in fake.requests if r.path == "/v1/refunds"}
        assert keys == {f"refund-{first.id}"}

        # In the dashboard: Stripe's API called without our metadata; only webhooks say so.
        dashboard = stripe.StripeClient(fake.api_key, base_addresses={"api": fake.api_base})
        outside = dashboard.v1.refunds.create({"payment_intent": intent, "amount": 900})
        await deliver_all(service, fake, seen)
        await deliver_all(service, fake, seen)  # nothing new: no second booking
        listed = await refunds_of(service, paid.enrollment_id)
        booked = sorted((r.reason, r.amount.amount_minor, r.gateway_refund_id) for r in listed)
        assert booked == [
            ("gateway_refund", 900, outside.id),
            ("requested_by_admin", 1000, ours["id"]),
        ]
        assert (await service.payment(paid.id)).status == payments_pb2.PAYMENT_STATUS_SUCCEEDED

        # A lost dispute takes the rest back, like a full refund.
        opened = fake.dispute(intent, "needs_response")
        await deliver_all(service, fake, seen)
        disputes = await service.stub.ListDisputes(
            pb.ListDisputesRequest(), metadata=ADMIN, timeout=5
        )
        assert [(d.gateway_dispute_id, d.status) for d in disputes.disputes] == [
            (opened.data_object["id"], "needs_response")
        ]
        fake.dispute(intent, "lost", dispute_id=opened.data_object["id"])
        await deliver_all(service, fake, seen)
        assert (await service.payment(paid.id)).status == payments_pb2.PAYMENT_STATUS_REFUNDED
        listed = await refunds_of(service, paid.enrollment_id)
        lost = [r for r in listed if r.reason == "dispute_lost"]
        assert [(r.amount.amount_minor, r.full_refund) for r in lost] == [(4900 - 1900, True)]

        # The ledger reverses the charge exactly: gross, fee and net all come to zero.
        lines = await ledger_of(service, paid.id)
        assert [kind for kind, *_ in lines] == ["charge", "refund", "refund", "dispute"]
        assert [sum(col) for col in zip(*(line[1:] for line in lines), strict=True)] == [
            0,
            0,
            0,
        ]


@pytest.fixture
async def other_databases(embedded_pg: PostgresServer) -> AsyncIterator[tuple[str, str]]:
    """Empty, migrated enrollment and credentials databases (for reconcile)."""
    names = [f"t_{uuid.uuid4().hex[:16]}" for _ in range(2)]
    dsns = [embedded_pg.create_database(name) for name in names]
    for dsn, package in zip(dsns, ("services.enrollment", "services.credentials"), strict=True):
        conn = await asyncpg.connect(dsn)
        try:
            await db.migrate(conn, "services.common", package)
        finally:
            await conn.close()
    yield dsns[0], dsns[1]
    for name in names:
        embedded_pg.drop_database(name)


async def test_reconcile_compares_the_books_with_stripes_records(
    fresh_database: str,
    nats_url: str,
    tmp_path: Path,
    other_databases: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with stripe_mode_payments(fresh_database, nats_url, tmp_path) as (service, fake):
        seen: set[str] = set()
        paid = await service.checkout(str(uuid.uuid4()))
        fake.complete_session(paid.checkout_session_id)
        await deliver_all(service, fake, seen)
        intent = (await service.payment(paid.id)).gateway_payment_id
        argv = [
            "reconcile",
            f"--payments-db={fresh_database}",
            f"--enrollment-db={other_databases[0]}",
            f"--credentials-db={other_databases[1]}",
            f"--stripe-api-key={fake.api_key}",
            f"--stripe-api-base={fake.api_base}",
            "--settle-seconds=0",
            "--json",
        ]

        def run() -> tuple[int, list[dict[str, Any]]]:
            status = cli_main(argv)
            out = capsys.readouterr().out
            return status, [json.loads(line) for line in out.splitlines() if line]

        assert await asyncio.to_thread(run) == (0, [])
        # A dashboard refund whose webhooks never arrived: only Stripe knows.
        dashboard = stripe.StripeClient(fake.api_key, base_addresses={"api": fake.api_base})
        dashboard.v1.refunds.create({"payment_intent": intent, "amount": 700})
        status, drifts = await asyncio.to_thread(run)
        assert status == 3
        assert [(d["kind"], d["payment_id"]) for d in drifts] == [
            ("gateway_refund_not_booked", paid.id)
        ]
        assert "Stripe returned 700, payments booked 0" in drifts[0]["detail"]
        # Stripe resends them (from its dashboard): the books agree again.
        await deliver_all(service, fake, seen)
        assert await asyncio.to_thread(run) == (0, [])
