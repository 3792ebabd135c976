"""Payments' events in the enrollment service in two round trips and no explicit
transaction (issue 12): the unlocked read (which also says whether the event was handled),
then the inbox row, the save and its events as one statement that writes only if the
enrollment is still as read (consumer.AtOnce, unit_of_work.commit_consumed). Whenever it
writes nothing (the enrollment changed after the read, another delivery holds the inbox
row, the id is a seat pack's), the locked transaction decides, as before, and its answer
stands. Everything here goes through EventConsumer._apply with the handlers the service
runs (seat_pack_events.route(SUBSCRIPTIONS))."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from google.protobuf.message import Message
from upskill.enrollment.v1 import events_pb2 as enrollment_events
from upskill.payments.v1 import events_pb2 as payment_events
from upskill.type.v1 import money_pb2

from services.common import db, events
from services.common.consumer import AtOnce, EventConsumer, Inbox, Subscription
from services.enrollment import employers, repository, seat_pack_events, seat_packs, unit_of_work
from services.enrollment.consumers import SUBSCRIPTIONS, UnknownEnrollmentError
from services.enrollment.domain import Enrollment, Price, Status
from services.enrollment.seat_packs import SeatPack
from tests.integration.test_seat_pack_payments import pending_pack
from tests.polling import eventually_async as eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

NAME = "enrollment"
ACTIVATED = enrollment_events.EnrollmentActivated.DESCRIPTOR.full_name
REJECTED = enrollment_events.EnrollmentPaymentRejected.DESCRIPTOR.full_name
HANDLERS = {
    s.event_type.DESCRIPTOR.full_name: s.handler for s in seat_pack_events.route(SUBSCRIPTIONS)
}


class Logged:
    """Every query a pool's connections send, in order (asyncpg's query loggers)."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def __call__(self, record: Any) -> None:
        self.queries.append(" ".join(record.query.split()))

    def take(self) -> list[str]:
        taken, self.queries = self.queries, []
        return taken


@pytest.fixture
async def dsn(fresh_database: str) -> str:
    conn = await asyncpg.connect(fresh_database)
    try:
        await db.migrate(conn, "services.common", "services.enrollment")
    finally:
        await conn.close()
    return fresh_database


@pytest.fixture
async def logged() -> Logged:
    return Logged()


@pytest.fixture
async def one(dsn: str, logged: Logged) -> AsyncIterator[asyncpg.Pool]:
    """A pool of ONE connection, so a test sees every statement a delivery sent."""

    async def log_queries(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(logged)

    pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=1, init=log_queries, reset=db._keep_session
    )
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(dsn, max_size=6)
    yield pool
    await pool.close()


def envelope(event: Message, event_id: str | None = None) -> events.Envelope:
    return events.Envelope(
        id=event_id or str(uuid.uuid4()),
        type=event.DESCRIPTOR.full_name,
        source="test",
        subject="",
        time="",
    )


async def deliver(pool: asyncpg.Pool, event: Message, env: events.Envelope | None = None) -> bool:
    """Handle `event` as the service's consumer does (False: a duplicate)."""
    env = env or envelope(event)
    handler = HANDLERS[event.DESCRIPTOR.full_name]
    consumer = EventConsumer(NAME, pool, None, [Subscription(type(event), handler)])  # type: ignore[arg-type]
    return await consumer._apply(handler, event, env)


async def pending(pool: asyncpg.Pool) -> Enrollment:
    enrollment = Enrollment.open(
        learner_id="alice",
        learner_email="alice@example.com",
        program_id=str(uuid.uuid4()),
        provider_id=str(uuid.uuid4()),
        price=Price(4900, "USD"),
        snapshot=b"",
    )
    enrollment.attach_checkout(str(uuid.uuid4()), "http://checkout")
    async with pool.acquire() as conn, conn.transaction():
        await unit_of_work.commit(conn, enrollment, new=True)
    return enrollment


