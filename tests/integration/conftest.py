"""Fixtures shared by the integration modules that run a service's pool as a service does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.common import db
from services.common.wakeup import LocalWakes


@pytest.fixture
def wakes() -> LocalWakes:
    """This process's wake-ups (services/common/wakeup.py): workers register with it."""
    return LocalWakes()


@pytest.fixture
async def service_pool(
    pool: asyncpg.Pool, fresh_database: str, wakes: LocalWakes
) -> AsyncIterator[asyncpg.Pool]:
    """The pool a service runs on: its sessions send no NOTIFY, its connections wake this
    process's workers and hand them their committed rows. `pool`, the module's own, has
    migrated the database first."""
    service = await db.create_pool(fresh_database, wakes=wakes)
    yield service
    await service.close()
