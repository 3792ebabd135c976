"""The consumer's inbox transaction against real PostgreSQL: BEGIN and the inbox row in one
round trip (`BEGIN; INSERT ... ON CONFLICT DO NOTHING`, literals), with the guarantees of
the two round trips it replaced: the same rows, a duplicate skipped, a failing or cancelled
handler leaving neither its effect nor the inbox row (nor an open transaction), and no id
that can get out of its literal."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from google.protobuf.message import Message
from upskill.payments.v1 import events_pb2

from services.common import db, events
from services.common.consumer import (
    FIRST_DELIVERY,
    ContractViolationError,
    Effect,
    EventConsumer,
    Handler,
    OneStatement,
    Subscription,
    inbox_sql,
)
from services.common.sql import Statement
from tests.polling import eventually_async as eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

TYPE = events_pb2.PaymentSucceeded.DESCRIPTOR.full_name


class Logged:
    """Every query the pool's connections send, in order (asyncpg's query loggers)."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def __call__(self, record: Any) -> None:
        self.queries.append(" ".join(record.query.split()))

    def take(self) -> list[str]:
        taken, self.queries = self.queries, []
        return taken


@pytest.fixture
async def logged() -> Logged:
    return Logged()


@pytest.fixture
async def dsn(fresh_database: str) -> str:
    conn = await asyncpg.connect(fresh_database)
    try:
        await db.migrate(conn, "services.common")
        await conn.execute("CREATE TABLE effects (event_id uuid, note text)")
    finally:
        await conn.close()
    return fresh_database


@pytest.fixture
async def one(dsn: str, logged: Logged) -> AsyncIterator[asyncpg.Pool]:
    """A pool of ONE connection, so a test sees the very connection a handler used."""

    async def log_queries(conn: asyncpg.Connection) -> None:
        conn.add_query_logger(logged)

    pool = await asyncpg.create_pool(
        dsn, min_size=1, max_size=1, init=log_queries, reset=db._keep_session
    )
    assert pool is not None
    yield pool
    await pool.close()


def envelope(event_id: str | None = None, type_: str = TYPE) -> events.Envelope:
    return events.Envelope(
        id=str(uuid.uuid4()) if event_id is None else event_id,
        type=type_,
        source="test",
        subject="",
        time="",
    )


def message(note: str) -> events_pb2.PaymentSucceeded:
    return events_pb2.PaymentSucceeded(payment_id=str(uuid.uuid4()), enrollment_id=note)


async def record(conn: asyncpg.Connection, event: Message, env: events.Envelope) -> None:
    assert isinstance(event, events_pb2.PaymentSucceeded)
    await conn.execute("INSERT INTO effects VALUES ($1, $2)", env.id, event.enrollment_id)


def consumer(pool: asyncpg.Pool, name: str = "inbox", handler: Handler = record) -> EventConsumer:
    return EventConsumer(name, pool, None, [Subscription(events_pb2.PaymentSucceeded, handler)])  # type: ignore[arg-type]


async def old_apply(
    pool: asyncpg.Pool, name: str, handler: Handler, event: Message, env: events.Envelope
) -> bool:
    """EventConsumer._apply as it was: BEGIN, then the inbox row as a parameterised INSERT."""
    async with pool.acquire() as conn, conn.transaction():
        first = await conn.fetchval(
            """INSERT INTO processed_events (consumer, event_id, event_type)
               VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true""",
            name,
            env.id,
            env.type,
        )
        if not first:
            return False
        await handler(conn, event, env)
        return True


