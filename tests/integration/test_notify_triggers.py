"""One NOTIFY trigger function serves every wake-and-drain table: an insert into the
outbox or the local webhook deliveries notifies its worker's channel."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from services.common import db, relay
from services.payments import delivery

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_inserts_notify_the_worker_channels(fresh_database: str) -> None:
    conn = await asyncpg.connect(fresh_database)
    listener = await asyncpg.connect(fresh_database)
    try:
        await db.migrate(conn, "services.common", "services.payments")
        heard: asyncio.Queue[str] = asyncio.Queue()
        for channel in (relay.CHANNEL, delivery.CHANNEL):
            await listener.add_listener(channel, lambda _c, _pid, ch, _p: heard.put_nowait(ch))

        await conn.execute(
            """INSERT INTO outbox (id, subject, type, source, payload)
               SELECT gen_random_uuid(), 's', 't', 'src', '\\x00' FROM generate_series(1, 3)"""
        )
        assert await asyncio.wait_for(heard.get(), 10) == relay.CHANNEL
        await conn.execute(
            "INSERT INTO local_webhook_deliveries (event_id, event_type, payload) "
            "VALUES ('evt_1', 't', '{}')"
        )
        assert await asyncio.wait_for(heard.get(), 10) == delivery.CHANNEL

        functions = await conn.fetch(
            """SELECT DISTINCT p.proname FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid
                WHERE NOT t.tgisinternal"""
        )
        assert [r["proname"] for r in functions] == ["notify_channel"]
    finally:
        await listener.close()
        await conn.close()
