"""A checkout paid in this process has its webhook sent by this process's delivery worker at
once, without a claim (services/payments/delivery.py, the fast path of
services/common/commits.py), on real PostgreSQL and a real HTTP receiver, with the pools
wired as the payments process wires them: the pay statement queues the delivery row already
leased, so no claim (this worker's or another replica's) can take it while it is being sent;
with no free POST slot, or no worker running, the row is queued due now for the loop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest
from aiohttp import web

from services.common import db
from services.common.errors import FailedPreconditionError
from services.common.wakeup import LocalWakes
from services.devstack.embedded import free_port
from services.payments.checkout import CheckoutOpener
from services.payments.delivery import LEASE_SECONDS, MAX_IN_FLIGHT, WebhookDeliveryWorker
from services.payments.local_gateway import LocalGateway
from tests.databases import migrated_pool
from tests.integration.test_payments_one_statement import BASE, CARD, order
from tests.polling import eventually_async

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def migrated(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    """A plain pool on the migrated database (the checks' reads)."""
    async with migrated_pool(fresh_database, "services.payments", max_size=4) as pool:
        yield pool


class Receiver:
    """An endpoint that keeps each POSTed event's id and answers 200 once `open` is set."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[str] = asyncio.Queue()
        self.url = ""
        self.open = asyncio.Event()
        self.open.set()

    async def handle(self, request: web.Request) -> web.Response:
        await self.events.put(json.loads(await request.read())["id"])
        await self.open.wait()
        return web.Response(status=200)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    found.url = f"http://127.0.0.1:{port}/"
    yield found
    await runner.cleanup()


class Process:
    """The payments process's wiring: its service pool (whose sessions wake this process's
    workers), the relay pool the worker writes on, the worker, and the local provider."""

    def __init__(self, service: asyncpg.Pool, worker: WebhookDeliveryWorker) -> None:
        self.service = service
        self.worker = worker
        self.local = LocalGateway(service, BASE)


@pytest.fixture
async def process(
    migrated: asyncpg.Pool, fresh_database: str, receiver: Receiver
) -> AsyncIterator[Process]:
    wakes = LocalWakes()
    service = await db.create_pool(fresh_database, wakes=wakes)
    relay_pool = await db.create_relay_pool(fresh_database)
    worker = WebhookDeliveryWorker(relay_pool, fresh_database, receiver.url, "whsec_payer")
    wakes.add(worker.worker, worker)
    task = asyncio.create_task(worker.run())
    await eventually_async(worker.lease_seconds, what="the delivery worker to run")
    try:
        yield Process(service, worker)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await service.close()
        await relay_pool.close()


async def opened(process: Process) -> str:
    opener = CheckoutOpener(process.service, process.local, ttl_seconds=1800, public_base_url=BASE)
    return (await opener.open(order())).checkout_session_id


async def delivery_of(pool: asyncpg.Pool, session_id: str) -> asyncpg.Record:
    row = await pool.fetchrow(
        """SELECT event_id, attempts, last_status, created_at, next_attempt_at, delivered_at
             FROM local_webhook_deliveries
            WHERE payload::jsonb #>> '{data,object,id}' = $1""",
        session_id,
    )
    assert row is not None
    return row


async def delivered(pool: asyncpg.Pool, session_id: str) -> asyncpg.Record:
    """The row once its sender has recorded the 200 (the POST is seen before that)."""
    row: asyncpg.Record = await eventually_async(
        lambda: delivery_of(pool, session_id),
        until=lambda r: r["delivered_at"] is not None,
        what="the delivery row marked delivered",
    )
    return row


