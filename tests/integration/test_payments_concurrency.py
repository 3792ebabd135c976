"""Payments' idempotency under concurrency and failure, in-process on real PostgreSQL:
racing retries, racing webhook deliveries, a gateway that is down, a crash mid-checkout."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from upskill.enrollment.v1 import events_pb2 as enrollment_events

from services.common import db, events
from services.common.errors import FailedPreconditionError, NotFoundError, UnavailableError
from services.common.paging import Page
from services.common.wakeup import LocalWakes, WakeAndDrain
from services.payments import consumers, delivery, repository, unit_of_work
from services.payments.checkout import CheckoutOpener
from services.payments.domain import (
    CheckoutOrder,
    Money,
    PaidCheckout,
    Payment,
    PaymentStatus,
    RefundStatus,
)
from services.payments.gateways import (
    GatewayRefund,
    GatewaySession,
    GatewayUnavailableError,
    RefundRequest,
    SessionRequest,
)
from services.payments.local_gateway import LocalGateway
from services.payments.refunds import Refunder
from services.payments.stripe_events import (
    CHECKOUT_COMPLETED,
    REFUND_CREATED,
    build_event,
    checkout_session_object,
    signature_header,
)
from services.payments.webhooks import WebhookHandler
from tests.polling import eventually_async

pytestmark = pytest.mark.asyncio(loop_scope="session")

SECRET = "whsec_concurrency"
SUCCEEDED = "upskill.payments.v1.PaymentSucceeded"
FAILED = "upskill.payments.v1.PaymentFailed"


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(fresh_database, max_size=20)
    async with pool.acquire() as conn:
        await db.migrate(conn, "services.common", "services.payments")
    yield pool
    await pool.close()


def order(enrollment_id: str = "") -> CheckoutOrder:
    return CheckoutOrder(
        enrollment_id=enrollment_id or str(uuid.uuid4()),
        learner_id="alice",
        learner_email="alice@example.com",
        provider_id=str(uuid.uuid4()),
        amount=Money(4900, "USD"),
        description="Course",
        success_url="http://127.0.0.1:8080/ok",
        cancel_url="http://127.0.0.1:8080/cancel",
    )


class DownGateway:
    """A gateway that cannot be reached, counting how often it was tried."""

    name = "stripe"

    def __init__(self) -> None:
        self.calls = 0

    async def create_session(self, request: SessionRequest) -> GatewaySession:
        self.calls += 1
        raise GatewayUnavailableError("connection refused")

    async def expire_session(self, session_id: str) -> str:
        self.calls += 1
        raise GatewayUnavailableError("connection refused")

    async def refund(self, request: RefundRequest) -> GatewayRefund:
        self.calls += 1
        raise GatewayUnavailableError("connection refused")

    async def create_payout_account(self, provider_id: str) -> str:
        self.calls += 1
        raise GatewayUnavailableError("connection refused")

    async def onboarding_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        self.calls += 1
        raise GatewayUnavailableError("connection refused")


async def count(pool: asyncpg.Pool, sql: str, *args: object) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval(sql, *args))


async def test_racing_retries_open_one_payment_and_one_session(pool: asyncpg.Pool) -> None:
    local = LocalGateway(pool, "http://127.0.0.1:8080")
    opener = CheckoutOpener(pool, local, ttl_seconds=1800, public_base_url="http://127.0.0.1:8080")
    same = order()

    payments = await asyncio.gather(*(opener.open(same) for _ in range(12)))

    assert len({(p.id, p.checkout_session_id, p.checkout_url) for p in payments}) == 1
    assert payments[0].checkout_session_id
    assert await count(pool, "SELECT count(*) FROM payments") == 1
    assert await count(pool, "SELECT count(*) FROM local_checkout_sessions") == 1


async def test_racing_deliveries_of_one_webhook_apply_it_once(pool: asyncpg.Pool) -> None:
    local = LocalGateway(pool, "http://127.0.0.1:8080")
    opener = CheckoutOpener(pool, local, ttl_seconds=1800, public_base_url="http://127.0.0.1:8080")
    payment = await opener.open(order())
    result = await local.pay(payment.checkout_session_id, "4242424242424242")
    event = build_event(CHECKOUT_COMPLETED, checkout_session_object(result.session))
    # Another event id for the same completion: Stripe may send one twice under two ids.
    twin = build_event(CHECKOUT_COMPLETED, checkout_session_object(result.session))
    handler = WebhookHandler(pool, SECRET, fee_bps=1000)

    results = await asyncio.gather(
        *(
            handler.handle(e.payload.encode(), signature_header(e.payload, SECRET))
            for e in [event] * 8 + [twin] * 4
        )
    )

    assert sorted(r.duplicate for r in results if r.event_id == event.id) == [False] + [True] * 7
    assert sorted(r.duplicate for r in results if r.event_id == twin.id) == [False] + [True] * 3
    assert await count(pool, "SELECT count(*) FROM outbox WHERE type = $1", SUCCEEDED) == 1
    assert await count(pool, "SELECT count(*) FROM payout_ledger") == 1
    async with pool.acquire() as conn:
        stored = await repository.get(conn, payment.id)
    assert stored.status is PaymentStatus.SUCCEEDED
    # The local provider also queued the genuine event for the gateway: one delivery row.
    assert await count(pool, "SELECT count(*) FROM local_webhook_deliveries") == 1


async def test_a_gateway_outage_leaves_a_payment_the_retry_or_the_sweep_resolves(
    pool: asyncpg.Pool,
) -> None:
    down = DownGateway()
    opener = CheckoutOpener(pool, down, ttl_seconds=1800, public_base_url="http://127.0.0.1:8080")
    attempt = order()

    with pytest.raises(UnavailableError):
        await opener.open(attempt)
    async with pool.acquire() as conn:
        stranded = await conn.fetchrow("SELECT * FROM payments")
    assert stranded["status"] == "PENDING"
    assert stranded["checkout_session_id"] is None

    # Nobody retries in time: once its checkout would have expired, the sweep closes it.
    async with pool.acquire() as conn:
        await conn.execute("UPDATE payments SET expires_at = now() - interval '1 second'")
    assert await opener.expire_unopened() == 1
    assert await opener.expire_unopened() == 0
    async with pool.acquire() as conn:
        closed = await repository.get(conn, str(stranded["id"]))
    assert (closed.status, closed.failure_reason) == (PaymentStatus.EXPIRED, "checkout_not_opened")
    assert await count(pool, "SELECT count(*) FROM outbox WHERE type = $1", FAILED) == 1

    # A late retry gets the closed payment back and never reaches the gateway again.
    calls = down.calls
    late = await opener.open(attempt)
    assert (late.id, late.status) == (closed.id, PaymentStatus.EXPIRED)
    assert down.calls == calls


async def test_a_declined_card_leaves_the_session_open_and_queues_nothing(
    pool: asyncpg.Pool,
) -> None:
    local = LocalGateway(pool, "http://127.0.0.1:8080")
    opener = CheckoutOpener(pool, local, ttl_seconds=1800, public_base_url="http://127.0.0.1:8080")
    payment = await opener.open(order())

    declined = await local.pay(payment.checkout_session_id, "4000000000000002")

    assert declined.outcome.decline_code == "generic_decline"
    assert (await local.get(payment.checkout_session_id)).status == "open"
    assert await count(pool, "SELECT count(*) FROM local_webhook_deliveries") == 0
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT failed_attempts, last_decline FROM local_checkout_sessions"
        )
    assert (row["failed_attempts"], row["last_decline"]) == (1, "generic_decline")


async def test_a_webhook_that_fails_midway_leaves_its_event_to_be_delivered_again(
    pool: asyncpg.Pool,
) -> None:
    """The event is claimed, and its outcome written, in the transaction of its effects: a
    failure in its last statement (here the ledger's one charge per payment) takes the claim
    back, and the next delivery applies it, once."""
    local = LocalGateway(pool, "http://127.0.0.1:8080")
    opener = CheckoutOpener(pool, local, ttl_seconds=1800, public_base_url="http://127.0.0.1:8080")
    payment = await opener.open(order())
    result = await local.pay(payment.checkout_session_id, "4242424242424242")
    event = build_event(CHECKOUT_COMPLETED, checkout_session_object(result.session))
    handler = WebhookHandler(pool, SECRET, fee_bps=1000)
    charge = """INSERT INTO payout_ledger (payment_id, provider_id, kind, currency,
                    gross_amount_minor, platform_fee_minor, provider_net_minor, fee_bps)
                VALUES ($1, $2, 'charge', 'USD', 1, 0, 1, 0)"""
    async with pool.acquire() as conn:
        await conn.execute(charge, payment.id, payment.provider_id)

    with pytest.raises(asyncpg.UniqueViolationError):
        await handler.handle(event.payload.encode(), signature_header(event.payload, SECRET))
    assert await count(pool, "SELECT count(*) FROM webhook_events") == 0
    assert await count(pool, "SELECT count(*) FROM outbox WHERE type = $1", SUCCEEDED) == 0

    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM payout_ledger")
    again = await handler.handle(event.payload.encode(), signature_header(event.payload, SECRET))
    assert (again.duplicate, again.outcome) == (False, "payment SUCCEEDED")
    once_more = await handler.handle(
        event.payload.encode(), signature_header(event.payload, SECRET)
    )
    assert once_more.duplicate is True
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT outcome, payment_id FROM webhook_events")
        stored = await repository.get(conn, payment.id)
    assert (row["outcome"], str(row["payment_id"])) == ("payment SUCCEEDED", payment.id)
    assert stored.status is PaymentStatus.SUCCEEDED
    assert await count(pool, "SELECT count(*) FROM outbox WHERE type = $1", SUCCEEDED) == 1
    assert await count(pool, "SELECT count(*) FROM payout_ledger") == 1


async def test_a_refund_delivered_before_its_payment_is_applied_right_after_it(
    pool: asyncpg.Pool,
) -> None:
    """A refund's event that comes before the checkout's completion is deferred; the
    completion books the charge, records its own outcome in the same statement, and then
    applies the deferred refund (and records that one's outcome)."""
    local = LocalGateway(pool, "http://127.0.0.1:8080")
    opener = CheckoutOpener(pool, local, ttl_seconds=1800, public_base_url="http://127.0.0.1:8080")
    payment = await opener.open(order())
    result = await local.pay(payment.checkout_session_id, "4242424242424242")
    completed = build_event(CHECKOUT_COMPLETED, checkout_session_object(result.session))
    refunded = build_event(
        REFUND_CREATED,
        {
            "id": "re_early",
            "object": "refund",
            "amount": 4900,
            "currency": "usd",
            "status": "succeeded",
            "payment_intent": result.session.payment_intent,
            "metadata": {"payment_id": payment.id},
        },
    )
    handler = WebhookHandler(pool, SECRET, fee_bps=1000)

    early = await handler.handle(
        refunded.payload.encode(), signature_header(refunded.payload, SECRET)
    )
    assert early.outcome == "deferred: a refund before the payment succeeded"
    paid = await handler.handle(
        completed.payload.encode(), signature_header(completed.payload, SECRET)
    )
    assert paid.outcome == "payment SUCCEEDED"

    async with pool.acquire() as conn:
        outcomes = {
            r["event_id"]: (r["outcome"], str(r["payment_id"]))
            for r in await conn.fetch("SELECT event_id, outcome, payment_id FROM webhook_events")
        }
        stored = await repository.get(conn, payment.id)
    assert outcomes == {
        refunded.id: ("refund booked", payment.id),
        completed.id: ("payment SUCCEEDED", payment.id),
    }
    assert stored.status is PaymentStatus.REFUNDED
    assert stored.refunded_minor == 4900
    assert await count(pool, "SELECT count(*) FROM payout_ledger") == 2
    assert await count(pool, "SELECT sum(gross_amount_minor) FROM payout_ledger") == 0


@pytest.mark.parametrize("card", ["4242424242424242", "4000000000000002"])
async def test_paying_a_session_refuses_each_closed_state_with_its_reason(
    pool: asyncpg.Pool, fresh_database: str, card: str
) -> None:
    """Every refusal of a payment, whatever the card: an unknown session, one past its
    expiry (closed then, with its event, as the sweeper would), one already expired, one
    already paid. None of them charges or queues a completion. Each queued webhook wakes
    this process's delivery worker (the service's pool sends no NOTIFY)."""
    worker = CountingWorker()
    wakes = LocalWakes()
    wakes.add(worker)
    service_pool = await db.create_pool(fresh_database, wakes=wakes)
    local = LocalGateway(service_pool, "http://127.0.0.1:8080")
    opener = CheckoutOpener(pool, local, ttl_seconds=1800, public_base_url="http://127.0.0.1:8080")
    deliveries = "SELECT event_type FROM local_webhook_deliveries ORDER BY id"

    with pytest.raises(NotFoundError, match="checkout session cs_test_nope not found"):
        await local.pay("cs_test_nope", card)

    late = await opener.open(order())
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE local_checkout_sessions SET expires_at = now() - interval '1 second'"
            " WHERE id = $1",
            late.checkout_session_id,
        )
    with pytest.raises(FailedPreconditionError) as past:
        await local.pay(late.checkout_session_id, card)
    assert str(past.value) == f"checkout session {late.checkout_session_id} has expired"
    assert (await local.get(late.checkout_session_id)).status == "expired"
    with pytest.raises(FailedPreconditionError) as expired:
        await local.pay(late.checkout_session_id, card)
    assert str(expired.value) == (
        f"checkout session {late.checkout_session_id} is expired and cannot be paid"
    )

    paid = await opener.open(order())
    done = await local.pay(paid.checkout_session_id, "4242424242424242")
    assert (done.session.status, done.session.payment_status) == ("complete", "paid")
    assert done.session.payment_intent.startswith("pi_")
    with pytest.raises(FailedPreconditionError) as twice:
        await local.pay(paid.checkout_session_id, card)
    assert str(twice.value) == (
        f"checkout session {paid.checkout_session_id} is complete and cannot be paid"
    )
    async with pool.acquire() as conn:
        queued = [r["event_type"] for r in await conn.fetch(deliveries)]
        attempts = await conn.fetchval("SELECT sum(failed_attempts) FROM local_checkout_sessions")
    assert queued == ["checkout.session.expired", "checkout.session.completed"]
    assert attempts == 0
    assert worker.wakes == 2
    await service_pool.close()


class CountingWorker(WakeAndDrain):
    """The delivery worker's wake-ups, counted (it never runs)."""

    def __init__(self) -> None:
        super().__init__("counting", "", delivery.CHANNEL, self._never)
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1

    async def _never(self) -> float:
        raise AssertionError("not run")


async def test_racing_payments_of_one_session_charge_it_once(pool: asyncpg.Pool) -> None:
    local = LocalGateway(pool, "http://127.0.0.1:8080")
    opener = CheckoutOpener(pool, local, ttl_seconds=1800, public_base_url="http://127.0.0.1:8080")
    payment = await opener.open(order())

    outcomes = await asyncio.gather(
        *(local.pay(payment.checkout_session_id, "4242424242424242") for _ in range(6)),
        return_exceptions=True,
    )

    assert sum(1 for o in outcomes if not isinstance(o, BaseException)) == 1
    assert await count(pool, "SELECT count(*) FROM local_webhook_deliveries") == 1


async def test_a_rejected_payment_is_refunded_once_through_an_outage_and_racing_workers(
    pool: asyncpg.Pool,
) -> None:
    local = LocalGateway(pool, "http://127.0.0.1:8080")
    opener = CheckoutOpener(pool, local, ttl_seconds=1800, public_base_url="http://127.0.0.1:8080")
    payment = await opener.open(order())
    await local.pay(payment.checkout_session_id, "4242424242424242")
    async with pool.acquire() as conn:
        payload = await conn.fetchval(
            "SELECT payload FROM local_webhook_deliveries WHERE event_type = $1", CHECKOUT_COMPLETED
        )
    await WebhookHandler(pool, SECRET, 1000).handle(
        payload.encode(), signature_header(payload, SECRET)
    )
    rejected = enrollment_events.EnrollmentPaymentRejected(
        enrollment_id=payment.enrollment_id, payment_id=payment.id, reason="enrollment_expired"
    )
    for _ in range(2):  # a re-sent rejection records no second refund
        async with pool.acquire() as conn, conn.transaction():
            await consumers.on_payment_rejected(
                conn, rejected, events.new_envelope(rejected, source="test")
            )
    assert await count(pool, "SELECT count(*) FROM refunds") == 1

    # The gateway is down: the refund waits, with its error, and the money is not booked.
    down = DownGateway()
    assert await Refunder(pool, down).refund_due() == 1
    async with pool.acquire() as conn:
        [waiting] = await conn.fetch("SELECT * FROM refunds")
        assert (await repository.get(conn, payment.id)).status is PaymentStatus.SUCCEEDED
    assert (waiting["status"], waiting["attempts"]) == ("PENDING", 1)
    assert "connection refused" in waiting["last_error"]
    assert await Refunder(pool, down).refund_due() == 0  # not due again yet

    # Back up, and two workers (say one whose lease ran out) make the same refund at once.
    async with pool.acquire() as conn:
        refund = await repository.get_refund(conn, str(waiting["id"]))
    await asyncio.gather(Refunder(pool, local)._make(refund), Refunder(pool, local)._make(refund))
    assert await count(pool, "SELECT count(*) FROM local_refunds") == 1
    async with pool.acquire() as conn:
        made = await repository.get_refund(conn, refund.id)
        assert (await repository.get(conn, payment.id)).status is PaymentStatus.REFUNDED
    assert made.status is RefundStatus.SUCCEEDED
    assert made.gateway_refund_id.startswith("re_")
    assert await count(pool, "SELECT count(*) FROM payout_ledger WHERE kind = 'refund'") == 1
    assert await count(pool, "SELECT sum(gross_amount_minor) FROM payout_ledger") == 0
    refunded_type = "upskill.payments.v1.PaymentRefunded"
    assert await count(pool, "SELECT count(*) FROM outbox WHERE type = $1", refunded_type) == 1
    charge_refunded = "SELECT count(*) FROM local_webhook_deliveries WHERE event_type = $1"
    assert await count(pool, charge_refunded, "charge.refunded") == 1


async def succeeded_payment(pool: asyncpg.Pool) -> Payment:
    """A SUCCEEDED payment, as the webhook handler leaves one (without a gateway)."""
    opener = CheckoutOpener(
        pool, DownGateway(), ttl_seconds=1800, public_base_url="http://127.0.0.1:8080"
    )
    with pytest.raises(UnavailableError):
        await opener.open(order())
    async with pool.acquire() as conn, conn.transaction():
        payment_id = await conn.fetchval("SELECT id FROM payments WHERE status = 'PENDING'")
        payment = await repository.get(conn, str(payment_id), for_update=True)
        paid = PaidCheckout(
            session_id=f"cs_test_{payment_id.hex}",
            client_reference_id=payment.enrollment_id,
            metadata_enrollment_id=payment.enrollment_id,
            amount_minor=4900,
            currency="USD",
            payment_intent=f"pi_{payment_id.hex}",
        )
        await repository.add_ledger_entry(conn, payment.succeed(paid, fee_bps=1000))
        await unit_of_work.commit(conn, payment)
    return payment


async def test_refund_listing_walks_every_page_once_while_refunds_arrive(
    pool: asyncpg.Pool,
) -> None:
    async def refund_one() -> str:
        payment = await succeeded_payment(pool)
        refund = payment.full_refund(reason="enrollment_cancelled", idempotency_key=payment.id)
        async with pool.acquire() as conn:
            assert await repository.add_refund(conn, refund)
        return refund.id

    existing = [await refund_one() for _ in range(7)]
    seen: list[str] = []
    token = ""
    while True:
        everything = repository.RefundFilter()
        page = Page.request(repository.REFUNDS, token, 3, everything)
        async with pool.acquire() as conn:
            rows = await repository.list_refunds(conn, everything, page)
        shown, token = page.split(rows, lambda r: (r.created_at, r.id))
        seen += [r.id for r in shown]
        if not token:
            break
        await refund_one()  # newer than every page still to come: never on them
    assert seen == list(reversed(existing))
    # One enrollment's refunds only, by filter.
    async with pool.acquire() as conn:
        one_enrollment = repository.RefundFilter(
            enrollment_id=(await repository.get_refund(conn, existing[0])).enrollment_id
        )
        [one] = await repository.list_refunds(
            conn, one_enrollment, Page.request(repository.REFUNDS, "", 10, one_enrollment)
        )
    assert one.id == existing[0]


@pytest.mark.parametrize("column", ["id", "checkout_session_id", "gateway_payment_id"])
async def test_a_locked_read_shows_the_refunds_the_lock_holder_committed(
    pool: asyncpg.Pool, column: str
) -> None:
    """A payment is locked and read in one statement; the refunds it sums are those the
    previous holder of its lock committed, even when the holder never updated the payment
    row itself (no row-version recheck then: only a fresh snapshot after the lock shows
    them; a sub-select of the locking statement would read the one taken before the wait)."""
    payment = await succeeded_payment(pool)
    refund = payment.full_refund(reason="enrollment_cancelled", idempotency_key=payment.id)
    async with pool.acquire() as conn:
        assert await repository.add_refund(conn, refund)
    find = {
        "id": lambda c: repository.find(c, payment.id, for_update=True),
        "checkout_session_id": lambda c: repository.find_by_session(
            c, payment.checkout_session_id, for_update=True
        ),
        "gateway_payment_id": lambda c: repository.find_by_payment_intent(
            c, payment.gateway_payment_id, for_update=True
        ),
    }[column]

    holder = await pool.acquire()
    tx = holder.transaction()
    await tx.start()
    await holder.execute("SELECT id FROM payments WHERE id = $1 FOR UPDATE", payment.id)
    await holder.execute("UPDATE refunds SET status = 'SUCCEEDED' WHERE id = $1", refund.id)

    async def locked_read() -> Payment | None:
        async with pool.acquire() as conn, conn.transaction():
            return await find(conn)

    reader = asyncio.create_task(locked_read())

    async def waiting() -> bool:
        return (
            await count(
                pool, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            )
            > 0
        )

    await eventually_async(waiting, what="the read to wait for the payment's lock")
    await tx.commit()
    await pool.release(holder)
    found = await reader
    assert found is not None
    assert found.id == payment.id
    assert found.refunded_minor == 4900
