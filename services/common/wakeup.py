"""One wake-and-drain loop for every worker fed by a table: LISTEN/NOTIFY wakes it the
moment a row commits, a slow poll covers a missed notification.

The outbox relay and the payments webhook delivery worker both run on it. The NOTIFY side
is one trigger function, `notify_channel(<channel>)` (services/common/migrations), fired
AFTER INSERT ... FOR EACH STATEMENT on the work table.

No lost wake-up: the wake flag is cleared *before* each drain, so a NOTIFY that arrives
while a drain runs (rows committed after the drain's claim) leaves the flag set and the
loop drains again at once instead of sleeping until the fallback poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger(__name__)

# A drain returns how long the loop may sleep before the next one: 0 for "more is waiting,
# drain again now", or the time until the earliest retry it knows of. The loop never sleeps
# past its fallback poll, and any NOTIFY cuts the sleep short.
Drain = Callable[[], Awaitable[float]]

DEFAULT_FALLBACK_POLL_SECONDS = 5.0
DEFAULT_ERROR_PAUSE_SECONDS = 1.0

# Infrastructure being away is expected and needs no stack trace; anything else does.
_EXPECTED = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


class WakeAndDrain:
    def __init__(
        self,
        name: str,
        dsn: str,
        channel: str,
        drain: Drain,
        *,
        fallback_poll_seconds: float = DEFAULT_FALLBACK_POLL_SECONDS,
        error_pause_seconds: float = DEFAULT_ERROR_PAUSE_SECONDS,
    ) -> None:
        self.name = name
        self._dsn = dsn
        self._channel = channel
        self._drain = drain
        self._fallback = fallback_poll_seconds
        self._error_pause = error_pause_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Drain now (also called by NOTIFY, and by this process right after its own commit)."""
        self._wake.set()

    @property
    def wake_pending(self) -> bool:
        """A wake-up arrived since the current drain began (it will be honoured)."""
        return self._wake.is_set()

    async def run(self) -> None:
        listener = await self._listen()
        try:
            while True:
                self._wake.clear()  # before the drain: a NOTIFY during it must not be lost
                try:
                    pause = await self._drain()
                except Exception as exc:  # database or broker away: keep the rows, retry
                    log.warning(
                        "%s: drain failed, retrying in %.1fs: %s",
                        self.name,
                        self._error_pause,
                        exc,
                        exc_info=not isinstance(exc, _EXPECTED),
                    )
                    pause = self._error_pause
                if pause > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), min(pause, self._fallback))
                if listener is None or listener.is_closed():
                    # Re-LISTEN, then drain: whatever was notified while the listener was
                    # gone is found by that drain.
                    listener = await self._listen()
        finally:
            if listener is not None and not listener.is_closed():
                with contextlib.suppress(Exception):
                    await listener.close()

    async def _listen(self) -> asyncpg.Connection | None:
        try:
            conn = await asyncpg.connect(self._dsn)
            await conn.add_listener(self._channel, lambda *_: self._wake.set())
            # A dropped LISTEN connection wakes the loop, which re-LISTENs and drains.
            conn.add_termination_listener(lambda *_: self._wake.set())
            return conn
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("%s: cannot LISTEN (polling until it can): %s", self.name, exc)
            return None
