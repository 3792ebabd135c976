"""The local provider's webhook delivery against its own leases, on real PostgreSQL and a real
HTTP receiver: an attempt that outlived its claim (a slow POST, a wait for a connection) may
mark the row delivered, since the event did reach the receiver, but never reschedules a row
that a newer claim holds nor touches one already delivered."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from services.devstack.embedded import free_port
from services.payments.delivery import WebhookDeliveryWorker
from tests.databases import migrated_pool


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(fresh_database, "services.payments") as pool:
        yield pool


@pytest.fixture
async def receiver() -> AsyncIterator[str]:
    """An endpoint that answers 200 to every POST; its URL."""

    async def ok(_: web.Request) -> web.Response:
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/", ok)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}/"
    await runner.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def refused_url() -> str:
    """Nothing listens there: a POST fails with a connection error."""
    return f"http://127.0.0.1:{free_port()}/"


async def queue_delivery(pool: asyncpg.Pool) -> int:
    return int(
        await pool.fetchval(
            """INSERT INTO local_webhook_deliveries (event_id, event_type, payload)
               VALUES ('evt_lease', 'checkout.session.completed', '{}') RETURNING id"""
        )
    )


async def claim_again(pool: asyncpg.Pool, worker: WebhookDeliveryWorker) -> tuple[Any, Any]:
    """The row claimed once, its lease then lapsing (the attempt ran long) and the row
    claimed anew: (the stale claim's row, the newer claim's row)."""
    [stale], _ = await worker._claim(1)
    await pool.execute(
        "UPDATE local_webhook_deliveries SET next_attempt_at = now() - interval '1 second'"
    )
    [newer], _ = await worker._claim(1)
    assert newer["lease"] != stale["lease"]
    return stale, newer


async def state(pool: asyncpg.Pool, delivery: int) -> asyncpg.Record:
    row = await pool.fetchrow(
        """SELECT attempts, next_attempt_at, last_status, last_error, delivered_at
             FROM local_webhook_deliveries WHERE id = $1""",
        delivery,
    )
    assert row is not None
    return row


async def test_a_stale_attempts_failure_leaves_the_newer_claim_alone(
    pool: asyncpg.Pool, http: aiohttp.ClientSession
) -> None:
    delivery = await queue_delivery(pool)
    failing = WebhookDeliveryWorker(pool, "", refused_url(), "whsec")
    stale, newer = await claim_again(pool, failing)

    await failing._attempt(http, stale)

    row = await state(pool, delivery)
    # Still the newer claim's lease and no failure counted: the row is not due again in a
    # second while its holder is still POSTing.
    assert row["next_attempt_at"] == newer["lease"]
    assert isinstance(row["next_attempt_at"], datetime)
    assert (row["attempts"], row["last_status"], row["last_error"]) == (0, None, "")


async def test_a_late_failure_never_touches_a_delivered_row(
    pool: asyncpg.Pool, http: aiohttp.ClientSession, receiver: str
) -> None:
    delivery = await queue_delivery(pool)
    failing = WebhookDeliveryWorker(pool, "", refused_url(), "whsec")
    answering = WebhookDeliveryWorker(pool, "", receiver, "whsec")
    stale, newer = await claim_again(pool, failing)

    await answering._attempt(http, newer)
    delivered = await state(pool, delivery)
    await failing._attempt(http, stale)

    row = await state(pool, delivery)
    assert row["delivered_at"] == delivered["delivered_at"] is not None
    assert (row["attempts"], row["last_status"], row["last_error"]) == (1, 200, "")


async def test_a_stale_attempt_that_got_through_marks_the_row_delivered_once(
    pool: asyncpg.Pool, http: aiohttp.ClientSession, receiver: str
) -> None:
    delivery = await queue_delivery(pool)
    answering = WebhookDeliveryWorker(pool, "", receiver, "whsec")
    stale, newer = await claim_again(pool, answering)

    await answering._attempt(http, stale)  # the receiver has the event: delivered
    first = await state(pool, delivery)
    assert first["delivered_at"] is not None
    assert (first["attempts"], first["last_status"]) == (1, 200)

    await answering._attempt(http, newer)  # a duplicate the receiver drops; the row keeps
    row = await state(pool, delivery)  # the first delivery's time
    assert row["delivered_at"] == first["delivered_at"]
