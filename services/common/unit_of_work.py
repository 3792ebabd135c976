"""The one way a service stages events: its aggregate collects plain domain events as its
state changes (no protobuf in the domain); the service's unit of work saves the aggregate
and writes each collected event, as its protobuf message, to the outbox, in one
transaction. So state and events commit (or roll back) together, and nothing else in a
service calls the outbox.

Each service has a `unit_of_work.py` that names its own save, its event -> message
conversion (`messages.py`) and its CloudEvents source, and calls `commit` here.

A save is either a coroutine (then each event's outbox row is an INSERT after it: one round
trip more per event), or, on the hot paths, a `Statement` built from the aggregate: one SQL
statement that writes the aggregate and ends in RETURNING. Then the save and all its outbox
rows are one statement, one round trip (services/common/outbox.py, enqueue_after). What
must be written only with such a save (a payment's ledger charge) may ride in that same
statement too (`commit_then`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import asyncpg
from google.protobuf.message import Message

from services.common.outbox import Then, enqueue, enqueue_after, enqueue_then
from services.common.sql import Statement


class Aggregate(Protocol):
    def pull_events(self) -> list[Any]:
        """The events raised since the last pull, oldest first; the aggregate forgets them."""
        ...


A = TypeVar("A", bound=Aggregate)


async def commit(
    conn: asyncpg.Connection,
    aggregate: A,
    *,
    save: Callable[[asyncpg.Connection, A], Awaitable[bool | None]] | None = None,
    statement: Callable[[A], Statement] | None = None,
    message_of: Callable[[A, Any], Message],
    source: str,
    subject: str,
    standalone: bool = False,
) -> bool:
    """Save `aggregate` with `save`, or with `statement`'s SQL, and stage its events, in the
    caller's transaction (give exactly one of the two).

    `standalone` (with `statement` only): the statement is the whole state change, so it
    may also run outside a transaction, where its own implicit transaction commits the
    save and its outbox rows together (or neither), one round trip in all.

    `save` may answer False for "nothing written" (an insert that lost a race to an
    identical row), as may `statement` by returning no row: then its events are dropped
    with it, and commit answers False. Staging refuses to run outside a transaction
    (services/common/outbox.py)."""
    if (save is None) == (statement is None):
        raise TypeError("unit_of_work.commit takes one of save= and statement=")
    if standalone and statement is None:
        raise TypeError("only a statement= save can stand alone")
    events = aggregate.pull_events()
    if statement is not None:
        messages = [message_of(aggregate, event) for event in events]
        return await enqueue_after(
            conn,
            statement(aggregate),
            messages,
            source=source,
            subject=subject,
            standalone=standalone,
        )
    assert save is not None
    if await save(conn, aggregate) is False:
        return False
    for event in events:
        await enqueue(conn, message_of(aggregate, event), source=source, subject=subject)
    return True


async def commit_then(
    conn: asyncpg.Connection,
    aggregate: A,
    *,
    statement: Callable[[A], Statement],
    then: Then,
    message_of: Callable[[A, Any], Message],
    source: str,
    subject: str,
    standalone: bool = False,
) -> list[asyncpg.Record] | None:
    """commit with `statement`, and `then` in the same statement, after the save and its
    outbox rows (services/common/outbox.py, Then): None when nothing was saved (the
    events dropped), else the rows of `then.select`. `standalone` as for commit."""
    events = aggregate.pull_events()
    messages = [message_of(aggregate, event) for event in events]
    return await enqueue_then(
        conn,
        statement(aggregate),
        messages,
        then,
        source=source,
        subject=subject,
        standalone=standalone,
    )