async def cancel(conn: asyncpg.Connection, enrollment_id: str) -> None:
    async with conn.transaction():
        enrollment = await repository.get(conn, enrollment_id, for_update=True)
        enrollment.cancel()
        await unit_of_work.commit(conn, enrollment)


def succeeded(e: Enrollment | SeatPack, amount: int = 4900) -> payment_events.PaymentSucceeded:
    return payment_events.PaymentSucceeded(
        payment_id=e.payment_id,
        enrollment_id=e.id,
        learner_id="alice",
        amount=money_pb2.Money(amount_minor=amount, currency="USD"),
    )


async def written(pool: asyncpg.Pool, enrollment_id: str) -> dict[str, Any]:
    async with pool.acquire() as conn:
        return {
            "status": (await repository.get(conn, enrollment_id)).status,
            "outbox": [r["type"] for r in await conn.fetch("SELECT type FROM outbox ORDER BY seq")],
            "inbox": await conn.fetchval("SELECT count(*) FROM processed_events"),
        }


async def rejection(pool: asyncpg.Pool) -> enrollment_events.EnrollmentPaymentRejected:
    async with pool.acquire() as conn:
        [payload] = await conn.fetch("SELECT payload FROM outbox WHERE type = $1", REJECTED)
    return enrollment_events.EnrollmentPaymentRejected.FromString(payload["payload"])


def kinds(queries: list[str]) -> list[str]:
    return [q.split()[0] for q in queries]


async def test_a_success_is_two_statements_and_a_redelivery_one(
    one: asyncpg.Pool, logged: Logged
) -> None:
    e = await pending(one)
    event, logged.queries = succeeded(e), []
    env = envelope(event)
    assert await deliver(one, event, env) is True
    ran = logged.take()
    assert kinds(ran) == ["SELECT", "WITH"]  # no BEGIN, no locked read, no COMMIT
    assert "FOR UPDATE" not in ran[0]
    assert await written(one, e.id) == {"status": Status.ACTIVE, "outbox": [ACTIVATED], "inbox": 1}
    async with one.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT consumer, event_id::text, event_type FROM processed_events"
        )
    assert tuple(row) == (NAME, env.id, env.type)  # the row the inbox transaction writes
    logged.take()
    # The same event again: the read sees its inbox row, and nothing more is sent.
    assert await deliver(one, event, env) is False
    assert kinds(logged.take()) == ["SELECT"]
    assert await written(one, e.id) == {"status": Status.ACTIVE, "outbox": [ACTIVATED], "inbox": 1}
    # A copy under a new event id (payments published it twice): recorded, no second effect.
    assert await deliver(one, event) is True
    assert await written(one, e.id) == {"status": Status.ACTIVE, "outbox": [ACTIVATED], "inbox": 2}


async def test_a_closed_enrollment_is_not_paid_into_active_but_rejected(
    one: asyncpg.Pool, logged: Logged
) -> None:
    e = await pending(one)
    async with one.acquire() as conn:
        await cancel(conn, e.id)
    logged.take()
    assert await deliver(one, succeeded(e)) is True
    assert kinds(logged.take()) == ["SELECT", "WITH"]
    state = await written(one, e.id)
    assert state["status"] is Status.CANCELLED
    assert state["outbox"][-1] == REJECTED
    rejected = await rejection(one)
    assert (rejected.enrollment_id, rejected.payment_id, rejected.reason) == (
        e.id,
        e.payment_id,
        "enrollment_cancelled",
    )


async def test_a_stale_read_writes_nothing(pool: asyncpg.Pool) -> None:
    e = await pending(pool)
    async with pool.acquire() as conn:
        read = await repository.get(conn, e.id)
        as_read = await repository.get(conn, e.id)
        await cancel(conn, e.id)  # closed by another writer between the read and the write
        before = await written(pool, e.id)
        read.payment_succeeded(e.payment_id, Price(4900, "USD"))  # decided on the stale read
        inbox = Inbox(NAME, str(uuid.uuid4()), succeeded(e).DESCRIPTOR.full_name)
        assert not await unit_of_work.commit_consumed(conn, read, as_read, inbox)
    assert await written(pool, e.id) == before  # no ACTIVE, no event, no inbox row