async def rows(pool: asyncpg.Pool, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    async with pool.acquire() as conn:
        return [tuple(r) for r in await conn.fetch(sql, *args)]


async def inbox(pool: asyncpg.Pool, name: str) -> list[tuple[Any, ...]]:
    return await rows(
        pool,
        """SELECT event_id, event_type FROM processed_events WHERE consumer = $1
            ORDER BY event_id""",
        name,
    )


async def effects(pool: asyncpg.Pool) -> list[tuple[Any, ...]]:
    return await rows(pool, "SELECT event_id, note FROM effects ORDER BY event_id, note")


async def clean(pool: asyncpg.Pool) -> bool:
    """The pool's connection answers and has no transaction open."""
    async with pool.acquire() as conn:
        return not conn.is_in_transaction() and await conn.fetchval("SELECT 1") == 1


async def test_the_new_path_records_the_same_rows_and_effects_as_the_old(
    one: asyncpg.Pool,
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(3)]
    upper = str(uuid.uuid4()).upper()  # ids the old parameter took: any case, hyphens or not
    bare = uuid.uuid4().hex
    # Each path in a database of its own state: the same deliveries, duplicates included.
    deliveries = [ids[0], ids[1], ids[0], upper, upper.lower(), bare, ids[2], bare]
    outcomes: dict[str, list[bool]] = {}
    for side in ("old", "new"):
        got = []
        for n, event_id in enumerate(deliveries):
            env, event = envelope(event_id), message(f"{side}-{n}")
            if side == "old":
                got.append(await old_apply(one, side, record, event, env))
            else:
                got.append(await consumer(one, side)._apply(record, event, env))
        outcomes[side] = got
        if side == "old":
            old_inbox, old_effects = await inbox(one, "old"), await effects(one)
            async with one.acquire() as conn:
                await conn.execute("DELETE FROM effects")
    assert outcomes["new"] == outcomes["old"] == [True, True, False, True, False, True, True, False]
    assert await inbox(one, "new") == old_inbox
    new_effects = [(i, note.replace("new", "old")) for i, note in await effects(one)]
    assert new_effects == old_effects
    assert len(old_inbox) == 5


async def test_begin_and_the_inbox_row_are_one_round_trip(
    one: asyncpg.Pool, logged: Logged
) -> None:
    env = envelope()
    logged.take()
    assert await consumer(one)._apply(record, message("x"), env) is True
    assert logged.take() == [
        f"BEGIN; {inbox_sql('inbox', env.id, TYPE)}",
        "INSERT INTO effects VALUES ($1, $2)",
        "COMMIT;",
    ]
    # A duplicate: the same round trip says so, and the empty transaction ends.
    assert await consumer(one)._apply(record, message("x"), env) is False
    assert logged.take() == [f"BEGIN; {inbox_sql('inbox', env.id, TYPE)}", "COMMIT;"]
    assert len(await inbox(one, "inbox")) == 1
    assert len(await effects(one)) == 1


async def test_a_raising_handler_leaves_neither_its_effect_nor_the_inbox_row(
    one: asyncpg.Pool,
) -> None:
    async def fails(conn: asyncpg.Connection, event: Message, env: events.Envelope) -> None:
        await record(conn, event, env)
        raise ConnectionError("transient")

    env = envelope()
    with pytest.raises(ConnectionError):
        await consumer(one, handler=fails)._apply(fails, message("x"), env)
    assert await inbox(one, "inbox") == []
    assert await effects(one) == []
    assert await clean(one)
    # Redelivered, it runs and records.
    assert await consumer(one)._apply(record, message("again"), env) is True
    assert [note for _, note in await effects(one)] == ["again"]


async def test_a_handler_failing_in_sql_rolls_back_both(one: asyncpg.Pool) -> None:
    async def bad_sql(conn: asyncpg.Connection, event: Message, env: events.Envelope) -> None:
        await record(conn, event, env)
        await conn.execute("SELECT 1 / 0")

    with pytest.raises(asyncpg.DivisionByZeroError):
        await consumer(one)._apply(bad_sql, message("x"), envelope())
    assert await inbox(one, "inbox") == []
    assert await effects(one) == []
    assert await clean(one)


async def test_a_savepoint_inside_the_handler_still_works(one: asyncpg.Pool) -> None:
    async def nested(conn: asyncpg.Connection, event: Message, env: events.Envelope) -> None:
        await record(conn, event, env)
        try:
            async with conn.transaction():  # a savepoint in the inbox transaction
                await conn.execute("INSERT INTO effects VALUES ($1, 'undone')", env.id)
                raise RuntimeError("inner")
        except RuntimeError:
            pass
        async with conn.transaction():
            await conn.execute("INSERT INTO effects VALUES ($1, 'kept')", env.id)

    env = envelope()
    assert await consumer(one)._apply(nested, message("outer"), env) is True
    assert sorted(note for _, note in await effects(one)) == ["kept", "outer"]
    assert len(await inbox(one, "inbox")) == 1
    assert await clean(one)


async def test_a_handler_cancelled_mid_statement_leaves_a_usable_connection_and_nothing_else(
    one: asyncpg.Pool,
) -> None:
    started = asyncio.Event()

    async def slow(conn: asyncpg.Connection, event: Message, env: events.Envelope) -> None:
        await record(conn, event, env)
        started.set()
        await conn.execute("SELECT pg_sleep(60)")

    env = envelope()
    task = asyncio.create_task(consumer(one)._apply(slow, message("x"), env))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await clean(one)
    assert await inbox(one, "inbox") == []
    assert await effects(one) == []
    assert await consumer(one)._apply(record, message("later"), env) is True


async def test_a_delivery_cancelled_while_its_inbox_row_waits_leaves_a_clean_connection(
    one: asyncpg.Pool, dsn: str
) -> None:
    """Cancelled inside the combined BEGIN and INSERT (blocked on the same key, held by a
    concurrent delivery): the pool's connection comes back clean, the holder's outcome
    decides."""
    env = envelope()
    holder = await asyncpg.connect(dsn)
    try:
        await holder.execute("BEGIN")
        await holder.execute(
            "INSERT INTO processed_events (consumer, event_id, event_type) VALUES ($1, $2, $3)",
            "inbox",
            env.id,
            TYPE,
        )
        holder_pid = holder.get_server_pid()
        task = asyncio.create_task(consumer(one)._apply(record, message("x"), env))

        async def blocked() -> bool:
            waiting = await holder.fetchval(
                """SELECT count(*) FROM pg_stat_activity
                    WHERE $1 = ANY(pg_blocking_pids(pid))""",
                holder_pid,
            )
            return bool(waiting)

        await eventually(blocked)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await holder.execute("ROLLBACK")
    finally:
        await holder.close()
    assert await clean(one)
    assert await inbox(one, "inbox") == []
    assert await consumer(one)._apply(record, message("after"), env) is True
    assert [note for _, note in await effects(one)] == ["after"]


HOSTILE_IDS = [
    "'",
    "x'); DROP TABLE processed_events; --",
    "00000000-0000-0000-0000-00000000000'",
    "00000000-0000-0000-0000-0000000000\\'",
    "00000000-0000-0000-0000-000000000000\x00",
    "00000000-0000-0000-0000-00000000000\x00",
    "\\x00000000-0000-0000-0000-000000000000",
    "{00000000-0000-0000-0000-000000000000}",  # uuid.UUID takes these; the inbox never did
    "urn:uuid:00000000-0000-0000-0000-000000000000",
    " 00000000-0000-0000-0000-000000000000",
    "00000000-0000-0000-0000-000000000000\n",
    "0000_000-0000-0000-0000-000000000000",
    "\u0660" * 8 + "-0000-0000-0000-000000000000",  # Arabic-Indic digits: int() takes them
    "00000000-0000-0000-0000-0000000000000",
    "",
    "not a uuid",
]


@pytest.mark.parametrize("event_id", HOSTILE_IDS)
async def test_a_hostile_event_id_is_a_contract_violation_and_writes_nothing(
    one: asyncpg.Pool, event_id: str
) -> None:
    called = []

    async def handler(conn: asyncpg.Connection, event: Message, env: events.Envelope) -> None:
        called.append(env.id)

    with pytest.raises(ContractViolationError, match="is not a UUID"):
        await consumer(one)._apply(handler, message("x"), envelope(event_id))
    assert called == []
    assert await rows(one, "SELECT count(*) FROM processed_events") == [(0,)]
    assert await clean(one)


@pytest.mark.parametrize("event_type", ["a'b", "upskill.x\\", "t\x00", "a b", "", "ü"])
async def test_a_hostile_event_type_is_a_contract_violation(
    one: asyncpg.Pool, event_type: str
) -> None:
    with pytest.raises(ContractViolationError, match="not a protobuf name"):
        await consumer(one)._apply(record, message("x"), envelope(type_=event_type))
    assert await rows(one, "SELECT count(*) FROM processed_events") == [(0,)]


@pytest.mark.parametrize("name", ["a'b", "a\\b", "a\x00", "a b", "", "enrollment.x"])
async def test_a_consumer_name_that_cannot_be_a_literal_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="consumer name"):
        EventConsumer(name, None, None, [])  # type: ignore[arg-type]


