"""Refunds in payments, in-process on real PostgreSQL: the refund worker racing the gateway's
own webhook about the same refund, partial refunds in the ledger, and earnings that add up.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.common.paging import Page
from services.payments import repository, unit_of_work
from services.payments.checkout import CheckoutOpener
from services.payments.domain import CheckoutOrder, Money, Payment, Refund, RefundStatus
from services.payments.local_gateway import LocalGateway
from services.payments.refunds import Refunder, request_refund
from services.payments.stripe_events import (
    CHARGE_REFUNDED,
    CHECKOUT_COMPLETED,
    build_event,
    checkout_session_object,
    signature_header,
    stripe_id,
)
from services.payments.webhooks import WebhookHandler
from tests.databases import migrated_pool
from tests.integration.test_query_plans import PAGE_2, ExplainingPool, assert_served, migrated, uid
from tests.polling import eventually_async

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECRET = "whsec_refunds"
BASE = "http://127.0.0.1:8080"


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(fresh_database, "services.payments", max_size=20) as pool:
        yield pool


def order(provider_id: str, program_id: str, amount: int = 4900) -> CheckoutOrder:
    return CheckoutOrder(
        enrollment_id=str(uuid.uuid4()),
        learner_id="alice",
        learner_email="alice@example.com",
        provider_id=provider_id,
        amount=Money(amount, "USD"),
        description="Course",
        success_url=f"{BASE}/ok",
        cancel_url=f"{BASE}/cancel",
        program_id=program_id,
    )


async def paid(
    pool: asyncpg.Pool, handler: WebhookHandler, local: LocalGateway, o: CheckoutOrder
) -> Payment:
    opener = CheckoutOpener(pool, local, ttl_seconds=1800, public_base_url=BASE)
    payment = await opener.open(o)
    result = await local.pay(payment.checkout_session_id, "4242424242424242")
    event = build_event(CHECKOUT_COMPLETED, checkout_session_object(result.session))
    await handler.handle(event.payload.encode(), signature_header(event.payload, SECRET))
    async with pool.acquire() as conn:
        return await repository.get(conn, payment.id)


async def ask(pool: asyncpg.Pool, payment: Payment, amount: int = 0, key: str = "") -> str:
    async with pool.acquire() as conn, conn.transaction():
        locked = await repository.get(conn, payment.id, for_update=True)
        made = await request_refund(
            conn,
            locked,
            reason="requested_by_admin",
            note="",
            amount_minor=amount,
            idempotency_key=key,
        )
    return made.id


async def count(pool: asyncpg.Pool, sql: str, *args: object) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval(sql, *args))


async def test_a_refund_webhook_waiting_on_the_workers_lock_books_nothing_twice(
    pool: asyncpg.Pool,
) -> None:
    """The gateway's charge.refunded can arrive while the refund worker books the same
    refund: it waits for the payment's lock and must then see the refund booked (a bug
    read the payment from the snapshot taken before the wait, and booked it again)."""
    local = LocalGateway(pool, BASE)
    handler = WebhookHandler(pool, SECRET, fee_bps=1000)
    payment = await paid(pool, handler, local, order(str(uuid.uuid4()), str(uuid.uuid4())))
    refund_id = await ask(pool, payment, amount=100, key="k1")
    async with pool.acquire() as conn:
        refund = await repository.get_refund(conn, refund_id)
    gateway_refund = stripe_id("re_")
    charge = {
        "id": "ch_x",
        "object": "charge",
        "amount": 4900,
        "amount_refunded": 100,
        "currency": "usd",
        "metadata": {"payment_id": payment.id},
        "payment_intent": payment.gateway_payment_id,
        # As in API versions that do not list the refunds: only the running total.
    }
    event = build_event(CHARGE_REFUNDED, charge)

    # The worker's booking transaction holds the payment...
    worker = await pool.acquire()
    tx = worker.transaction()
    await tx.start()
    locked = await repository.get(worker, payment.id, for_update=True)
    held = await repository.get_refund(worker, refund.id, for_update=True)
    locked.refunded(held, gateway_refund)
    await unit_of_work.commit(worker, locked)
    await repository.save_refund(worker, held)
    await repository.add_refund_ledger_line(worker, held)
    # ...while the webhook comes in and waits for it.
    delivery = asyncio.create_task(
        handler.handle(event.payload.encode(), signature_header(event.payload, SECRET))
    )

    async def waiting() -> bool:
        return (
            await count(
                pool,
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
            )
            > 0
        )

    await eventually_async(waiting, what="the webhook to wait for the payment's lock")
    await tx.commit()
    await pool.release(worker)
    result = await delivery

    assert result.duplicate is False
    assert await count(pool, "SELECT count(*) FROM refunds WHERE payment_id = $1", payment.id) == 1
    assert (
        await count(
            pool,
            "SELECT count(*) FROM payout_ledger WHERE payment_id = $1 AND kind = 'refund'",
            payment.id,
        )
        == 1
    )


async def test_partial_refunds_reverse_the_fee_exactly_and_earnings_match_the_lines(
    pool: asyncpg.Pool,
) -> None:
    local = LocalGateway(pool, BASE)
    handler = WebhookHandler(pool, SECRET, fee_bps=1000)
    refunder = Refunder(pool, local)
    provider, program_a, program_b = (str(uuid.uuid4()) for _ in range(3))
    # A scripted mix: prices with odd fees, partial refunds that add up, a full refund.
    first = await paid(pool, handler, local, order(provider, program_a, 4999))
    second = await paid(pool, handler, local, order(provider, program_a, 1234))
    await paid(pool, handler, local, order(provider, "", 1000))
    third = await paid(pool, handler, local, order(provider, program_b, 777))
    await ask(pool, first, 333, "a")
    await ask(pool, first, 1001, "b")
    await ask(pool, first)  # the rest
    await ask(pool, third, 1, "c")
    while await refunder.refund_due():
        pass

    async with pool.acquire() as conn:
        statuses = await conn.fetch("SELECT status FROM refunds")
        assert {r["status"] for r in statuses} == {RefundStatus.SUCCEEDED.value}
        lines = await repository.ledger_lines(conn, provider, None, None, 0, 0, 1000)
        earnings = await repository.provider_earnings(conn, provider, None, None, 0)

    first_lines = [line for line in lines if line.payment_id == first.id]
    # The charge and its three refunds cancel out to the cent: fee included.
    assert sum(line.gross_minor for line in first_lines) == 0
    assert sum(line.fee_minor for line in first_lines) == 0
    assert sum(line.net_minor for line in first_lines) == 0
    for line in lines:
        assert line.fee_minor + line.net_minor == line.gross_minor

    totals = [row for row in earnings if row.all_programs]
    assert len(totals) == 1
    total = totals[0]
    assert total.net_minor == sum(line.net_minor for line in lines)
    assert total.fee_minor == sum(line.fee_minor for line in lines)
    assert total.gross_minor == 4999 + 1234 + 777 + 1000
    assert total.refunds_minor == 4999 + 1
    assert total.gross_minor - total.refunds_minor - total.disputes_minor == (
        total.fee_minor + total.net_minor
    )
    assert total.available_minor == total.net_minor  # no hold in this call
    per_program = {row.program_id: row for row in earnings if not row.all_programs}
    assert set(per_program) == {program_a, program_b, ""}  # "": bought before programs counted
    assert sum(row.net_minor for row in per_program.values()) == total.net_minor
    assert per_program[program_b].charges == 1
    assert second.status.value == "SUCCEEDED"


async def test_a_second_full_refund_request_is_the_first(pool: asyncpg.Pool) -> None:
    local = LocalGateway(pool, BASE)
    handler = WebhookHandler(pool, SECRET, fee_bps=1000)
    payment = await paid(pool, handler, local, order(str(uuid.uuid4()), str(uuid.uuid4())))
    ids = await asyncio.gather(*(ask(pool, payment) for _ in range(6)))
    assert len(set(ids)) == 1
    assert await count(pool, "SELECT count(*) FROM refunds") == 1


async def test_a_running_total_never_books_refunds_of_ours_on_their_way(
    pool: asyncpg.Pool,
) -> None:
    """Two partial refunds of ours are on their way when Stripe's charge.refunded (without
    its refunds list) reports 200 back: which of them that is, the total cannot say, so it
    books nothing; the refund worker then books each exactly once."""
    local = LocalGateway(pool, BASE)
    handler = WebhookHandler(pool, SECRET, fee_bps=1000)
    payment = await paid(pool, handler, local, order(str(uuid.uuid4()), str(uuid.uuid4())))
    await ask(pool, payment, 100, "small")
    await ask(pool, payment, 200, "large")
    charge = {
        "id": "ch_y",
        "object": "charge",
        "amount": 4900,
        "amount_refunded": 200,
        "currency": "usd",
        "metadata": {"payment_id": payment.id},
        "payment_intent": payment.gateway_payment_id,
    }
    event = build_event(CHARGE_REFUNDED, charge)
    result = await handler.handle(event.payload.encode(), signature_header(event.payload, SECRET))
    assert result.outcome == "ignored: refunds of ours on their way book themselves"
    assert await count(pool, "SELECT count(*) FROM refunds WHERE status = 'SUCCEEDED'") == 0

    while await Refunder(pool, local).refund_due():
        pass
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT amount_minor, status, reason FROM refunds ORDER BY amount_minor"
        )
    assert [(r["amount_minor"], r["status"], r["reason"]) for r in rows] == [
        (100, "SUCCEEDED", "requested_by_admin"),
        (200, "SUCCEEDED", "requested_by_admin"),
    ]
    assert (
        await count(
            pool, "SELECT -sum(gross_amount_minor) FROM payout_ledger WHERE kind = 'refund'"
        )
        == 300
    )


async def test_the_money_paths_queries_use_indexes(fresh_database: str) -> None:
    """Per-event lookups of refunds, disputes, Connect and earnings run on indexes (see
    tests/integration/test_query_plans.py for the method)."""
    pool = await migrated(fresh_database, "payments")
    try:
        x = ExplainingPool(pool)
        assert_served(
            await x.explain(
                lambda c: repository.find_by_payment_intent(c, "pi_1", for_update=True)
            ),
            "payments_gateway_payment",
        )
        assert_served(
            await x.explain(lambda c: repository.deferred_webhooks(c, uid())),
            "webhook_events_deferred",
        )
        assert_served(
            await x.explain(lambda c: repository.find_refund_by_gateway_id(c, "re_1")),
            "refunds_gateway_refund",
        )
        assert_served(
            await x.explain(lambda c: repository.find_refund_by_key(c, "full:x")),
            "refunds_idempotency_key_key",
        )
        assert_served(await x.explain(lambda c: repository.refunds_of(c, uid())), "refunds_payment")
        assert_served(
            await x.explain(lambda c: repository.payout_account(c, uid())), "payout_accounts_pkey"
        )
        assert_served(
            await x.explain(
                lambda c: repository.list_disputes(c, Page(repository.DISPUTES, PAGE_2, 20, ""))
            ),
            "disputes_newest",
        )
        refund = Refund(
            id=uid(),
            payment_id=uid(),
            idempotency_key="k",
            amount=Money(100, "USD"),
            reason="r",
            full_refund=False,
            gateway="local",
        )
        assert_served(
            await x.explain(lambda c: repository.add_refund_ledger_line(c, refund)),
            "payout_ledger_one_charge",
        )
        assert_served(
            await x.explain(
                lambda c: c.fetchval(
                    """SELECT coalesce(-sum(gross_amount_minor), 0) FROM payout_ledger
                        WHERE payment_id = $1 AND kind <> 'charge'""",
                    uid(),
                )
            ),
            "payout_ledger_payment|payout_ledger_one_charge",
        )
        assert_served(
            await x.explain(lambda c: repository.provider_earnings(c, uid(), None, None, 0)),
            # On empty tables the planner may drive from either side of the join; what
            # matters is that no side is scanned.
            "payout_ledger_provider|payout_ledger_one_charge|payout_ledger_payment",
        )
        assert_served(
            await x.explain(lambda c: repository.ledger_lines(c, uid(), None, None, 0, 0, 100)),
            "payout_ledger_provider|payout_ledger_pkey|payout_ledger_one_charge",
        )
    finally:
        await pool.close()