async def test_a_row_changed_between_read_and_write_is_decided_under_the_lock(
    one: asyncpg.Pool, dsn: str, logged: Logged, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The enrollment is cancelled after the unlocked read saw it PENDING_PAYMENT: the
    statement writes nothing, and the locked path, seeing it CANCELLED, rejects the money."""
    e = await pending(one)
    peek = repository.peek_consumed

    async def peek_then_cancel(*args: Any) -> Any:
        seen = await peek(*args)
        other = await asyncpg.connect(dsn)
        try:
            await cancel(other, e.id)
        finally:
            await other.close()
        return seen

    monkeypatch.setattr(repository, "peek_consumed", peek_then_cancel)
    logged.take()
    assert await deliver(one, succeeded(e)) is True
    ran = logged.take()
    assert kinds(ran) == ["SELECT", "WITH", "BEGIN;", "SELECT", "WITH", "COMMIT;"]
    assert ran[3] == "SELECT * FROM enrollments WHERE id = $1 FOR UPDATE"
    state = await written(one, e.id)
    assert state["status"] is Status.CANCELLED
    assert state["outbox"] == [
        enrollment_events.EnrollmentCancelled.DESCRIPTOR.full_name,
        REJECTED,
    ]
    assert state["inbox"] == 1
    assert (await rejection(one)).reason == "enrollment_cancelled"


async def held(pool: asyncpg.Pool, sql: str, *args: Any) -> tuple[Any, Any]:
    """A connection and its open transaction, after `sql` (a lock it now holds)."""
    conn = await pool.acquire()
    transaction = conn.transaction()
    await transaction.start()
    await conn.execute(sql, *args)
    return conn, transaction


async def waiting_for_locks(pool: asyncpg.Pool, count: int) -> None:
    async def waiters() -> int:
        return await pool.fetchval(
            """SELECT count(*) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event_type = 'Lock'"""
        )

    await eventually(waiters, until=lambda n: n >= count, what=f"{count} waiting for a lock")


async def test_concurrent_duplicates_apply_once(pool: asyncpg.Pool) -> None:
    """Two deliveries of one event, both past their unlocked read while another
    transaction holds the enrollment: released, one writes; the other finds the row
    changed, and the locked path finds the inbox row: a duplicate."""
    e = await pending(pool)
    event = succeeded(e)
    env = envelope(event)
    holder, transaction = await held(
        pool, "SELECT 1 FROM enrollments WHERE id = $1 FOR UPDATE", e.id
    )
    try:
        first = asyncio.create_task(deliver(pool, event, env))
        second = asyncio.create_task(deliver(pool, event, env))
        await waiting_for_locks(pool, 2)
    finally:
        await transaction.rollback()
        await pool.release(holder)
    assert sorted(await asyncio.gather(first, second)) == [False, True]
    assert await written(pool, e.id) == {"status": Status.ACTIVE, "outbox": [ACTIVATED], "inbox": 1}


@pytest.mark.parametrize("holder_commits", [True, False])
async def test_a_delivery_whose_inbox_row_is_held_follows_the_holders_outcome(
    pool: asyncpg.Pool, holder_commits: bool
) -> None:
    """Another delivery of the event holds its inbox row, uncommitted: the statement waits
    for it; committed -> nothing written, and the locked path says duplicate; rolled back
    -> the statement writes."""
    e = await pending(pool)
    event = succeeded(e)
    env = envelope(event)
    holder, transaction = await held(
        pool,
        "INSERT INTO processed_events (consumer, event_id, event_type) VALUES ($1, $2, $3)",
        NAME,
        env.id,
        env.type,
    )
    try:
        delivery = asyncio.create_task(deliver(pool, event, env))
        await waiting_for_locks(pool, 1)
    finally:
        await (transaction.commit() if holder_commits else transaction.rollback())
        await pool.release(holder)
    assert await delivery is (not holder_commits)
    state = await written(pool, e.id)
    assert state["inbox"] == 1
    if holder_commits:  # the holder wrote no effect: the one it stands for is its own
        assert (state["status"], state["outbox"]) == (Status.PENDING_PAYMENT, [])
    else:
        assert (state["status"], state["outbox"]) == (Status.ACTIVE, [ACTIVATED])


async def test_a_seat_packs_id_still_routes_to_the_pack(one: asyncpg.Pool, logged: Logged) -> None:
    pack = await pending_pack(one)
    event = succeeded(pack, amount=14700)
    env = envelope(event)
    logged.take()
    assert await deliver(one, event, env) is True
    ran = logged.take()
    assert kinds(ran)[:2] == ["SELECT", "BEGIN;"]  # no enrollment read: no at-once write
    assert "SELECT * FROM seat_packs WHERE id = $1 FOR UPDATE" in ran
    async with one.acquire() as conn:
        found = await employers.get_pack(conn, pack.id)
        types = [r["type"] for r in await conn.fetch("SELECT type FROM outbox ORDER BY seq")]
    assert found is not None
    assert (found.status, types) == (seat_packs.PAID, ["upskill.enrollment.v1.SeatPackPaid"])
    logged.take()
    assert await deliver(one, event, env) is False  # redelivered: its inbox row is seen
    assert kinds(logged.take()) == ["SELECT"]


async def test_an_id_of_neither_is_still_a_contract_violation_with_nothing_written(
    pool: asyncpg.Pool,
) -> None:
    unknown = payment_events.PaymentSucceeded(
        payment_id=str(uuid.uuid4()),
        enrollment_id=str(uuid.uuid4()),
        amount=money_pb2.Money(amount_minor=100, currency="USD"),
    )
    with pytest.raises(UnknownEnrollmentError):
        await deliver(pool, unknown)
    assert await pool.fetchval("SELECT count(*) FROM processed_events") == 0


async def test_failed_and_refunded_take_the_same_path(one: asyncpg.Pool, logged: Logged) -> None:
    failing, paid = await pending(one), await pending(one)
    assert await deliver(one, succeeded(paid)) is True
    logged.take()
    failed = payment_events.PaymentFailed(
        payment_id=failing.payment_id, enrollment_id=failing.id, reason="checkout_expired"
    )
    refunded = payment_events.PaymentRefunded(
        payment_id=paid.payment_id,
        enrollment_id=paid.id,
        refund_id=str(uuid.uuid4()),
        reason="requested",
        full_refund=True,
    )
    for event in (failed, refunded):
        assert await deliver(one, event) is True
        assert kinds(logged.take()) == ["SELECT", "WITH"]
    assert (await written(one, failing.id))["status"] is Status.EXPIRED
    state = await written(one, paid.id)
    assert state["status"] is Status.REFUNDED
    assert state["outbox"] == [
        ACTIVATED,
        enrollment_events.EnrollmentExpired.DESCRIPTOR.full_name,
        enrollment_events.EnrollmentRefunded.DESCRIPTOR.full_name,
    ]


async def test_the_service_runs_the_payment_handlers_at_once_and_routed() -> None:
    for event_type in (
        payment_events.PaymentSucceeded,
        payment_events.PaymentFailed,
        payment_events.PaymentRefunded,
    ):
        handler: Callable[..., Awaitable[None]] = HANDLERS[event_type.DESCRIPTOR.full_name]
        assert isinstance(handler, AtOnce)
        assert handler.locked.__name__ == "route"  # seat_pack_events' routing, kept
