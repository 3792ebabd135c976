"""The unit of work's one-statement save against PostgreSQL: a save given as a statement
and its outbox rows are one round trip, and write what the save-then-enqueue path wrote.

Per hot path (enrollment activated, payment succeeded, credential issued), the same
aggregate is committed twice, through the old path (the save, then one INSERT per event)
and rolled back, then through the new one: one statement fewer, the same rows."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from asyncpg.connection import LoggedQuery
from opentelemetry import context, trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from upskill.payments.v1 import events_pb2

from services.common import db, relay
from services.common import unit_of_work as shared
from services.common.outbox import enqueue
from services.common.sql import Statement
from services.credentials import pathways as credentials_pathways
from services.credentials import repository as credentials_repository
from services.credentials import unit_of_work as credentials_uow
from services.credentials.domain import CredentialRecord
from services.credentials.issuer import Issuer
from services.credentials.keys import IssuerKey
from services.credentials.messages import event_to_pb as credential_event
from services.enrollment import unit_of_work as enrollment_uow
from services.enrollment.domain import Enrollment, Price
from services.payments import repository as payments_repository
from services.payments import unit_of_work as payments_uow
from services.payments.domain import CheckoutOrder, Money, PaidCheckout, Payment

pytestmark = pytest.mark.asyncio(loop_scope="session")

# What a producer writes into an outbox row, the event id aside (new for every event).
OUTBOX_SQL = """SELECT subject, type, source, ce_subject, payload, traceparent, tracestate
                  FROM outbox ORDER BY seq"""


async def migrated(dsn: str, *packages: str) -> asyncpg.Pool:
    pool = await db.create_pool(dsn)
    async with pool.acquire() as conn:
        await db.migrate(conn, "services.common", *packages)
    return pool


# --- the composition ------------------------------------------------------------------------


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated(fresh_database)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE things (id text PRIMARY KEY, note text NOT NULL)")
    yield pool
    await pool.close()


@dataclass
class Thing:
    id: str
    note: str
    events: list[str] = field(default_factory=list)

    def pull_events(self) -> list[str]:
        events, self.events = self.events, []
        return events


def insert_thing(thing: Thing) -> Statement:
    return Statement(
        "INSERT INTO things (id, note) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING true",
        (thing.id, thing.note),
    )


def message_of(thing: Thing, event: str) -> events_pb2.PaymentSucceeded:
    return events_pb2.PaymentSucceeded(payment_id=thing.id, enrollment_id=event)


async def commit_thing(conn: asyncpg.Connection, thing: Thing) -> bool:
    async with conn.transaction():
        return await shared.commit(
            conn,
            thing,
            statement=insert_thing,
            message_of=message_of,
            source="upskill.test",
            subject=thing.id,
        )


async def staged(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch("SELECT payload FROM outbox ORDER BY seq")
    return [events_pb2.PaymentSucceeded.FromString(r["payload"]).enrollment_id for r in rows]


async def test_zero_one_and_several_events_are_staged_in_order(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await commit_thing(conn, Thing("none", "n")) is True
        assert await staged(conn) == []
        assert await commit_thing(conn, Thing("one", "o", ["e1"])) is True
        assert await commit_thing(conn, Thing("three", "t", ["e2", "e3", "e4"])) is True
        assert await staged(conn) == ["e1", "e2", "e3", "e4"]  # seq order is staging order
        notes = await conn.fetch("SELECT id, note FROM things ORDER BY id")
        assert [tuple(r) for r in notes] == [("none", "n"), ("one", "o"), ("three", "t")]


async def test_a_save_that_writes_nothing_stages_nothing(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await commit_thing(conn, Thing("same", "first", ["kept"])) is True
        assert await commit_thing(conn, Thing("same", "second", ["dropped", "too"])) is False
        assert await commit_thing(conn, Thing("same", "third")) is False
        assert await staged(conn) == ["kept"]
        assert await conn.fetchval("SELECT note FROM things WHERE id = 'same'") == "first"


async def test_the_rows_roll_back_with_the_save(pool: asyncpg.Pool) -> None:
    async def save_then_fail(conn: asyncpg.Connection) -> None:
        async with conn.transaction():
            await shared.commit(
                conn,
                Thing("gone", "g", ["e1"]),
                statement=insert_thing,
                message_of=message_of,
                source="upskill.test",
                subject="gone",
            )
            raise RuntimeError("boom")

    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="boom"):
            await save_then_fail(conn)
        assert await conn.fetchval("SELECT count(*) FROM things") == 0
        assert await staged(conn) == []


async def test_the_insert_wakes_the_relay(pool: asyncpg.Pool, fresh_database: str) -> None:
    listener = await asyncpg.connect(fresh_database)
    try:
        heard: asyncio.Queue[str] = asyncio.Queue()
        await listener.add_listener(relay.CHANNEL, lambda _c, _p, ch, _x: heard.put_nowait(ch))
        async with pool.acquire() as conn:
            await commit_thing(conn, Thing("woken", "w", ["e1"]))
        assert await asyncio.wait_for(heard.get(), 10) == relay.CHANNEL
    finally:
        await listener.close()


async def test_the_rows_and_their_trace_are_those_enqueue_writes(pool: asyncpg.Pool) -> None:
    span = SpanContext(
        trace_id=0x0AF7651916CD43DD8448EB211C80319C,
        span_id=0xB7AD6B7169203331,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    token = context.attach(trace.set_span_in_context(NonRecordingSpan(span)))
    try:
        async with pool.acquire() as conn:
            async with conn.transaction():
                await enqueue(conn, message_of(Thing("t", ""), "e1"), source="s", subject="t")
            enqueued = dict((await conn.fetch(OUTBOX_SQL))[0])
            await conn.execute("DELETE FROM outbox")
            async with conn.transaction():
                await shared.commit(
                    conn,
                    Thing("t", "", ["e1"]),
                    statement=insert_thing,
                    message_of=message_of,
                    source="s",
                    subject="t",
                )
            composed = dict((await conn.fetch(OUTBOX_SQL))[0])
    finally:
        context.detach(token)
    assert composed == enqueued
    assert composed["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


# --- each hot path: the old path against the new ----------------------------------------------


@dataclass
class Outcome:
    result: Any
    statements: list[str]
    state: dict[str, Any]
    outbox: list[dict[str, Any]]


async def two_step(
    conn: asyncpg.Connection,
    aggregate: Any,
    *,
    statement: Callable[[Any], Statement] | None = None,
    save: Callable[[asyncpg.Connection, Any], Awaitable[bool | None]] | None = None,
    **kwargs: Any,
) -> bool:
    """unit_of_work.commit as it was: the save's statement, then one INSERT per event."""
    if statement is not None:
        build = statement

        async def save(conn: asyncpg.Connection, aggregate: Any) -> bool:
            sql = build(aggregate)
            return await conn.fetchrow(sql.sql, *sql.args) is not None

    return await REAL_COMMIT(conn, aggregate, save=save, **kwargs)


