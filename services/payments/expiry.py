"""Periodic expiry: unpaid checkouts end when their time is up, as Stripe ends them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger(__name__)

# Each sweep closes up to a batch of due items and returns how many it closed.
Sweep = Callable[[], Awaitable[int]]
SWEEP_BATCH = 100


def sweep_interval(ttl_seconds: int) -> float:
    """Often enough that a checkout never outlives its expiry by much (a tenth of the TTL),
    but no busier than twice a second and no lazier than every 15 seconds."""
    return min(15.0, max(0.5, ttl_seconds / 10))


class ExpirySweeper:
    def __init__(self, sweeps: list[Sweep], interval_seconds: float) -> None:
        self._sweeps = sweeps
        self._interval = interval_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Sweep now rather than at the next interval (work was just committed here)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            backlog = False
            for sweep in self._sweeps:
                try:
                    backlog |= await sweep() >= SWEEP_BATCH
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("expiry sweep: database unavailable, retrying: %s", exc)
            if not backlog:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