# The one-statement path (OneStatement): the inbox row and the effect as one statement,
# outside an explicit transaction.

_EFFECT_INSERT = (
    f"INSERT INTO effects SELECT $1::uuid, $2::text WHERE {FIRST_DELIVERY} RETURNING true"
)


def inserting(event: Message, env: events.Envelope) -> Effect:
    assert isinstance(event, events_pb2.PaymentSucceeded)
    return Effect(Statement(_EFFECT_INSERT, (env.id, event.enrollment_id)))


class Unknown(ContractViolationError):
    pass


def renaming(event: Message, env: events.Envelope) -> Effect:
    """Renames the effect whose note is the event's enrollment id; one must exist."""
    assert isinstance(event, events_pb2.PaymentSucceeded)
    return Effect(
        Statement(
            f"UPDATE effects SET note = $2 WHERE note = $1 AND {FIRST_DELIVERY} RETURNING true",
            (event.enrollment_id, event.payment_id),
        ),
        missing=Unknown(f"no effect {event.enrollment_id}"),
    )


async def test_one_statement_records_the_same_inbox_row_and_effect_in_one_round_trip(
    one: asyncpg.Pool, logged: Logged
) -> None:
    handler = OneStatement(inserting)
    upper = str(uuid.uuid4()).upper()
    logged.take()
    assert await consumer(one, "new", handler)._apply(handler, message("x"), envelope(upper))
    [statement] = logged.take()  # no BEGIN, no COMMIT: the statement's own transaction
    assert statement.startswith("WITH inbox AS (INSERT INTO processed_events")
    assert await old_apply(one, "old", record, message("x"), envelope(upper))
    old_rows, new_rows = await inbox(one, "old"), await inbox(one, "new")
    assert new_rows == old_rows == [(uuid.UUID(upper), TYPE)]
    assert await effects(one) == [(uuid.UUID(upper), "x")] * 2
    assert await clean(one)


