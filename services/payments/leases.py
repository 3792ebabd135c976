"""The one loop of payments' leased workers (closing checkouts, making refunds): claim due
rows under a lease in one short statement, act on each with no transaction open across the
gateway call, and put a row that failed back with a back-off. A database or network outage
stops the pass instead: the sweeper waits, and the lease brings the rows back."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol, TypeVar

import asyncpg

log = logging.getLogger(__name__)

BATCH = 20
# Longer than a gateway call with stripe-python's retries: a live worker keeps its rows.
LEASE_SECONDS = 90.0
MAX_RETRY_SECONDS = 300.0


class Leased(Protocol):
    @property
    def attempts(self) -> int: ...


Row = TypeVar("Row", bound=Leased)


def retry_delay(attempts: int) -> float:
    return min(MAX_RETRY_SECONDS, 2.0 ** max(0, attempts))


async def work_leased(
    pool: asyncpg.Pool,
    claim: Callable[[asyncpg.Connection], Awaitable[Sequence[Row]]],
    handle: Callable[[Row], Awaitable[None]],
    retry: Callable[[asyncpg.Connection, Row, str, float], Awaitable[None]],
    describe: Callable[[Row], str],
) -> int:
    """One pass over the rows `claim` leases; returns how many it claimed."""
    async with pool.acquire() as conn:
        rows = await claim(conn)
    for row in rows:
        try:
            await handle(row)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            raise  # the sweeper waits for the database; the lease brings the row back
        except Exception as exc:
            log.exception("%s failed unexpectedly; will retry", describe(row))
            async with pool.acquire() as conn:
                await retry(conn, row, repr(exc), retry_delay(row.attempts))
    return len(rows)