REAL_COMMIT = shared.commit


async def committed(
    conn: asyncpg.Connection,
    commit: Callable[[], Awaitable[Any]],
    state_sql: str,
    row_id: str,
    *,
    keep: bool,
) -> Outcome:
    """`commit()` in a transaction (kept, or rolled back), with what it sent and wrote."""
    ran: list[str] = []

    def log(query: LoggedQuery) -> None:
        ran.append(query.query)

    transaction = conn.transaction()
    await transaction.start()
    conn.add_query_logger(log)
    try:
        result = await commit()
    finally:
        conn.remove_query_logger(log)
    state = dict(await conn.fetchrow(state_sql, row_id))
    outbox = [dict(r) for r in await conn.fetch(OUTBOX_SQL)]
    await (transaction.commit() if keep else transaction.rollback())
    return Outcome(result, ran, state, outbox)


async def old_and_new(
    conn: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
    commit: Callable[[Any], Awaitable[Any]],
    aggregate: Any,
    state_sql: str,
    row_id: str,
) -> tuple[Outcome, Outcome]:
    with monkeypatch.context() as patched:
        patched.setattr(shared, "commit", two_step)
        old = await committed(
            conn, lambda: commit(copy.deepcopy(aggregate)), state_sql, row_id, keep=False
        )
    new = await committed(conn, lambda: commit(aggregate), state_sql, row_id, keep=True)
    return old, new