async def test_one_statement_duplicate_delivery_changes_nothing(
    one: asyncpg.Pool, logged: Logged
) -> None:
    handler = OneStatement(inserting)
    env = envelope()
    assert await consumer(one, handler=handler)._apply(handler, message("first"), env) is True
    logged.take()
    assert await consumer(one, handler=handler)._apply(handler, message("again"), env) is False
    assert len(logged.take()) == 1
    assert [note for _, note in await effects(one)] == ["first"]
    assert len(await inbox(one, "inbox")) == 1


async def test_one_statement_concurrent_duplicate_waits_for_the_first_and_follows_its_outcome(
    one: asyncpg.Pool, dsn: str
) -> None:
    """A delivery whose inbox row another delivery holds uncommitted: it waits; the holder
    commits -> a duplicate that writes nothing; the holder rolls back -> it writes."""
    handler = OneStatement(inserting)
    for outcome in ("COMMIT", "ROLLBACK"):
        env = envelope()
        holder = await asyncpg.connect(dsn)
        try:
            await holder.execute("BEGIN")
            await holder.execute(
                "INSERT INTO processed_events (consumer, event_id, event_type) VALUES ($1, $2, $3)",
                "inbox",
                env.id,
                TYPE,
            )
            holder_pid = holder.get_server_pid()
            task = asyncio.create_task(
                consumer(one, handler=handler)._apply(handler, message(outcome), env)
            )

            async def blocked(pid: int = holder_pid, conn: asyncpg.Connection = holder) -> bool:
                return bool(
                    await conn.fetchval(
                        """SELECT count(*) FROM pg_stat_activity
                            WHERE $1 = ANY(pg_blocking_pids(pid))""",
                        pid,
                    )
                )

            await eventually(blocked)
            assert not task.done()
            await holder.execute(outcome)
            assert await task is (outcome == "ROLLBACK")
        finally:
            await holder.close()
    assert [note for _, note in await effects(one)] == ["ROLLBACK"]
    assert await clean(one)


