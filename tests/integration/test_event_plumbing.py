"""The shared event plumbing against real PostgreSQL and NATS JetStream:
transactional outbox, relay deduplication, inbox idempotency, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import nats
import pytest
from google.protobuf.message import Message
from nats.aio.client import Client
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from upskill.payments.v1 import events_pb2

from services.cli.main import main
from services.common import consumer as consumer_module
from services.common import db, events, jetstream
from services.common import relay as relay_module
from services.common.consumer import (
    FIRST_DELIVERY,
    ContractViolationError,
    Effect,
    EventConsumer,
    OneStatement,
    Subscription,
)
from services.common.outbox import enqueue, enqueue_after
from services.common.relay import CLAIM_SQL, OutboxRelay, RelayOptions
from services.common.sql import Statement
from services.common.wakeup import LocalWakes
from tests.own_nats import own_nats
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
    with own_nats(tmp_path_factory.mktemp("plumbing-nats")) as url:
        yield url


@pytest.fixture
async def nc(own_nats_url: str) -> AsyncIterator[Client]:
    client = await nats.connect(own_nats_url)
    yield client
    await client.close()


@pytest.fixture
async def js(nc: Client) -> JetStreamContext:
    context = nc.jetstream()
    # Each test gets clean streams, so counts below are this test's alone.
    for stream in ("PAYMENTS", jetstream.DLQ_STREAM):
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await context.delete_stream(stream)
    await jetstream.ensure_stream(context, "payments")
    return context


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


@pytest.fixture
async def relay_pool(pool: asyncpg.Pool, fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    """The pool a service's relay runs on (`pool` has migrated the database)."""
    relays = await db.create_relay_pool(fresh_database)
    yield relays
    await relays.close()


async def _synchronous_commit(conn: asyncpg.Connection) -> str:
    return str(await conn.fetchval("SHOW synchronous_commit"))


async def test_only_the_relays_pool_commits_without_waiting_for_the_wal_flush(
    pool: asyncpg.Pool, relay_pool: asyncpg.Pool, fresh_database: str
) -> None:
    """The relay's and the delivery worker's bookkeeping commits with synchronous_commit
    off (db.create_relay_pool); a service's pool, where business and inbox transactions
    commit, keeps PostgreSQL's durable default."""
    service = await db.create_pool(fresh_database, wakes=LocalWakes())
    try:
        for durable in (pool, service):
            async with durable.acquire() as conn:
                assert await _synchronous_commit(conn) == "on"
        for _ in range(2):  # the second time on new connections, as after a restart
            held = [await relay_pool.acquire() for _ in range(db.RELAY_POOL_SIZE)]
            try:
                assert [await _synchronous_commit(c) for c in held] == ["off"] * len(held)
            finally:
                for conn in held:
                    await relay_pool.release(conn)
            async with relay_pool.acquire() as conn:  # a released connection keeps it
                assert await _synchronous_commit(conn) == "off"
            await relay_pool.expire_connections()
    finally:
        await service.close()


async def test_a_relay_pool_reconnects_after_its_connections_are_killed(
    pool: asyncpg.Pool, relay_pool: asyncpg.Pool
) -> None:
    """As after a PostgreSQL restart: the next acquire reconnects, synchronous_commit off."""
    async with relay_pool.acquire() as conn:
        pid = conn.get_server_pid()
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)

    async def reconnected() -> bool:
        try:
            async with relay_pool.acquire() as conn:
                return await _synchronous_commit(conn) == "off" and conn.get_server_pid() != pid
        except Exception:  # the dead connection's error, whichever asyncpg raises
            return False

    await eventually(reconnected)


class CrashAfterPublish(OutboxRelay):
    """A relay that dies between publishing and marking the rows sent."""

    async def _mark_published(self, seqs: list[int]) -> None:
        raise ConnectionError("killed after publish")


# Only a NOTIFY can explain a publication within a test's time under this poll.
NEVER_POLL = RelayOptions(fallback_poll_seconds=3600)