def assert_one_statement_fewer(old: Outcome, new: Outcome, *, staged: list[str]) -> None:
    assert len(old.statements) == 1 + len(staged)  # the save, then each event's INSERT
    assert len(new.statements) == 1
    assert new.statements[0].startswith("WITH saved AS (")
    assert new.result == old.result
    assert new.state == old.state
    assert new.outbox == old.outbox
    assert [row["type"] for row in new.outbox] == staged


async def test_enrollment_activation_is_one_statement_with_its_event(
    fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = await migrated(fresh_database, "services.enrollment")
    try:
        async with pool.acquire() as conn:
            enrollment = Enrollment.open(
                learner_id="alice",
                learner_email="alice@example.com",
                program_id=str(uuid.uuid4()),
                provider_id=str(uuid.uuid4()),
                price=Price(4900, "USD"),
                snapshot=b"",
            )
            payment_id = str(uuid.uuid4())
            enrollment.attach_checkout(payment_id, "http://checkout")
            async with conn.transaction():
                await enrollment_uow.commit(conn, enrollment, new=True)
            await conn.execute("DELETE FROM outbox")
            enrollment.payment_succeeded(payment_id, Price(4900, "USD"))

            old, new = await old_and_new(
                conn,
                monkeypatch,
                lambda e: enrollment_uow.commit(conn, e),
                enrollment,
                "SELECT * FROM enrollments WHERE id = $1",
                enrollment.id,
            )
        assert new.state["status"] == "ACTIVE"
        assert_one_statement_fewer(old, new, staged=["upskill.enrollment.v1.EnrollmentActivated"])
    finally:
        await pool.close()


async def test_an_enrollment_that_is_not_there_is_not_saved(fresh_database: str) -> None:
    pool = await migrated(fresh_database, "services.enrollment")
    try:
        enrollment = Enrollment.open(
            learner_id="alice",
            learner_email="",
            program_id=str(uuid.uuid4()),
            provider_id=str(uuid.uuid4()),
            price=Price(0, "USD"),
            snapshot=b"",
        )
        async with pool.acquire() as conn:
            with pytest.raises(RuntimeError, match="not saved"):
                async with conn.transaction():
                    await enrollment_uow.commit(conn, enrollment)  # never inserted
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 0
    finally:
        await pool.close()


async def test_a_payment_succeeding_is_one_statement_with_its_event(
    fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = await migrated(fresh_database, "services.payments")
    try:
        order = CheckoutOrder(
            enrollment_id=str(uuid.uuid4()),
            learner_id="alice",
            learner_email="alice@example.com",
            provider_id=str(uuid.uuid4()),
            amount=Money(4900, "USD"),
            description="Course",
            success_url="http://127.0.0.1:8080/ok",
            cancel_url="http://127.0.0.1:8080/cancel",
        )
        async with pool.acquire() as conn:
            opened = await payments_repository.open_payment(
                conn, Payment.open(order, gateway="local", ttl_seconds=600), 0
            )
            assert opened is not None
            payment = opened
            payment.succeed(
                PaidCheckout(
                    session_id="cs_1",
                    client_reference_id=order.enrollment_id,
                    metadata_enrollment_id=order.enrollment_id,
                    amount_minor=4900,
                    currency="USD",
                    payment_intent="pi_1",
                ),
                fee_bps=1000,
            )
            old, new = await old_and_new(
                conn,
                monkeypatch,
                lambda p: payments_uow.commit(conn, p),
                payment,
                "SELECT * FROM payments WHERE id = $1",
                payment.id,
            )
        assert new.state["status"] == "SUCCEEDED"
        assert new.state["gateway_payment_id"] == "pi_1"
        assert_one_statement_fewer(old, new, staged=["upskill.payments.v1.PaymentSucceeded"])
    finally:
        await pool.close()


async def test_issuing_a_credential_is_one_statement_with_its_event_and_pathways(
    fresh_database: str,
) -> None:
    pool = await migrated(fresh_database, "services.credentials")
    try:
        issuer = Issuer([IssuerKey.generate()], "http://127.0.0.1:8080")
        async with pool.acquire() as conn:
            await issuer.register_key(conn)
            async with conn.transaction():
                list_id, _, index = await credentials_repository.allocate_in_list(
                    conn, str(uuid.uuid4()), "Acme"
                )

            def record(enrollment_id: str, status_index: int) -> CredentialRecord:
                return CredentialRecord.issue(
                    id=str(uuid.uuid4()),
                    enrollment_id=enrollment_id,
                    program_id=str(uuid.uuid4()),
                    provider_id=str(uuid.uuid4()),
                    learner_id="alice",
                    achievement_name="SQL Basics",
                    jwt="header.payload.signature",
                    kid=issuer.keys[0].kid,
                    status_list_id=list_id,
                    status_index=status_index,
                    issued_at=datetime.now(UTC),
                )

            credential = record(str(uuid.uuid4()), index)
            # An open pathway names the program, so the statement also reads it (and takes
            # the learner's lock); an archived one and another program's are not read.
            naming = str(uuid.uuid4())
            for pathway_id, program_id, is_open in (
                (naming, credential.program_id, True),
                (str(uuid.uuid4()), credential.program_id, False),
                (str(uuid.uuid4()), str(uuid.uuid4()), True),
            ):
                await conn.execute(
                    """INSERT INTO pathways (id, provider_id, provider_name, program_ids,
                           required_count, achievement, open, version)
                       VALUES ($1, $2, 'Acme', ARRAY[$3::uuid, $4::uuid], 2, '{}', $5, 1)""",
                    pathway_id,
                    credential.provider_id,
                    program_id,
                    str(uuid.uuid4()),
                    is_open,
                )

            # asyncpg looks up the uuid[] codec (program_ids) once per connection: not here.
            await conn.fetch("SELECT program_ids FROM pathways")

            async def in_steps(c: CredentialRecord) -> list[str] | None:
                """As it was: the save, its outbox row, then the pathways' statement."""
                saved = await two_step(
                    conn,
                    c,
                    statement=credentials_repository.add,
                    message_of=credential_event,
                    source=credentials_uow.SOURCE,
                    subject=c.id,
                )
                if not saved:
                    return None
                then = credentials_pathways.pathways_naming(c)
                return [str(r["id"]) for r in await conn.fetch(then.select, *then.args)]

            async def in_one(c: CredentialRecord) -> list[str] | None:
                then = credentials_pathways.pathways_naming(c)
                rows = await credentials_uow.commit_issued(conn, c, then)
                return None if rows is None else [str(r["id"]) for r in rows]

            state_sql = "SELECT * FROM credentials WHERE id = $1"
            old = await committed(
                conn,
                lambda: in_steps(copy.deepcopy(credential)),
                state_sql,
                credential.id,
                keep=False,
            )
            new = await committed(
                conn, lambda: in_one(credential), state_sql, credential.id, keep=True
            )
            assert len(old.statements) == 3  # the save, its event's INSERT, the pathways
            assert len(new.statements) == 1
            assert new.statements[0].startswith("WITH saved AS (")
            assert new.result == old.result == [naming]
            assert new.state == old.state
            assert new.outbox == old.outbox
            assert [row["type"] for row in new.outbox] == [
                "upskill.credentials.v1.CredentialIssued"
            ]

            # A unique conflict (the same enrollment, or a taken index) writes and stages
            # nothing, so the issuer can tell it apart and draw again.
            for lost in (record(credential.enrollment_id, index + 1), record("", index)):
                if not lost.enrollment_id:
                    lost.enrollment_id = str(uuid.uuid4())
                async with conn.transaction():
                    assert await in_one(lost) is None
            assert await conn.fetchval("SELECT count(*) FROM credentials") == 1
            assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
    finally:
        await pool.close()