async def test_one_statement_missing_effect_raises_and_leaves_no_inbox_row(
    one: asyncpg.Pool,
) -> None:
    handler = OneStatement(renaming)
    env = envelope()
    event = message("nobody")
    with pytest.raises(Unknown, match="no effect nobody"):
        await consumer(one, handler=handler)._apply(handler, event, env)
    assert await inbox(one, "inbox") == []
    assert await effects(one) == []
    assert await clean(one)
    # Once there is something to rename, the same event (redelivered) does it, once.
    async with one.acquire() as conn:
        await conn.execute("INSERT INTO effects VALUES ($1, 'nobody')", env.id)
    assert await consumer(one, handler=handler)._apply(handler, event, env) is True
    assert await consumer(one, handler=handler)._apply(handler, event, env) is False
    assert [note for _, note in await effects(one)] == [event.payment_id]
    assert len(await inbox(one, "inbox")) == 1


async def test_one_statement_failing_before_commit_leaves_neither_row(one: asyncpg.Pool) -> None:
    def dividing(event: Message, env: events.Envelope) -> Effect:
        return Effect(
            Statement(
                "INSERT INTO effects SELECT $1::uuid, (1 / $2::int)::text"
                f" WHERE {FIRST_DELIVERY} RETURNING true",
                (env.id, 0),
            )
        )

    handler = OneStatement(dividing)
    env = envelope()
    with pytest.raises(asyncpg.DivisionByZeroError):
        await consumer(one, handler=handler)._apply(handler, message("x"), env)
    assert await inbox(one, "inbox") == []
    assert await effects(one) == []
    assert await clean(one)


async def test_one_statement_without_a_missing_check_may_write_nothing(one: asyncpg.Pool) -> None:
    def no_op(event: Message, env: events.Envelope) -> Effect:
        return Effect(
            Statement(
                f"DELETE FROM effects WHERE note = $1 AND {FIRST_DELIVERY} RETURNING true",
                ("none such",),
            )
        )

    handler = OneStatement(no_op)
    assert await consumer(one, handler=handler)._apply(handler, message("x"), envelope()) is True
    assert len(await inbox(one, "inbox")) == 1


async def test_one_statement_called_in_a_transaction_runs_the_effect_there(
    one: asyncpg.Pool,
) -> None:
    """As a plain handler (a wrapper, or the general path): the caller's transaction."""
    inserting_handler, renaming_handler = OneStatement(inserting), OneStatement(renaming)
    env = envelope()
    assert await consumer(one)._apply(inserting_handler.__call__, message("plain"), env) is True
    assert [note for _, note in await effects(one)] == ["plain"]
    with pytest.raises(Unknown):
        await consumer(one)._apply(renaming_handler.__call__, message("absent"), envelope())
    assert len(await inbox(one, "inbox")) == 1
    assert await clean(one)
    async with one.acquire() as conn:
        with pytest.raises(RuntimeError, match="transaction"):
            await inserting_handler(conn, message("x"), envelope())


async def test_an_effect_that_does_not_read_the_inbox_is_refused() -> None:
    unguarded = Effect(Statement("INSERT INTO effects VALUES ($1, 'x') RETURNING true", ("x",)))
    with pytest.raises(ValueError, match="must write only when"):
        OneStatement.sql(unguarded, "SELECT 1", checked=True)


@pytest.mark.parametrize("event_id", HOSTILE_IDS[:6])
async def test_one_statement_hostile_event_id_is_a_contract_violation(
    one: asyncpg.Pool, event_id: str
) -> None:
    handler = OneStatement(inserting)
    with pytest.raises(ContractViolationError, match="is not a UUID"):
        await consumer(one, handler=handler)._apply(handler, message("x"), envelope(event_id))
    assert await rows(one, "SELECT count(*) FROM processed_events") == [(0,)]
    assert await effects(one) == []
