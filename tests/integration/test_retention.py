"""Retention on a real database and a real JetStream: rows past retention go, rows within
stay, unpublished and parked outbox rows never go; streams carry max_age."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import nats
import pytest

from services.common import jetstream
from services.common.events import stream_for
from services.common.retention import Pruner, RetentionSettings, common_jobs
from services.payments.retention import PaymentsRetention
from tests.databases import migrated_pool

pytestmark = pytest.mark.asyncio(loop_scope="session")

DAY = 24 * 3600


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(fresh_database, "services.payments") as pool:
        yield pool


async def add_outbox(
    conn: asyncpg.Connection,
    note: str,
    *,
    age_days: float,
    published: bool = True,
    parked: bool = False,
) -> None:
    await conn.execute(
        """INSERT INTO outbox (id, subject, type, source, ce_subject, payload, created_at,
                               published_at, parked_at)
           VALUES (gen_random_uuid(), 'upskill.payments.x', 't', 's', $1, '\\x00',
                   now() - make_interval(secs => $2),
                   CASE WHEN $3 THEN now() - make_interval(secs => $2) END,
                   CASE WHEN $4 THEN now() - make_interval(secs => $2) END)""",
        note,
        age_days * DAY,
        published,
        parked,
    )


async def notes(conn: asyncpg.Connection, sql: str) -> list[str]:
    return sorted(r[0] for r in await conn.fetch(sql))


async def test_outbox_and_inbox_keep_what_is_within_retention(pool: asyncpg.Pool) -> None:
    retention = RetentionSettings()  # outbox 48 h, inbox 14 days
    async with pool.acquire() as conn:
        await add_outbox(conn, "published 3 days ago", age_days=3)
        await add_outbox(conn, "published 1 day ago", age_days=1)
        await add_outbox(conn, "unpublished for 90 days", age_days=90, published=False)
        await add_outbox(conn, "parked for 90 days", age_days=90, published=False, parked=True)
        for consumer, age in (("old", 15), ("recent", 13)):
            await conn.execute(
                """INSERT INTO processed_events (consumer, event_id, event_type, processed_at)
                   VALUES ($1, gen_random_uuid(), 't', now() - make_interval(secs => $2))""",
                consumer,
                age * DAY,
            )
    pruner = Pruner(pool, 1, common_jobs(retention))
    assert await pruner.prune_once() == {"outbox": 1, "processed_events": 1}
    async with pool.acquire() as conn:
        assert await notes(conn, "SELECT ce_subject FROM outbox") == [
            "parked for 90 days",
            "published 1 day ago",
            "unpublished for 90 days",
        ]
        assert await notes(conn, "SELECT consumer FROM processed_events") == ["recent"]
    assert await pruner.prune_once() == {"outbox": 0, "processed_events": 0}


async def test_replicas_prune_in_batches_without_stepping_on_each_other(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn:
        for i in range(25):
            await add_outbox(conn, f"old {i}", age_days=5)
        await add_outbox(conn, "new", age_days=0)
    jobs = common_jobs(RetentionSettings())
    replicas = [Pruner(pool, 1, jobs, batch=4) for _ in range(3)]
    results = await asyncio.gather(*(p.prune_once() for p in replicas))
    assert sum(r["outbox"] for r in results) == 25
    async with pool.acquire() as conn:
        assert await notes(conn, "SELECT ce_subject FROM outbox") == ["new"]


async def add_webhook(conn: asyncpg.Connection, event_id: str, age_days: float) -> None:
    await conn.execute(
        """INSERT INTO webhook_events (event_id, event_type, outcome, payload, received_at)
           VALUES ($1, 'checkout.session.completed', 'applied',
                   '{"customer_details": {"email": "someone@example.com"}}',
                   now() - make_interval(secs => $2))""",
        event_id,
        age_days * DAY,
    )


async def test_webhook_bodies_and_ids_go_after_their_retention(pool: asyncpg.Pool) -> None:
    retention = PaymentsRetention()  # bodies 7 days, ids 45 days
    async with pool.acquire() as conn:
        await add_webhook(conn, "evt_yesterday", 1)
        await add_webhook(conn, "evt_last_week", 8)
        await add_webhook(conn, "evt_two_months", 60)
        await add_webhook(conn, "evt_two_months_anomaly", 60)
        await conn.execute(
            """INSERT INTO payment_anomalies (event_id, kind, detail)
               VALUES ('evt_two_months_anomaly', 'amount_mismatch', 'kept for an operator')"""
        )
        deliveries = [("delivered 8 days ago", 8, True), ("delivered today", 0, True)]
        deliveries.append(("never delivered, 60 days", 60, False))
        for event_id, age, delivered in deliveries:
            await conn.execute(
                """INSERT INTO local_webhook_deliveries
                       (event_id, event_type, payload, created_at, delivered_at)
                   VALUES ($1, 't', '{}', now() - make_interval(secs => $2),
                           CASE WHEN $3 THEN now() - make_interval(secs => $2) END)""",
                event_id,
                age * DAY,
                delivered,
            )
    pruner = Pruner(pool, 1, retention.jobs())
    assert await pruner.prune_once() == {
        "webhook payloads": 3,
        "webhook events": 1,
        "local webhook deliveries": 1,
    }
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT event_id, payload IS NOT NULL AS has_body FROM webhook_events"
        )
        assert {r["event_id"]: r["has_body"] for r in rows} == {
            "evt_yesterday": True,
            "evt_last_week": False,  # the id stays, so a late duplicate is still a no-op
            "evt_two_months_anomaly": False,
        }
        assert await notes(conn, "SELECT event_id FROM local_webhook_deliveries") == [
            "delivered today",
            "never delivered, 60 days",
        ]


async def test_streams_get_max_age_and_an_existing_stream_is_updated(nats_url: str) -> None:
    service = f"retention{uuid.uuid4().hex[:8]}"
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    try:
        # A consumer that binds first creates the stream with the default limit ...
        name = await jetstream.ensure_stream(js, service)
        assert (await js.stream_info(name)).config.max_age == jetstream.DEFAULT_MAX_AGE_SECONDS
        # ... the producer brings it to its configured one, and a later consumer start
        # does not put the default back.
        await jetstream.ensure_stream(js, service, max_age_seconds=2 * DAY)
        await jetstream.ensure_stream(js, service)
        info = await js.stream_info(name)
        assert info.config.max_age == 2 * DAY
        assert info.config.duplicate_window == jetstream.DUPLICATE_WINDOW_SECONDS
        # Run twice (a restart): idempotent.
        await jetstream.ensure_stream(js, service, max_age_seconds=3 * DAY)
        await jetstream.ensure_stream(js, service, max_age_seconds=3 * DAY)
        assert (await js.stream_info(name)).config.max_age == 3 * DAY
    finally:
        with contextlib.suppress(Exception):
            await js.delete_stream(stream_for(service))
        await nc.close()
