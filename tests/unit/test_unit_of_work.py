"""The unit of work's one-statement save: how the save's SQL and the outbox rows are composed
into one statement, and what is sent for zero, one or several events (a recording
connection; tests/integration/test_unit_of_work.py runs it against PostgreSQL)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from upskill.payments.v1 import events_pb2

from services.common import outbox, unit_of_work
from services.common.sql import Statement

SAVE = Statement("UPDATE t SET a = $2, b = $3 WHERE id = $1 RETURNING true", ("id-1", 2, "b"))


@dataclass
class Recording:
    """A connection that records what it is sent; fetch answers `staged` rows."""

    in_transaction: bool = True
    saved: bool = True
    sent: list[tuple[str, str, tuple[Any, ...]]] = field(default_factory=list)

    def is_in_transaction(self) -> bool:
        return self.in_transaction

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, Any] | None:
        self.sent.append(("fetchrow", sql, args))
        return {"bool": True} if self.saved else None

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        self.sent.append(("fetch", sql, args))
        return [{"seq": 1}] if self.saved else []

    async def execute(self, sql: str, *args: Any) -> str:
        self.sent.append(("execute", sql, args))
        return "INSERT 0 1"


@dataclass
class Aggregate:
    id: str
    events: list[str]

    def pull_events(self) -> list[str]:
        events, self.events = self.events, []
        return events


def message_of(aggregate: Aggregate, event: str) -> events_pb2.PaymentSucceeded:
    return events_pb2.PaymentSucceeded(payment_id=aggregate.id, enrollment_id=event)


def save_statement(aggregate: Aggregate) -> Statement:
    return SAVE


async def commit(conn: Recording, aggregate: Aggregate) -> bool:
    return await unit_of_work.commit(
        conn,
        aggregate,
        statement=save_statement,
        message_of=message_of,
        source="upskill.test",
        subject=aggregate.id,
    )


TYPES = ["uuid", "text", "text", "text", "text", "bytea", "text", "text"]


@pytest.mark.parametrize("count", [1, 3])
def test_the_outbox_parameters_are_numbered_after_the_saves(count: int) -> None:
    sql = outbox.after(SAVE.sql, len(SAVE.args) + 1, count)

    assert sql.startswith(f"WITH saved AS ({SAVE.sql})")
    numbers = sorted(int(n) for n in re.findall(r"\$(\d+)", sql))
    # The save's $1-$3, then the outbox rows', then their lease.
    assert numbers == list(range(1, 4 + 8 * count + 1))
    assert f"statement_timestamp() + make_interval(secs => ${4 + 8 * count}::float8)" in sql
    rows = re.findall(r"\((\d+), ((?:\$\d+::\w+(?:, )?)+)\)", sql)
    assert [int(n) for n, _ in rows] == list(range(1, count + 1))  # ordinals: staging order
    for n, params in rows:
        first = 4 + 8 * (int(n) - 1)
        assert params == ", ".join(f"${first + i}::{t}" for i, t in enumerate(TYPES))
    assert "WHERE EXISTS (SELECT 1 FROM saved)" in sql
    assert "ORDER BY n" in sql  # seq order is staging order


async def test_without_events_the_save_runs_alone() -> None:
    conn = Recording()
    assert await commit(conn, Aggregate("p1", [])) is True
    assert conn.sent == [("fetchrow", SAVE.sql, SAVE.args)]


async def test_a_save_that_wrote_nothing_answers_false() -> None:
    conn = Recording(saved=False)
    assert await commit(conn, Aggregate("p1", [])) is False
    conn = Recording(saved=False)
    assert await commit(conn, Aggregate("p1", ["e1"])) is False
    assert len(conn.sent) == 1  # one statement: its outbox rows were conditional on the save


@pytest.mark.parametrize("events", [["e1"], ["e1", "e2", "e3"]])
async def test_the_save_and_every_event_are_one_statement(events: list[str]) -> None:
    conn = Recording()
    assert await commit(conn, Aggregate("p1", list(events))) is True

    [(method, sql, args)] = conn.sent
    assert method == "fetch"
    assert sql == outbox.after(SAVE.sql, 4, len(events))
    assert args[:3] == SAVE.args
    assert args[-1] is None  # no fast path on this connection: no lease, the drain's rows
    width = len(outbox.COLUMNS)
    rows = [
        dict(zip(outbox.COLUMNS, args[i : i + width], strict=True))
        for i in range(3, len(args) - 1, width)
    ]
    assert len(rows) == len(events)
    assert len({r["id"] for r in rows}) == len(events)
    assert {r["subject"] for r in rows} == {"upskill.payments.payment_succeeded"}
    assert {r["type"] for r in rows} == {"upskill.payments.v1.PaymentSucceeded"}
    assert {(r["source"], r["ce_subject"]) for r in rows} == {("upskill.test", "p1")}
    payloads = [events_pb2.PaymentSucceeded.FromString(r["payload"]) for r in rows]
    assert [p.enrollment_id for p in payloads] == events  # in staging order


async def test_the_rows_are_the_ones_enqueue_writes() -> None:
    one = Recording()
    await outbox.enqueue(one, message_of(Aggregate("p1", []), "e1"), source="s", subject="p1")
    two = Recording()
    await unit_of_work.commit(
        two,
        Aggregate("p1", ["e1"]),
        statement=save_statement,
        message_of=message_of,
        source="s",
        subject="p1",
    )
    [(_, insert_sql, row)] = one.sent
    [(_, _, args)] = two.sent
    assert insert_sql == outbox.INSERT_SQL
    assert list(args[4:]) == list(row)[1:]  # all but the new event id, and the lease


async def test_staging_outside_a_transaction_is_refused() -> None:
    conn = Recording(in_transaction=False)
    with pytest.raises(RuntimeError, match="inside"):
        await commit(conn, Aggregate("p1", ["e1"]))
    assert conn.sent == []


async def test_commit_takes_exactly_one_way_to_save() -> None:
    async def save(conn: Any, aggregate: Aggregate) -> None:
        return None

    ways: list[dict[str, Any]] = [{}, {"save": save, "statement": save_statement}]
    for way in ways:
        with pytest.raises(TypeError, match="one of"):
            await unit_of_work.commit(
                Recording(),
                Aggregate("p1", ["e1"]),
                message_of=message_of,
                source="s",
                subject="p1",
                **way,
            )


# --- a save with more in its statement (commit_then) -------------------------------------------

THEN = outbox.Then(
    ctes="more AS (INSERT INTO m (a, b) SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM saved))",
    select="SELECT x FROM y WHERE z = $1",
    args=("a", "b"),
)


@pytest.mark.parametrize("count", [0, 1, 2])
def test_what_follows_the_save_is_numbered_after_the_outbox_rows(count: int) -> None:
    sql = outbox.then_sql(SAVE.sql, len(SAVE.args) + 1, count, THEN)

    assert sql.startswith(f"WITH saved AS ({SAVE.sql}),\n")
    assert ("staged AS (INSERT INTO outbox" in sql) is (count > 0)
    after = 3 + (8 * count + 1 if count else 0)  # the outbox rows and their lease
    assert f"SELECT ${after + 1}, ${after + 2} WHERE EXISTS (SELECT 1 FROM saved)" in sql
    assert f"SELECT x FROM y WHERE z = ${after + 1}" in sql
    numbers = {int(n) for n in re.findall(r"\$(\d+)", sql)}
    assert numbers == set(range(1, after + 3))


def test_shifting_refuses_dollar_quoting() -> None:
    from services.common.sql import shifted

    assert shifted("SELECT $1, $12", 3) == "SELECT $4, $15"
    with pytest.raises(ValueError, match="dollar quoting"):
        shifted("SELECT $$ $1 $$", 1)


async def test_a_save_with_more_is_one_statement_answering_the_selects_rows() -> None:
    class Rows(Recording):
        async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
            self.sent.append(("fetch", sql, args))
            if not self.saved:
                return [{"saved": False, "then_row": None, "x": None}]
            return [
                {"saved": True, "then_row": True, "x": 1},
                {"saved": True, "then_row": True, "x": 2},
            ]

    async def commit_then(conn: Recording, events: list[str]) -> Any:
        return await unit_of_work.commit_then(
            conn,
            Aggregate("p1", events),
            statement=save_statement,
            then=THEN,
            message_of=message_of,
            source="s",
            subject="p1",
        )

    conn = Rows()
    assert [r["x"] for r in await commit_then(conn, ["e1"])] == [1, 2]
    [(method, sql, args)] = conn.sent
    assert method == "fetch"
    assert sql == outbox.then_sql(SAVE.sql, 4, 1, THEN)
    assert args[:3] == SAVE.args
    assert args[-2:] == THEN.args
    assert len(args) == 3 + 8 + 1 + 2  # the save, the outbox row and its lease, then
    assert await commit_then(Rows(saved=False), ["e1"]) is None
    with pytest.raises(RuntimeError, match="transaction"):
        await commit_then(Rows(in_transaction=False), ["e1"])
