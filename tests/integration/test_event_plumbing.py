"""The shared event plumbing against real PostgreSQL and NATS JetStream:
transactional outbox, relay deduplication, inbox idempotency, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import nats
import pytest
from google.protobuf.message import Message
from nats.js import JetStreamContext
from upskill.payments.v1 import events_pb2

from services.common import db, events, jetstream
from services.common.consumer import EventConsumer, Subscription
from services.common.outbox import enqueue
from services.common.relay import OutboxRelay
from services.devstack.embedded import EmbeddedNats
from tests.polling import eventually_async as eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

SUCCEEDED_SUBJECT = events.subject_for(events_pb2.PaymentSucceeded)


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(fresh_database)
    async with pool.acquire() as conn:
        await db.migrate(conn, "services.common")
        await conn.execute("CREATE TABLE effects (event_id uuid, note text)")
    yield pool
    await pool.close()


@pytest.fixture(scope="module")
def own_nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A NATS of this module's own: its tests delete and recreate the PAYMENTS stream,
    which must not pull the rug from under the session's running stack. With NATS_URL
    set (the external-servers CI leg, no stack running) that server is used."""
    external = os.environ.get("NATS_URL", "").strip()
    if external:
        yield external
        return
    server = EmbeddedNats(tmp_path_factory.mktemp("plumbing-nats"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def js(own_nats_url: str) -> AsyncIterator[JetStreamContext]:
    nc = await nats.connect(own_nats_url)
    context = nc.jetstream()
    # Each test gets clean streams, so counts below are this test's alone.
    for stream in ("PAYMENTS", jetstream.DLQ_STREAM):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await context.delete_stream(stream)
    await jetstream.ensure_stream(context, "payments")
    yield context
    await nc.close()


def succeeded(enrollment: str = "e1") -> events_pb2.PaymentSucceeded:
    return events_pb2.PaymentSucceeded(payment_id=str(uuid.uuid4()), enrollment_id=enrollment)


async def stream_count(js: JetStreamContext, stream: str) -> int:
    info = await js.stream_info(stream)
    return int(info.state.messages)


async def test_outbox_row_commits_and_rolls_back_with_the_state_change(pool: asyncpg.Pool) -> None:
    async def change_then_fail(conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            await conn.execute("INSERT INTO effects VALUES (gen_random_uuid(), 'state')")
            await enqueue(conn, succeeded(), source="test")
            raise RuntimeError("boom")

    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="boom"):
            await change_then_fail(conn)
        assert await conn.fetchval("SELECT count(*) FROM effects") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0

        async with conn.transaction():
            await conn.execute("INSERT INTO effects VALUES (gen_random_uuid(), 'state')")
            event_id = await enqueue(conn, succeeded(), source="test")
        row = await conn.fetchrow("SELECT subject, type FROM outbox WHERE id = $1", event_id)
        assert dict(row) == {
            "subject": SUCCEEDED_SUBJECT,
            "type": "upskill.payments.v1.PaymentSucceeded",
        }


async def test_enqueue_outside_a_transaction_is_refused(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="inside"):
            await enqueue(conn, succeeded(), source="test")


class CrashAfterPublish(OutboxRelay):
    """A relay that dies between publishing and marking the row sent."""

    async def _mark_published(self, conn: asyncpg.Connection, seq: int) -> None:
        raise ConnectionError("killed after publish")


async def test_relay_publishes_each_row_once_even_after_crashing(
    pool: asyncpg.Pool, js: JetStreamContext, fresh_database: str
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        ids = [await enqueue(conn, succeeded(f"e{i}"), source="test") for i in range(3)]

    with pytest.raises(ConnectionError):
        await CrashAfterPublish(pool, js, fresh_database).drain_once()
    # The first row reached the stream, but its row is still unpublished.
    assert await stream_count(js, "PAYMENTS") == 1

    relay = OutboxRelay(pool, js, fresh_database)
    assert await relay.drain_once() == 3
    assert await relay.drain_once() == 0
    assert await stream_count(js, "PAYMENTS") == 3
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    sub = await js.pull_subscribe(SUCCEEDED_SUBJECT, stream="PAYMENTS")
    msgs = await sub.fetch(3, timeout=5)
    assert [(m.headers or {})["Nats-Msg-Id"] for m in msgs] == ids


async def test_relay_is_woken_by_notify_without_waiting_for_the_poll(
    pool: asyncpg.Pool, js: JetStreamContext, fresh_database: str
) -> None:
    task = asyncio.create_task(OutboxRelay(pool, js, fresh_database).run())
    try:
        await asyncio.sleep(0.3)  # let it drain the empty outbox and start waiting
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, succeeded(), source="test")
        started = asyncio.get_running_loop().time()
        await eventually(lambda: _count_is(js, 1), within=4.0)
        # The fallback poll is 5 s: arriving well before it proves NOTIFY woke the relay.
        assert asyncio.get_running_loop().time() - started < 4.0
    finally:
        task.cancel()


async def _count_is(js: JetStreamContext, n: int) -> bool:
    return await stream_count(js, "PAYMENTS") == n


async def publish_raw(js: JetStreamContext, body: bytes, headers: dict[str, str]) -> None:
    await js.publish(SUCCEEDED_SUBJECT, body, headers=headers)


def headers_for(message: Message, event_id: str, msg_id: str | None = None) -> dict[str, str]:
    envelope = events.Envelope(
        id=event_id, type=message.DESCRIPTOR.full_name, source="test", subject="", time="t"
    )
    headers = envelope.headers()
    headers["Nats-Msg-Id"] = msg_id or event_id
    return headers


def recording_consumer(
    name: str, pool: asyncpg.Pool, js: JetStreamContext, fail_first: int = 0
) -> EventConsumer:
    failures = {"left": fail_first}

    async def record(conn: asyncpg.Connection, event: Message, envelope: events.Envelope) -> None:
        assert isinstance(event, events_pb2.PaymentSucceeded)
        await conn.execute("INSERT INTO effects VALUES ($1, $2)", envelope.id, event.enrollment_id)
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("transient")  # the insert above must roll back

    return EventConsumer(name, pool, js, [Subscription(events_pb2.PaymentSucceeded, record)])


async def effects(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        return [r["note"] for r in await conn.fetch("SELECT note FROM effects ORDER BY note")]


async def test_a_redelivered_event_has_no_second_effect(
    pool: asyncpg.Pool, js: JetStreamContext
) -> None:
    event_id = str(uuid.uuid4())
    message = succeeded("once")
    # The same event twice on the stream (distinct Nats-Msg-Id), as after a redelivery.
    await publish_raw(js, message.SerializeToString(), headers_for(message, event_id, "a"))
    await publish_raw(js, message.SerializeToString(), headers_for(message, event_id, "b"))
    task = asyncio.create_task(recording_consumer("tester", pool, js).run())
    try:
        await eventually(lambda: _pending_is(js, "tester", 0))
        assert await effects(pool) == ["once"]
    finally:
        task.cancel()


async def _pending_is(js: JetStreamContext, durable: str, n: int) -> bool:
    try:
        info = await js.consumer_info("PAYMENTS", durable)
    except nats.js.errors.NotFoundError:
        return False
    return info.num_pending == n and info.num_ack_pending == 0


async def test_transient_failure_is_retried_until_it_succeeds(
    pool: asyncpg.Pool, js: JetStreamContext
) -> None:
    message = succeeded("retried")
    await publish_raw(js, message.SerializeToString(), headers_for(message, str(uuid.uuid4())))
    task = asyncio.create_task(recording_consumer("retrier", pool, js, fail_first=1).run())
    try:
        await eventually(lambda: _effects_are(pool, ["retried"]), within=15)
        await eventually(lambda: _pending_is(js, "retrier", 0))
        assert await stream_count(js, jetstream.DLQ_STREAM) == 0
    finally:
        task.cancel()


async def _effects_are(pool: asyncpg.Pool, expected: list[str]) -> bool:
    return await effects(pool) == expected


async def test_undecodable_event_is_dead_lettered_and_does_not_block_the_next(
    pool: asyncpg.Pool, js: JetStreamContext
) -> None:
    bad_id = str(uuid.uuid4())
    await publish_raw(js, b"\xff\xfe not protobuf", headers_for(succeeded(), bad_id))
    await publish_raw(js, b"no headers at all", {"Nats-Msg-Id": "bare"})
    good = succeeded("after-the-bad-ones")
    await publish_raw(js, good.SerializeToString(), headers_for(good, str(uuid.uuid4())))
    task = asyncio.create_task(recording_consumer("dlqtest", pool, js).run())
    try:
        await eventually(lambda: _effects_are(pool, ["after-the-bad-ones"]))
        await eventually(lambda: _dlq_has(js, 2))
        sub = await js.pull_subscribe("upskill.dlq.dlqtest", stream=jetstream.DLQ_STREAM)
        letters = await sub.fetch(2, timeout=5)
        reasons = sorted((m.headers or {})["upskill-dlq-reason"] for m in letters)
        assert reasons[0].startswith("undecodable: body is not a valid")
        assert reasons[1].startswith("undecodable: missing CloudEvents headers")
        assert {(m.headers or {})["upskill-dlq-subject"] for m in letters} == {SUCCEEDED_SUBJECT}
        assert letters[0].data in (b"\xff\xfe not protobuf", b"no headers at all")
        await eventually(lambda: _pending_is(js, "dlqtest", 0))
    finally:
        task.cancel()


async def _dlq_has(js: JetStreamContext, n: int) -> bool:
    try:
        return await stream_count(js, jetstream.DLQ_STREAM) == n
    except nats.js.errors.NotFoundError:
        return False


async def test_a_message_that_keeps_failing_is_dead_lettered_after_max_deliveries(
    pool: asyncpg.Pool, js: JetStreamContext
) -> None:
    async def always_down(
        conn: asyncpg.Connection, event: Message, envelope: events.Envelope
    ) -> None:
        raise ConnectionError("downstream never recovers")

    message = succeeded("doomed")
    await publish_raw(js, message.SerializeToString(), headers_for(message, str(uuid.uuid4())))
    consumer = EventConsumer(
        "giveup",
        pool,
        js,
        [Subscription(events_pb2.PaymentSucceeded, always_down)],
        max_deliver=2,
    )
    task = asyncio.create_task(consumer.run())
    try:
        await eventually(lambda: _dlq_has(js, 1), within=15)
        sub = await js.pull_subscribe("upskill.dlq.giveup", stream=jetstream.DLQ_STREAM)
        [letter] = await sub.fetch(1, timeout=5)
        reason = (letter.headers or {})["upskill-dlq-reason"]
        assert reason.startswith("failed 2 times")
        assert "downstream never recovers" in reason
        await eventually(lambda: _pending_is(js, "giveup", 0))
        assert await effects(pool) == []
    finally:
        task.cancel()