async def test_relay_publishes_each_row_once_even_after_crashing(
    pool: asyncpg.Pool,
    relay_pool: asyncpg.Pool,
    js: JetStreamContext,
    nc: Client,
    fresh_database: str,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        ids = [await enqueue(conn, succeeded(f"e{i}"), source="test") for i in range(3)]

    # Its lease lapses at once, as a dead relay's does once it runs out.
    crashing = CrashAfterPublish(relay_pool, nc, fresh_database, RelayOptions(lease_seconds=0.001))
    with pytest.raises(ConnectionError):
        await crashing.drain_once()
    # The rows reached the stream, but they are still unpublished in the outbox.
    assert await stream_count(js, "PAYMENTS") == 3
    assert await unpublished(pool) == 3

    relay = OutboxRelay(relay_pool, nc, fresh_database)
    await eventually(lambda: _drains(relay, 3))
    assert await relay.drain_once() == 0
    assert await stream_count(js, "PAYMENTS") == 3  # the re-sends were deduplicated
    assert await unpublished(pool) == 0
    sub = await js.pull_subscribe(SUCCEEDED_SUBJECT, stream="PAYMENTS")
    msgs = await sub.fetch(3, timeout=5)
    assert [(m.headers or {})["Nats-Msg-Id"] for m in msgs] == ids


async def test_a_published_mark_lost_in_a_crash_publishes_again_and_is_consumed_once(
    pool: asyncpg.Pool,
    relay_pool: asyncpg.Pool,
    js: JetStreamContext,
    nc: Client,
    fresh_database: str,
) -> None:
    """The relay's marks commit without waiting for the WAL flush, so PostgreSQL crashing
    may lose one after its event was published (and consumed): the row is unpublished
    again, as WAL replay leaves it, and goes out again, and nothing happens twice."""
    async with pool.acquire() as conn, conn.transaction():
        ids = [await enqueue(conn, succeeded(f"m{i}"), source="test") for i in range(3)]
    relay = OutboxRelay(relay_pool, nc, fresh_database)
    consumer = asyncio.create_task(recording_consumer("marks", pool, js).run())
    try:
        assert await relay.drain_once() == 3
        await eventually(lambda: _effects_are(pool, ["m0", "m1", "m2"]))
        # The crash: the marks (and claims) never reached the disk.
        async with pool.acquire() as conn:
            lost = await conn.execute(
                "UPDATE outbox SET published_at = NULL, claimed_until = NULL WHERE id = ANY($1)",
                [uuid.UUID(i) for i in ids],
            )
        assert lost == "UPDATE 3"
        assert await relay.drain_once() == 3  # published again ...
        assert await unpublished(pool) == 0
        assert await stream_count(js, "PAYMENTS") == 3  # ... the stream drops the re-sends
        await eventually(lambda: _pending_is(js, "marks", 0))
        assert await effects(pool) == ["m0", "m1", "m2"]  # consumed once
    finally:
        consumer.cancel()


async def _drains(relay: OutboxRelay, n: int) -> bool:
    return await relay.drain_once() == n


async def unpublished(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"))


async def test_relay_is_woken_by_notify_without_waiting_for_the_poll(
    pool: asyncpg.Pool, js: JetStreamContext, nc: Client, fresh_database: str
) -> None:
    relay = OutboxRelay(pool, nc, fresh_database, NEVER_POLL)
    task = asyncio.create_task(relay.run())
    try:
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, succeeded(), source="test")
        await eventually(lambda: _count_is(js, 1))
    finally:
        task.cancel()


class HeldRelay(OutboxRelay):
    """A relay whose publishing waits until the test lets it go, so the test can act
    while a drain is in progress."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.publishing = asyncio.Event()
        self.release = asyncio.Event()
        self.batches: list[int] = []

    async def _publish_all(
        self, rows: list[Any], ack_seconds: float | None = None
    ) -> list[BaseException | None]:
        self.batches.append(len(rows))
        self.publishing.set()
        await self.release.wait()
        return await super()._publish_all(rows, ack_seconds)


async def test_rows_committed_during_a_drain_are_published_without_waiting_for_the_poll(
    pool: asyncpg.Pool, js: JetStreamContext, nc: Client, fresh_database: str
) -> None:
    """Finding 3: the relay cleared its wake-up after draining, so a NOTIFY that arrived
    during a drain was lost and its rows waited for the fallback poll (here: an hour)."""
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, succeeded("first"), source="test")
    relay = HeldRelay(pool, nc, fresh_database, NEVER_POLL)
    task = asyncio.create_task(relay.run())
    try:
        await asyncio.wait_for(relay.publishing.wait(), 10)  # a drain is in progress
        async with pool.acquire() as conn, conn.transaction():
            await enqueue(conn, succeeded("during"), source="test")
        # The NOTIFY has reached the relay while its drain still runs ...
        await eventually(lambda: _true(relay.worker.wake_pending))
        relay.release.set()
        # ... and the row it announced goes out with no poll to help it.
        await eventually(lambda: _count_is(js, 2))
        assert relay.batches == [1, 1]
        assert await unpublished(pool) == 0
    finally:
        task.cancel()


async def _true(value: bool) -> bool:
    return value


async def test_no_transaction_is_open_while_publishing(
    pool: asyncpg.Pool, js: JetStreamContext, nc: Client, fresh_database: str
) -> None:
    """Finding 3: the relay held a transaction and row locks across every publish."""
    async with pool.acquire() as conn, conn.transaction():
        for i in range(3):
            await enqueue(conn, succeeded(f"r{i}"), source="test")
    relay = HeldRelay(pool, nc, fresh_database)
    drain = asyncio.create_task(relay.drain_once())
    try:
        await asyncio.wait_for(relay.publishing.wait(), 10)
        async with pool.acquire() as conn:
            in_transaction = await conn.fetchval(
                """SELECT count(*) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid()
                      AND xact_start IS NOT NULL"""
            )
            outbox_locks = await conn.fetchval(
                """SELECT count(*) FROM pg_locks
                    WHERE relation = 'outbox'::regclass AND pid <> pg_backend_pid()"""
            )
            # Another relay sees the batch as taken (leased), not as locked or free.
            leased = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE claimed_until > now() AND published_at IS NULL"
            )
        assert (in_transaction, outbox_locks, leased) == (0, 0, 3)
        assert await OutboxRelay(pool, nc, fresh_database).drain_once() == 0
    finally:
        relay.release.set()
        assert await drain == 3
    assert await unpublished(pool) == 0


class RecordingRelay(OutboxRelay):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.claimed: list[str] = []

    async def _publish_all(
        self, rows: list[Any], ack_seconds: float | None = None
    ) -> list[BaseException | None]:
        self.claimed.extend(str(r["id"]) for r in rows)
        return await super()._publish_all(rows, ack_seconds)


async def test_replicas_share_the_outbox_without_sending_a_row_twice(
    pool: asyncpg.Pool, js: JetStreamContext, nc: Client, fresh_database: str
) -> None:
    options = RelayOptions(batch=7, fallback_poll_seconds=3600)
    relays = [RecordingRelay(pool, nc, fresh_database, options) for _ in range(3)]
    tasks = [asyncio.create_task(r.run()) for r in relays]
    try:
        ids: list[str] = []
        for burst in range(10):
            async with pool.acquire() as conn, conn.transaction():
                ids += [await enqueue(conn, succeeded(f"b{burst}"), source="t") for _ in range(20)]
        await eventually(lambda: _count_is(js, 200))
        await eventually(lambda: _unpublished_is(pool, 0))
    finally:
        for task in tasks:
            task.cancel()
    claims = [event_id for r in relays for event_id in r.claimed]
    assert sorted(claims) == sorted(ids)  # each row claimed by exactly one relay, once


async def _unpublished_is(pool: asyncpg.Pool, n: int) -> bool:
    return await unpublished(pool) == n


async def test_a_row_that_cannot_be_published_is_parked_and_the_rest_go_out(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    nc: Client,
    fresh_database: str,
    caplog: pytest.LogCaptureFixture,
    metric_reader: InMemoryMetricReader,
) -> None:
    """Finding 3: one row that could never publish blocked every row behind it, forever,
    with a warning and no stack trace; attempts and last_error were never written."""
    async with pool.acquire() as conn, conn.transaction():
        before = await enqueue(conn, succeeded("before"), source="test")
        poisoned = await enqueue(conn, succeeded("poisoned"), source="test")
        # A subject no stream takes: the server can never acknowledge it.
        await conn.execute(
            "UPDATE outbox SET subject = 'upskill.nowhere.x' WHERE id = $1", poisoned
        )
        after = await enqueue(conn, succeeded("after"), source="test")
    parked_before = counted(metric_reader, "upskill.outbox.parked", subject="upskill.nowhere.x")
    options = RelayOptions(max_attempts=3, first_retry_seconds=0.0, publish_timeout_seconds=5)
    relay = OutboxRelay(pool, nc, fresh_database, options)

    assert await relay.drain_once() == 3
    # The rows on either side went out at the first try.
    assert await stream_count(js, "PAYMENTS") == 2
    row = await outbox_row(pool, poisoned)
    assert (row["attempts"], row["published_at"], row["parked_at"]) == (1, None, None)
    assert "NoStreamResponseError" in row["last_error"]

    with caplog.at_level(logging.ERROR, logger="services.common.relay"):
        await eventually(lambda: _drained_until_parked(relay, pool, poisoned))
    row = await outbox_row(pool, poisoned)
    assert row["attempts"] == 3
    assert "NoStreamResponseError" in row["last_error"]
    [parked_log] = [r for r in caplog.records if "parked event" in r.getMessage()]
    assert poisoned in parked_log.getMessage()
    assert parked_log.exc_info is not None  # logged with its stack trace
    parked_after = counted(metric_reader, "upskill.outbox.parked", subject="upskill.nowhere.x")
    assert parked_after == parked_before + 1
    # Parked means left alone: nothing more is claimed, the good rows are done.
    assert await relay.drain_once() == 0
    for event_id in (before, after):
        assert (await outbox_row(pool, event_id))["published_at"] is not None


async def test_an_operator_lists_parked_events_and_sends_them_again(
    pool: asyncpg.Pool,
    js: JetStreamContext,
    nc: Client,
    fresh_database: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        stuck = await enqueue(conn, succeeded("stuck"), source="test")
        await conn.execute("UPDATE outbox SET subject = 'upskill.nowhere.z' WHERE id = $1", stuck)
    relay = OutboxRelay(pool, nc, fresh_database, RelayOptions(max_attempts=1))
    await relay.drain_once()
    seq = (await outbox_row(pool, stuck))["seq"]

    def upskill(*argv: str) -> int:
        return main(["outbox", "--database-url", fresh_database, *argv])

    assert await asyncio.to_thread(upskill, "list") == 0
    listing = capsys.readouterr().out
    assert stuck in listing
    assert "upskill.nowhere.z" in listing
    assert "NoStreamResponseError" in listing
    assert "1 parked event(s)" in listing

    # Once the cause is fixed, the operator hands the row back and the relay sends it.
    async with pool.acquire() as conn:
        await conn.execute("UPDATE outbox SET subject = $2 WHERE id = $1", stuck, SUCCEEDED_SUBJECT)
    assert await asyncio.to_thread(upskill, "retry", "--seq", str(seq)) == 0
    assert f"seq {seq}" in capsys.readouterr().out
    assert await relay.drain_once() == 1
    assert (await outbox_row(pool, stuck))["published_at"] is not None
    assert await stream_count(js, "PAYMENTS") == 1
    # Nothing parked is left, and retrying a seq that is not parked says so.
    assert await asyncio.to_thread(upskill, "list") == 0
    assert "no parked events" in capsys.readouterr().out
    assert await asyncio.to_thread(upskill, "retry", "--seq", str(seq)) == 1
    assert f"no parked event with seq {seq}" in capsys.readouterr().err


async def test_a_payload_over_the_servers_limit_is_parked(
    pool: asyncpg.Pool, js: JetStreamContext, nc: Client, fresh_database: str
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        huge = await enqueue(conn, succeeded("huge"), source="test")
        await conn.execute(
            "UPDATE outbox SET payload = $2 WHERE id = $1", huge, b"x" * (nc.max_payload + 1)
        )
        fine = await enqueue(conn, succeeded("fine"), source="test")
    relay = OutboxRelay(pool, nc, fresh_database, RelayOptions(max_attempts=1))
    assert await relay.drain_once() == 2
    row = await outbox_row(pool, huge)
    assert row["parked_at"] is not None
    assert row["attempts"] == 1
    assert "payload" in row["last_error"].lower()
    assert (await outbox_row(pool, fine))["published_at"] is not None
    assert await stream_count(js, "PAYMENTS") == 1


async def outbox_row(pool: asyncpg.Pool, event_id: str) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM outbox WHERE id = $1", event_id)
    assert row is not None
    return row


async def _drained_until_parked(relay: OutboxRelay, pool: asyncpg.Pool, event_id: str) -> bool:
    await relay.drain_once()
    return (await outbox_row(pool, event_id))["parked_at"] is not None


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


async def test_messages_that_come_one_by_one_need_a_pull_request_per_half_batch(
    pool: asyncpg.Pool, js: JetStreamContext, nc: Client
) -> None:
    """The consumer keeps a pull request open and tops it up once half of it came: not a
    request per message, as nats-py's fetch needed."""
    requests: list[str] = []

    async def seen(msg: Any) -> None:
        requests.append(msg.data.decode())

    watch = await nc.subscribe("$JS.API.CONSUMER.MSG.NEXT.PAYMENTS.onebyone", cb=seen)
    task = asyncio.create_task(recording_consumer("onebyone", pool, js).run())
    try:
        n = consumer_module.PULL_BATCH
        for k in range(n):
            message = succeeded(f"n{k:02}")
            await publish_raw(
                js, message.SerializeToString(), headers_for(message, str(uuid.uuid4()))
            )
            await eventually(functools.partial(_effects_count_is, pool, k + 1))
        await eventually(lambda: _pending_is(js, "onebyone", 0))
        # The first request, then one each time half a batch had come: 3 for a batch.
        assert len(requests) == 3, requests
    finally:
        task.cancel()
        await watch.unsubscribe()


async def test_an_expired_pull_request_is_replaced_at_once(
    pool: asyncpg.Pool, js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A message published after the open request expired is handled at once, not at the
    consumer's next check."""
    monkeypatch.setattr(consumer_module, "PULL_EXPIRES_SECONDS", 0.5)
    monkeypatch.setattr(consumer_module, "PULL_HEARTBEAT_SECONDS", 0.2)  # < half of it
    monkeypatch.setattr(consumer_module, "PULL_CHECK_SECONDS", 60.0)
    task = asyncio.create_task(recording_consumer("expiring", pool, js).run())
    try:
        await asyncio.sleep(1.6)  # the first request, and the next ones, expired
        message = succeeded("late")
        await publish_raw(js, message.SerializeToString(), headers_for(message, str(uuid.uuid4())))
        await eventually(lambda: _effects_are(pool, ["late"]), within=2)
    finally:
        task.cancel()


async def _effects_count_is(pool: asyncpg.Pool, n: int) -> bool:
    return len(await effects(pool)) == n


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


async def test_hostile_event_ids_are_dead_lettered_at_once_and_do_not_block_the_next(
    pool: asyncpg.Pool, js: JetStreamContext
) -> None:
    """The inbox row goes with BEGIN as literals: an id that is not a UUID never gets that
    far. events.parse refuses what uuid.UUID refuses (undecodable); what it takes but the
    inbox cannot record (braces, urn:) is a contract violation, not eight retries."""
    message = succeeded("hostile")
    body = message.SerializeToString()
    for hostile in ("x'); DROP TABLE processed_events; --", "a\\'b", f"{{{uuid.uuid4()}}}"):
        await publish_raw(js, body, headers_for(message, hostile, msg_id=str(uuid.uuid4())))
    good = succeeded("after-the-hostile-ones")
    await publish_raw(js, good.SerializeToString(), headers_for(good, str(uuid.uuid4())))
    task = asyncio.create_task(recording_consumer("hostile", pool, js).run())
    try:
        await eventually(lambda: _effects_are(pool, ["after-the-hostile-ones"]))
        await eventually(lambda: _dlq_has(js, 3))
        sub = await js.pull_subscribe("upskill.dlq.hostile", stream=jetstream.DLQ_STREAM)
        letters = await sub.fetch(3, timeout=5)
        reasons = sorted((m.headers or {})["upskill-dlq-reason"] for m in letters)
        assert [r.split(":")[0] for r in reasons] == [
            "contract violation",
            "undecodable",
            "undecodable",
        ]
        assert "is not a UUID" in reasons[0]
        await eventually(lambda: _pending_is(js, "hostile", 0))
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM processed_events") == 1
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


def counted(reader: InMemoryMetricReader, name: str, **attributes: str) -> int:
    data = reader.get_metrics_data()
    total = 0
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name != name:
                    continue
                for point in metric.data.data_points:
                    if not isinstance(point, NumberDataPoint):
                        continue
                    if attributes.items() <= dict(point.attributes or {}).items():
                        total += int(point.value)
    return total


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    """Spans finished in this process (added to the global provider, or installed)."""
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter


async def test_publish_spans_follow_the_messaging_conventions(
    pool: asyncpg.Pool,
    nc: Client,
    js: JetStreamContext,
    fresh_database: str,
    spans: InMemorySpanExporter,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        good = await enqueue(conn, succeeded("traced"), source="test")
        bad = await enqueue(conn, succeeded("untraceable"), source="test")
        await conn.execute("UPDATE outbox SET subject = 'upskill.nowhere.y' WHERE id = $1", bad)
    spans.clear()
    await OutboxRelay(pool, nc, fresh_database).drain_once()
    by_id = {
        dict(s.attributes or {})["messaging.message.id"]: s for s in spans.get_finished_spans()
    }
    sent, failed = by_id[good], by_id[bad]
    sent_attributes, failed_attributes = dict(sent.attributes or {}), dict(failed.attributes or {})
    assert sent.name == f"publish {SUCCEEDED_SUBJECT}"
    assert sent.kind == trace.SpanKind.PRODUCER
    del sent_attributes["messaging.message.id"]
    assert sent_attributes == {
        "messaging.system": "nats",
        "messaging.operation.name": "publish",
        "messaging.operation.type": "send",
        "messaging.destination.name": SUCCEEDED_SUBJECT,
    }
    assert sent.status.status_code == trace.StatusCode.UNSET
    assert failed_attributes["messaging.destination.name"] == "upskill.nowhere.y"
    assert failed.status.status_code == trace.StatusCode.ERROR
    assert [e.name for e in failed.events] == ["exception"]


async def test_a_drain_sleeps_until_the_lease_of_a_row_held_elsewhere_runs_out(
    pool: asyncpg.Pool, nc: Client, js: JetStreamContext, fresh_database: str
) -> None:
    """The mark statement also reports the next due row, so the relay needs no extra query
    to know how long it may sleep; a row another replica holds is due when its lease ends."""
    async with pool.acquire() as conn, conn.transaction():
        mine = await enqueue(conn, succeeded("mine"), source="test")
        held = await enqueue(conn, succeeded("held"), source="test")
        # Another replica claimed `held` a moment ago, with an hour's lease.
        await conn.execute(
            "UPDATE outbox SET claimed_until = now() + interval '1 hour' WHERE id = $1", held
        )
    relay = OutboxRelay(pool, nc, fresh_database, NEVER_POLL)
    pause = await relay.drain()
    assert 3000 < pause <= 3600
    async with pool.acquire() as conn:
        sent = await conn.fetch("SELECT id::text FROM outbox WHERE published_at IS NOT NULL")
    assert [r["id"] for r in sent] == [mine]
    # Nothing else waiting: sleep until the fallback poll.
    async with pool.acquire() as conn:
        await conn.execute("UPDATE outbox SET published_at = now() WHERE id = $1", held)
        await enqueue_in_transaction(conn, succeeded("next"))
    assert await relay.drain() == NEVER_POLL.fallback_poll_seconds


async def enqueue_in_transaction(conn: asyncpg.Connection, message: Message) -> str:
    async with conn.transaction():
        return await enqueue(conn, message, source="test")


# In-process wake-ups (services/common/wakeup.py): a service's own pool sends no NOTIFY, so
# its commits never queue on PostgreSQL's one notify lock; its process wakes its relay.


@pytest.fixture
async def heard(fresh_database: str) -> AsyncIterator[asyncio.Queue[str]]:
    """The payload of every NOTIFY on the relay's channel."""
    listener = await asyncpg.connect(fresh_database)
    queue: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(
        relay_module.CHANNEL, lambda _conn, _pid, _channel, payload: queue.put_nowait(payload)
    )
    yield queue
    await listener.close()


async def heard_until_now(pool: asyncpg.Pool, heard: asyncio.Queue[str]) -> list[str]:
    """Every notification committed so far: a listener gets them in commit order, so all of
    them arrive before a marker notified now."""
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_notify($1, 'marker')", relay_module.CHANNEL)
    got: list[str] = []
    while (payload := await asyncio.wait_for(heard.get(), 10)) != "marker":
        got.append(payload)
    return got


class IdleRelay(OutboxRelay):
    """A relay that tells when it has drained and gone to sleep."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.asleep = asyncio.Event()

    async def drain(self) -> float:
        self.asleep.clear()
        pause = await super().drain()
        self.asleep.set()
        return pause


async def sleeping_relay(
    service_pool: asyncpg.Pool, nc: Client, dsn: str, wakes: LocalWakes
) -> asyncio.Task[None]:
    """This process's relay, run, asleep for the hour of its fallback poll: only a wake-up
    gets a row published within the test."""
    relay = IdleRelay(service_pool, nc, dsn, NEVER_POLL)
    wakes.add(relay.worker)
    task = asyncio.create_task(relay.run())
    await asyncio.wait_for(relay.asleep.wait(), 10)
    return task


async def test_a_service_pools_commit_sends_no_notify_and_wakes_its_relay_after_the_commit(
    pool: asyncpg.Pool,
    service_pool: asyncpg.Pool,
    wakes: LocalWakes,
    heard: asyncio.Queue[str],
    fresh_database: str,
    nc: Client,
) -> None:
    relay = OutboxRelay(service_pool, nc, fresh_database, NEVER_POLL)  # not running
    wakes.add(relay.worker)
    async with service_pool.acquire() as conn, conn.transaction():
        await enqueue(conn, succeeded(), source="test")
        # Before the commit a drain would find nothing, and then sleep for the poll.
        assert not relay.worker.wake_pending
    assert relay.worker.wake_pending  # the transaction has ended: the relay is woken
    assert await heard_until_now(pool, heard) == []


async def test_a_service_pools_commit_is_published_without_waiting_for_the_poll(
    pool: asyncpg.Pool,
    service_pool: asyncpg.Pool,
    wakes: LocalWakes,
    heard: asyncio.Queue[str],
    js: JetStreamContext,
    nc: Client,
    fresh_database: str,
) -> None:
    task = await sleeping_relay(service_pool, nc, fresh_database, wakes)
    try:
        async with service_pool.acquire() as conn, conn.transaction():
            await enqueue(conn, succeeded(), source="test")
        await eventually(lambda: _count_is(js, 1))
        assert await unpublished(pool) == 0
        assert await heard_until_now(pool, heard) == []
    finally:
        task.cancel()


async def test_a_standalone_statement_wakes_the_relay_as_soon_as_it_returns(
    pool: asyncpg.Pool,
    service_pool: asyncpg.Pool,
    wakes: LocalWakes,
    heard: asyncio.Queue[str],
    fresh_database: str,
    nc: Client,
) -> None:
    """unit_of_work.commit(standalone=True): the statement's own transaction has committed
    when it returns, so the wake-up does not wait for the connection's release."""
    relay = OutboxRelay(service_pool, nc, fresh_database, NEVER_POLL)  # not running
    wakes.add(relay.worker)
    save = Statement("INSERT INTO effects VALUES (gen_random_uuid(), 'seat') RETURNING 1")
    async with service_pool.acquire() as conn:
        assert await enqueue_after(conn, save, [succeeded()], source="test", standalone=True)
        assert relay.worker.wake_pending
    assert await heard_until_now(pool, heard) == []


async def test_another_writers_insert_still_notifies_and_wakes_the_relay(
    pool: asyncpg.Pool,
    service_pool: asyncpg.Pool,
    wakes: LocalWakes,
    heard: asyncio.Queue[str],
    js: JetStreamContext,
    nc: Client,
    fresh_database: str,
) -> None:
    """The CLI, an operator's SQL, a replica on older code: their sessions notify."""
    task = await sleeping_relay(service_pool, nc, fresh_database, wakes)
    other = await asyncpg.connect(fresh_database)
    try:
        async with other.transaction():
            await enqueue(other, succeeded(), source="elsewhere")
        assert await heard_until_now(pool, heard) == [""]
        await eventually(lambda: _count_is(js, 1))
    finally:
        await other.close()
        task.cancel()


async def test_a_rolled_back_transaction_publishes_nothing_and_loses_nothing(
    pool: asyncpg.Pool,
    service_pool: asyncpg.Pool,
    wakes: LocalWakes,
    heard: asyncio.Queue[str],
    js: JetStreamContext,
    nc: Client,
    fresh_database: str,
) -> None:
    task = await sleeping_relay(service_pool, nc, fresh_database, wakes)
    try:
        async with service_pool.acquire() as conn:
            with pytest.raises(RuntimeError, match="boom"):
                await enqueue_then_fail(conn)
            async with conn.transaction():
                kept = await enqueue(conn, succeeded("kept"), source="test")
        await eventually(lambda: _count_is(js, 1))
        sub = await js.pull_subscribe(SUCCEEDED_SUBJECT, durable="rollback-check")
        [msg] = await sub.fetch(1, timeout=5)
        assert (msg.headers or {})["Nats-Msg-Id"] == kept
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
        assert await heard_until_now(pool, heard) == []
    finally:
        task.cancel()


async def enqueue_then_fail(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        await enqueue(conn, succeeded("rolled back"), source="test")
        raise RuntimeError("boom")


async def test_a_channel_without_a_worker_in_this_process_is_notified(
    pool: asyncpg.Pool, service_pool: asyncpg.Pool, heard: asyncio.Queue[str]
) -> None:
    """A pool whose process runs no relay: its release sends the NOTIFY the trigger
    skipped, so another process's relay hears of the row."""
    async with service_pool.acquire() as conn, conn.transaction():
        await enqueue(conn, succeeded(), source="test")
    assert await heard_until_now(pool, heard) == [""]


async def test_a_connection_the_pool_retires_still_wakes_the_relay(
    service_pool: asyncpg.Pool, wakes: LocalWakes, fresh_database: str, nc: Client
) -> None:
    """A connection past its max_queries, or of an expired generation, is closed on
    release instead of reset: the close pays its wake-ups."""
    relay = OutboxRelay(service_pool, nc, fresh_database, NEVER_POLL)  # not running
    wakes.add(relay.worker)
    async with service_pool.acquire() as conn:
        async with conn.transaction():
            await enqueue(conn, succeeded(), source="test")
        await service_pool.expire_connections()
        assert not relay.worker.wake_pending
    assert relay.worker.wake_pending


# The one-statement path (OneStatement) through JetStream: redelivery, dead letters.


class NoSuchEffect(ContractViolationError):
    pass


def one_statement_consumer(
    name: str, pool: asyncpg.Pool, js: JetStreamContext, *, max_deliver: int = 8
) -> EventConsumer:
    """Inserts an effect for `enrollment_id` "new:..."; renames the effect named by
    "rename:<note>" (one must exist: else a contract violation); "sql:<x>" fails in SQL."""

    def effect(event: Message, envelope: events.Envelope) -> Effect:
        assert isinstance(event, events_pb2.PaymentSucceeded)
        verb, _, note = event.enrollment_id.partition(":")
        if verb == "rename":
            return Effect(
                Statement(
                    f"UPDATE effects SET note = $2 WHERE note = $1 AND {FIRST_DELIVERY}"
                    " RETURNING true",
                    (note, f"renamed {note}"),
                ),
                missing=NoSuchEffect(f"no effect {note!r}"),
            )
        divisor = 0 if verb == "sql" else 1
        return Effect(
            Statement(
                f"""INSERT INTO effects SELECT $1::uuid, $2::text || (1 / $3::int)::text
                     WHERE {FIRST_DELIVERY} RETURNING true""",
                (envelope.id, note, divisor),
            )
        )

    return EventConsumer(
        name,
        pool,
        js,
        [Subscription(events_pb2.PaymentSucceeded, OneStatement(effect))],
        max_deliver=max_deliver,
    )


async def test_one_statement_redelivered_event_has_no_second_effect(
    pool: asyncpg.Pool, js: JetStreamContext
) -> None:
    event_id = str(uuid.uuid4())
    message = succeeded("new:once")
    await publish_raw(js, message.SerializeToString(), headers_for(message, event_id, "a"))
    await publish_raw(js, message.SerializeToString(), headers_for(message, event_id, "b"))
    task = asyncio.create_task(one_statement_consumer("onestmt", pool, js).run())
    try:
        await eventually(lambda: _pending_is(js, "onestmt", 0))
        assert await effects(pool) == ["once1"]
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM processed_events") == 1
    finally:
        task.cancel()


async def test_one_statement_missing_effect_is_dead_lettered_at_once_without_an_inbox_row(
    pool: asyncpg.Pool, js: JetStreamContext
) -> None:
    missing = succeeded("rename:absent")
    await publish_raw(js, missing.SerializeToString(), headers_for(missing, str(uuid.uuid4())))
    good = succeeded("new:after")
    await publish_raw(js, good.SerializeToString(), headers_for(good, str(uuid.uuid4())))
    task = asyncio.create_task(one_statement_consumer("onemissing", pool, js).run())
    try:
        await eventually(lambda: _effects_are(pool, ["after1"]))
        await eventually(lambda: _dlq_has(js, 1))
        sub = await js.pull_subscribe("upskill.dlq.onemissing", stream=jetstream.DLQ_STREAM)
        [letter] = await sub.fetch(1, timeout=5)
        headers = letter.headers or {}
        assert headers["upskill-dlq-reason"] == "contract violation: no effect 'absent'"
        assert letter.metadata.num_delivered == 1
        await eventually(lambda: _pending_is(js, "onemissing", 0))
        async with pool.acquire() as conn:
            # Only the good event's inbox row: the dead letter's rolled back with its effect.
            assert await conn.fetchval("SELECT count(*) FROM processed_events") == 1
    finally:
        task.cancel()


async def test_one_statement_that_keeps_failing_is_dead_lettered_after_max_deliveries(
    pool: asyncpg.Pool, js: JetStreamContext
) -> None:
    message = succeeded("sql:doomed")
    await publish_raw(js, message.SerializeToString(), headers_for(message, str(uuid.uuid4())))
    task = asyncio.create_task(one_statement_consumer("onegiveup", pool, js, max_deliver=2).run())
    try:
        await eventually(lambda: _dlq_has(js, 1), within=15)
        sub = await js.pull_subscribe("upskill.dlq.onegiveup", stream=jetstream.DLQ_STREAM)
        [letter] = await sub.fetch(1, timeout=5)
        reason = (letter.headers or {})["upskill-dlq-reason"]
        assert reason.startswith("failed 2 times")
        assert "DivisionByZeroError" in reason
        await eventually(lambda: _pending_is(js, "onegiveup", 0))
        assert await effects(pool) == []
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM processed_events") == 0
    finally:
        task.cancel()


async def _claim_again(pool: asyncpg.Pool) -> tuple[Any, Any]:
    """The one outbox row claimed, its lease then lapsing (the claiming relay stalled) and the
    row claimed anew by another relay: (the stale claim's row, the newer claim's row)."""
    async with pool.acquire() as conn:
        [stale] = await conn.fetch(CLAIM_SQL, 10, 30.0)
        await conn.execute("UPDATE outbox SET claimed_until = now() - interval '1 second'")
        [newer] = await conn.fetch(CLAIM_SQL, 10, 30.0)
    assert newer["lease"] != stale["lease"]
    return stale, newer


async def _outbox_row(pool: asyncpg.Pool) -> asyncpg.Record:
    row = await pool.fetchrow(
        "SELECT attempts, last_error, parked_at, claimed_until FROM outbox ORDER BY seq LIMIT 1"
    )
    assert row is not None
    return row


async def test_a_stale_relays_failure_leaves_the_row_to_the_relay_that_holds_it(
    pool: asyncpg.Pool, nc: Client, fresh_database: str
) -> None:
    """A relay whose batch outlived its lease must not count, reschedule or park a row that
    another relay has claimed since (and may be publishing); the holder's own failure is
    recorded as always."""
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, succeeded("stale"), source="test")
    relay = OutboxRelay(pool, nc, fresh_database, RelayOptions(max_attempts=1))
    stale, newer = await _claim_again(pool)

    await relay._record_failures([(stale, RuntimeError("publish timed out"))])
    row = await _outbox_row(pool)
    assert (row["attempts"], row["last_error"], row["parked_at"]) == (0, "", None)
    assert row["claimed_until"] == newer["lease"]

    await relay._record_failures([(newer, RuntimeError("publish timed out"))])
    row = await _outbox_row(pool)
    assert row["attempts"] == 1
    assert row["parked_at"] is not None  # max_attempts=1: the holder's failure parks it
    assert "publish timed out" in row["last_error"]


async def test_a_stale_relay_releases_only_its_own_lease(
    pool: asyncpg.Pool, own_nats_url: str, fresh_database: str
) -> None:
    """With NATS gone under a batch, the relay gives its rows back at once; a batch whose
    lease lapsed gives back nothing, as the rows are another relay's now."""
    async with pool.acquire() as conn, conn.transaction():
        await enqueue(conn, succeeded("release"), source="test")
    gone = await nats.connect(own_nats_url)
    await gone.close()  # is_connected is False: the release path
    relay = OutboxRelay(pool, gone, fresh_database)
    stale, newer = await _claim_again(pool)

    await relay._record_failures([(stale, RuntimeError("connection closed"))])
    assert (await _outbox_row(pool))["claimed_until"] == newer["lease"]

    await relay._record_failures([(newer, RuntimeError("connection closed"))])
    row = await _outbox_row(pool)
    assert (row["claimed_until"], row["attempts"]) == (None, 0)
