"""One wake-and-drain loop for every worker fed by a table: the commit of a row wakes it at
once, a slow poll covers a missed wake-up.

The outbox relay and the payments webhook delivery worker both run on it. Two ways wake it:

- In process (LocalWakes): a service's own pool (db.create_pool(wakes=...)) sends no
  NOTIFY; its connection remembers what was staged on it (staged()) and the process wakes
  its own worker once the transaction has ended. A transaction that ran NOTIFY takes
  PostgreSQL's one notify-queue lock at commit and holds it until the commit is flushed, so
  every notifying commit in the whole cluster waits for the one before it, WAL flush
  included: a service's every business transaction would queue there.
- NOTIFY: every other writer (the CLI, an operator's SQL, tests, a replica still on older
  code) notifies the channel, through one trigger function, `notify_channel(<channel>)`
  (services/common/migrations), fired AFTER INSERT ... FOR EACH STATEMENT on the work
  table, which skips the sessions that set IN_PROCESS_SETTING.

Each replica's own worker publishes what that replica wrote; should it die between the
commit and the drain, the other replicas' fallback poll finds the rows.

No lost wake-up: the wake flag is cleared *before* each drain, so a NOTIFY that arrives
while a drain runs (rows committed after the drain's claim) leaves the flag set and the
loop drains again at once instead of sleeping until the fallback poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from services.common.commits import AfterCommit, CommitFollowing

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

    @property
    def channel(self) -> str:
        return self._channel

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


# Set on a service pool's sessions: the NOTIFY trigger then sends nothing for the rows they
# write (services/common/migrations/0300_in_process_wakes.sql); LocalWakes wakes instead.
IN_PROCESS_SETTING = "upskill.wakes_in_process"


def fast_lease(conn: asyncpg.Connection, channel: str) -> float | None:
    """The lease to stage `channel`'s rows with on `conn` (seconds), when this process's
    worker will publish them itself once they are committed (AfterCommit); None: stage
    them for the drain, as any other writer does."""
    lease = getattr(conn, "after_commit_lease", None)  # a pool's proxy passes it on
    return None if lease is None else lease(channel)


def staged(conn: asyncpg.Connection, channel: str, items: list[Any] | None = None) -> None:
    """Rows for `channel`'s worker were just written on `conn`. A service pool's connection
    (whose session sent no NOTIFY) wakes this process's worker once they are committed; any
    other connection's session has notified by itself. `items`: the rows, staged with
    fast_lease's lease, that the worker publishes itself once they have committed."""
    if items is not None:
        conn.hold(channel, items)  # fast_lease answered: a WakingConnection
        return
    owe = getattr(conn, "owe_wake", None)  # a pool's proxy passes it on to its connection
    if owe is not None:
        owe(channel)


class WakingConnection(CommitFollowing):
    """A service pool's connection (db.create_pool(wakes=...)): the wake-ups owed for the
    rows staged on it. A statement outside a transaction has committed when it returns, so
    its wake-up is paid at once; in a transaction, when the connection goes back to the pool
    (LocalWakes.released), after the transaction has ended (asyncpg rolls back one left
    open before that). A transaction that rolled back costs its worker one empty drain.

    Rows staged for a worker's fast path (fast_lease, staged(items=...)) owe no wake-up:
    they are handed to that worker once their commit is proven (services/common/commits.py),
    or to its drain when it cannot be."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wakes: LocalWakes | None = None  # set by the pool (LocalWakes.adopt)
        self.owed: set[str] = set()

    def owe_wake(self, channel: str) -> None:
        if self.is_in_transaction() or self.wakes is None or not self.wakes.wake(channel):
            self.owed.add(channel)

    def after_commit_lease(self, channel: str) -> float | None:
        return None if self.wakes is None else self.wakes.lease_seconds(channel)

    def hand_over(self, channel: str, items: list[Any], *, committed: bool) -> None:
        if self.wakes is not None:
            self.wakes.hand_over(channel, items, committed=committed)

    async def close(self, *, timeout: float | None = None) -> None:  # noqa: ASYNC109 (asyncpg's)
        # The pool closes instead of resetting a connection it retires (max_queries).
        self.settle(committed=False)
        if self.wakes is not None:
            for channel in self.owed:
                self.wakes.wake(channel)
        self.owed.clear()
        await super().close(timeout=timeout)


class LocalWakes:
    """The wake-and-drain workers of this process that a service pool's commits wake, by
    channel, and that pool's hooks (db.create_pool)."""

    def __init__(self) -> None:
        self._workers: dict[str, list[WakeAndDrain]] = {}
        self._after_commit: dict[str, AfterCommit] = {}

    def add(self, worker: WakeAndDrain, after_commit: AfterCommit | None = None) -> None:
        """`after_commit`: the worker's fast path, which publishes what this process stages
        for it once committed (one per channel)."""
        self._workers.setdefault(worker.channel, []).append(worker)
        if after_commit is not None:
            self._after_commit[worker.channel] = after_commit

    def lease_seconds(self, channel: str) -> float | None:
        fast = self._after_commit.get(channel)
        return None if fast is None else fast.lease_seconds()

    def hand_over(self, channel: str, items: list[Any], *, committed: bool) -> None:
        fast = self._after_commit[channel]
        if committed:
            fast.committed(items)
        else:
            fast.unsure(items)

    def wake(self, channel: str) -> bool:
        """Wake `channel`'s workers; False if this process runs none."""
        workers = self._workers.get(channel, [])
        for worker in workers:
            worker.wake()
        return bool(workers)

    async def adopt(self, conn: WakingConnection) -> None:
        """The pool's `init`: each new connection pays its wake-ups here, and its session
        sends no NOTIFY. A SET rather than a startup parameter: a connection pooler in
        front of PostgreSQL (PgBouncer) refuses startup parameters it does not know, which
        would keep the service from connecting at all; a SET it passes on."""
        conn.wakes = self
        await conn.execute(f"SET {IN_PROCESS_SETTING} = on")

    async def released(self, conn: WakingConnection) -> None:
        """The pool's `reset` (asyncpg has ended any transaction by now): pay what the
        connection owes. A channel with no worker in this process is notified, as the
        trigger would have, so no wake-up is lost."""
        conn.settle(committed=False)  # held rows of a transaction that ended unseen
        if not conn.owed:
            return
        owed, conn.owed = conn.owed, set()
        for channel in owed:
            if not self.wake(channel):
                await conn.execute("SELECT pg_notify($1, '')", channel)
