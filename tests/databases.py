"""A pool on a test's own database with a service's schema: the one way tests migrate one.

@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(fresh_database, "services.payments") as pool:
        yield pool
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from services.common import db


@asynccontextmanager
async def migrated_pool(
    dsn: str, *packages: str, max_size: int = 10
) -> AsyncIterator[asyncpg.Pool]:
    """A service's pool on `dsn` once services.common's migrations and then each of
    `packages`' (e.g. "services.payments") have run; closed on exit."""
    pool = await db.create_pool(dsn, max_size=max_size)
    try:
        async with pool.acquire() as conn:
            await db.migrate(conn, "services.common", *packages)
        yield pool
    finally:
        await pool.close()