async def test_the_payer_sends_its_webhook_without_a_claim(
    migrated: asyncpg.Pool, receiver: Receiver, process: Process
) -> None:
    session_id = await opened(process)

    await process.local.pay(session_id, CARD)

    row = await delivered(migrated, session_id)
    assert await receiver.events.get() == row["event_id"]
    assert (row["attempts"], row["last_status"]) == (1, 200)
    # Still the lease it was queued with: no claim took it (a claim takes only rows already
    # due, and would have set a lease of its own, LEASE_SECONDS past its own time), so its
    # own process sent it.
    lease = row["next_attempt_at"] - row["created_at"]
    assert timedelta(seconds=LEASE_SECONDS - 1) <= lease <= timedelta(seconds=LEASE_SECONDS + 1)
    assert receiver.events.empty()


async def test_with_every_slot_taken_the_loop_claims_it(
    migrated: asyncpg.Pool, receiver: Receiver, process: Process
) -> None:
    receiver.open.clear()  # POSTs stall: each keeps its slot
    stalling = [await opened(process) for _ in range(MAX_IN_FLIGHT)]
    for session_id in stalling:
        await process.local.pay(session_id, CARD)
    for _ in stalling:
        await receiver.events.get()  # every slot's POST has arrived, none answered
    assert process.worker.lease_seconds() is None
    last = await opened(process)

    await process.local.pay(last, CARD)
    queued = await delivery_of(migrated, last)
    # Due now, not leased: it waits for a claim.
    assert queued["next_attempt_at"] - queued["created_at"] < timedelta(seconds=1)
    receiver.open.set()

    row = await delivered(migrated, last)
    assert (row["attempts"], row["last_status"]) == (1, 200)
    for session_id in stalling:
        assert (await delivered(migrated, session_id))["attempts"] == 1


async def test_a_refused_payment_sends_nothing(
    migrated: asyncpg.Pool, receiver: Receiver, process: Process
) -> None:
    session_id = await opened(process)
    await process.local.pay(session_id, CARD)
    await delivered(migrated, session_id)
    assert not receiver.events.empty()
    await receiver.events.get()

    for _ in range(3):  # paid already: refused, nothing queued or sent
        with pytest.raises(FailedPreconditionError):
            await process.local.pay(session_id, CARD)

    assert await migrated.fetchval("SELECT count(*) FROM local_webhook_deliveries") == 1
    assert receiver.events.empty()


async def test_rows_whose_commit_is_unknown_are_made_due_for_the_loop(
    migrated: asyncpg.Pool, receiver: Receiver, process: Process
) -> None:
    row = await migrated.fetchrow(
        """INSERT INTO local_webhook_deliveries (event_id, event_type, payload, next_attempt_at)
           VALUES ('evt_unsure', 'checkout.session.completed', '{"id": "evt_unsure"}',
                   now() + interval '1 hour')
           RETURNING id, next_attempt_at AS lease"""
    )
    assert row is not None

    process.worker.unsure([dict(row)])

    assert await receiver.events.get() == "evt_unsure"  # claimed by the loop, and sent
    done = await eventually_async(
        lambda: migrated.fetchval(
            "SELECT delivered_at IS NOT NULL FROM local_webhook_deliveries WHERE id = $1",
            row["id"],
        ),
        what="the released row delivered",
    )
    assert done


async def test_without_a_running_worker_the_row_is_due_now(
    migrated: asyncpg.Pool, fresh_database: str, receiver: Receiver
) -> None:
    wakes = LocalWakes()
    service = await db.create_pool(fresh_database, wakes=wakes)
    stopped = WebhookDeliveryWorker(migrated, fresh_database, receiver.url, "whsec_payer")
    wakes.add(stopped.worker, stopped)
    try:
        local = LocalGateway(service, BASE)
        opener = CheckoutOpener(service, local, ttl_seconds=1800, public_base_url=BASE)
        session_id = (await opener.open(order())).checkout_session_id

        await local.pay(session_id, CARD)
    finally:
        await service.close()

    row = await delivery_of(migrated, session_id)
    assert row["next_attempt_at"] - row["created_at"] < timedelta(seconds=1)
    assert row["delivered_at"] is None
    assert receiver.events.empty()
