"""Which rows staged on a connection have committed: the proof a worker's fast path needs
before it publishes what this process staged (services/common/relay.py, FastPath), so that
it never publishes a row whose transaction rolled back.

The proof is PostgreSQL's own answer, read on the connection that ran the transaction:

- a staging statement that returned outside a transaction block: its implicit transaction
  committed before the server answered (an error at commit, a deferred check, is the
  statement's error);
- a COMMIT whose command status is COMMIT: PostgreSQL answers ROLLBACK, not an error, to the
  COMMIT of a transaction that a failed statement aborted (an error caught in the block);
- the rows of a savepoint rolled back to are dropped on the way (ROLLBACK TO), those of a
  released one kept (RELEASE).

asyncpg's Transaction (and the consumer's inbox transaction) sends BEGIN, SAVEPOINT,
RELEASE, ROLLBACK TO, COMMIT and ROLLBACK through `Connection.execute`, which
CommitFollowing follows. Transaction control it cannot follow (sent through fetch and the
like, a quoted savepoint name, several statements in one string, a COMMIT that failed)
makes the held rows unsure: they go to the drain, never to the fast path. The only cost of
that is latency.
"""

from __future__ import annotations

import re
from typing import Any, Protocol

import asyncpg


class AfterCommit(Protocol):
    """A worker that publishes the rows this process staged as soon as their transaction has
    committed, from the values in hand (services/common/relay.py: the outbox relay's fast
    path); its drain stays for everything else."""

    def lease_seconds(self) -> float | None:
        """How long rows staged now are the fast path's (no drain claims them); None: not
        now (the worker is not running, its broker is away): stage them for the drain."""
        ...

    def committed(self, items: list[Any]) -> None:
        """`items`, staged with the lease, have committed: publish them."""
        ...

    def unsure(self, items: list[Any]) -> None:
        """Whether `items` committed is not known (a COMMIT that failed, a transaction that
        ended unseen): leave them to the drain (release their lease: rows that do not exist
        release nothing)."""
        ...


# Transaction control as asyncpg's Transaction sends it (`COMMIT;`, `SAVEPOINT <id>;`, ...)
# and as a caller could.
_CONTROL = re.compile(
    r"""\s*(?:
        (?P<commit>COMMIT|END)(?:\s+(?:WORK|TRANSACTION))?
      | (?P<rollback>ROLLBACK|ABORT)(?:\s+(?:WORK|TRANSACTION))?
            (?:\s+TO(?:\s+SAVEPOINT)?\s+(?P<to>\w+))?
      | SAVEPOINT\s+(?P<savepoint>\w+)
      | RELEASE(?:\s+SAVEPOINT)?\s+(?P<release>\w+)
    )\s*;?\s*\Z""",
    re.IGNORECASE | re.VERBOSE,
)
# Anything else that could end a transaction or a savepoint: then none of the held rows is
# taken for committed.
_MENTIONS_CONTROL = re.compile(
    r"\b(?:COMMIT|ROLLBACK|ABORT|SAVEPOINT|RELEASE|PREPARE\s+TRANSACTION)\b|(?:^|;)\s*END\b",
    re.IGNORECASE,
)


class CommitFollowing(asyncpg.Connection):
    """A connection that holds the fast path's rows staged in its open transaction (`hold`)
    and hands them over once it knows how the transaction ended (`hand_over`, a subclass's:
    wakeup.WakingConnection)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The rows staged in the open transaction, in staging order; the savepoints set
        # since (name, how many rows were held then); whether something happened that this
        # bookkeeping cannot follow.
        self.held: list[tuple[str, Any]] = []
        self._savepoints: list[tuple[str, int]] = []
        self._lost_track = False

    def hand_over(self, channel: str, items: list[Any], *, committed: bool) -> None:
        raise NotImplementedError

    def hold(self, channel: str, items: list[Any]) -> None:
        """`items` were staged for `channel`'s fast path by a statement that has returned."""
        if self.is_in_transaction():
            self.held.extend((channel, item) for item in items)
            return
        # Outside a transaction block: the statement's implicit transaction has committed.
        self.settle(committed=False)  # rows still held are of a transaction that ended unseen
        self.hand_over(channel, items, committed=True)

    def settle(self, *, committed: bool | None) -> None:
        """The transaction has ended: hand the held rows over as committed (True) or unsure
        (False), or drop them (None: rolled back, they do not exist)."""
        held, self.held = self.held, []
        self._savepoints.clear()
        lost, self._lost_track = self._lost_track, False
        if not held or committed is None:
            return
        by_channel: dict[str, list[Any]] = {}
        for channel, item in held:
            by_channel.setdefault(channel, []).append(item)
        for channel, items in by_channel.items():
            self.hand_over(channel, items, committed=committed and not lost)

    async def execute(
        self,
        query: str,
        *args: Any,
        timeout: float | None = None,  # noqa: ASYNC109 (asyncpg's signature)
    ) -> str:
        if args:  # transaction control takes no parameters
            return await super().execute(query, *args, timeout=timeout)
        control = _CONTROL.match(query)
        try:
            status = await super().execute(query, timeout=timeout)
        except BaseException:
            if (
                control is not None
                and (control["commit"] or control["rollback"])
                and not control["to"]
            ):
                self.settle(committed=False)  # a COMMIT or ROLLBACK failed: did it commit?
            elif (self.held or self._savepoints) and _MENTIONS_CONTROL.search(query):
                self._lost_track = True  # e.g. a failed ROLLBACK TO: where are we now?
            raise
        if control is not None:
            self._follow(control, status)
        elif (self.held or self._savepoints) and _MENTIONS_CONTROL.search(query):
            self._lost_track = True
        return status

    def _follow(self, control: re.Match[str], status: str) -> None:
        if control["commit"]:
            if status == "COMMIT" and not self.is_in_transaction():
                self.settle(committed=True)
            else:  # ROLLBACK: the COMMIT of an aborted transaction; its rows do not exist
                self.settle(committed=None if status == "ROLLBACK" else False)
        elif control["savepoint"]:
            self._savepoints.append((control["savepoint"].lower(), len(self.held)))
        elif name := control["release"] or control["to"]:
            names = [n for n, _ in self._savepoints]
            if name.lower() not in names:
                self._lost_track = True
                return
            at = len(names) - 1 - names[::-1].index(name.lower())
            if control["to"]:  # rolled back to: its rows are gone, the savepoint stays
                del self.held[self._savepoints[at][1] :]
                del self._savepoints[at + 1 :]
            else:
                del self._savepoints[at:]
        else:  # ROLLBACK: the transaction's rows are gone
            assert control["rollback"]
            self.settle(committed=None)

    # Transaction control sent past `execute` is not followed: the held rows go to the
    # drain. It takes no parameters, so a call with some is not looked at. Plain functions
    # returning asyncpg's coroutine: no coroutine of their own on every query.

    def fetch(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self._unfollowed(query, args)
        return super().fetch(query, *args, **kwargs)

    def fetchrow(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self._unfollowed(query, args)
        return super().fetchrow(query, *args, **kwargs)

    def fetchval(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self._unfollowed(query, args)
        return super().fetchval(query, *args, **kwargs)

    def prepare(self, query: str, **kwargs: Any) -> Any:
        self._unfollowed(query, ())
        return super().prepare(query, **kwargs)

    def _unfollowed(self, query: str, args: tuple[Any, ...]) -> None:
        if not args and self.is_in_transaction() and _MENTIONS_CONTROL.search(query):
            self._lost_track = True
