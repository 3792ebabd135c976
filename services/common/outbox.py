"""Write an event to the outbox in the caller's transaction (never publish directly)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import asyncpg
from google.protobuf.message import Message

from services.common.events import new_envelope, subject_for
from services.common.sql import Statement, shifted
from services.common.telemetry import current_traceparent
from services.common.wakeup import fast_lease, staged

# The relay's wake-up channel (services/common/relay.py): every staging below tells it
# (wakeup.staged), the NOTIFY trigger on the table tells it of every other writer's rows.
CHANNEL = "outbox"

# An outbox row as the producers write it, and each column's type (the rest are defaults).
COLUMNS = ("id", "subject", "type", "source", "ce_subject", "payload", "traceparent", "tracestate")
_TYPES = ("uuid", "text", "text", "text", "text", "bytea", "text", "text")
_NAMES = ", ".join(COLUMNS)


def _lease(n: int) -> str:
    """The staged rows' `claimed_until`, from parameter $n: the lease of this process's
    fast path (wakeup.fast_lease: the relay publishes them itself once their transaction has
    committed, and no other relay claims them meanwhile), or NULL, as before, for the drain.
    statement_timestamp(): the same for every row of one statement, so a statement's rows
    share it and the relay can release them by it (relay.RELEASE_SQL)."""
    return f"statement_timestamp() + make_interval(secs => ${n}::float8)"


# What a staging statement answers per row: what the relay's envelope needs that only the
# database knows (relay._ROW_COLUMNS: seq, created_at), and the lease.
_RETURNING = "RETURNING seq, created_at, claimed_until"
INSERT_SQL = (
    f"INSERT INTO outbox ({_NAMES}, claimed_until)"
    f" VALUES ({', '.join(f'${i}' for i in range(1, 9))}, {_lease(9)}) {_RETURNING}"
)


def row(message: Message, *, source: str, subject: str = "") -> tuple[Any, ...]:
    """The values of `message`'s outbox row, in COLUMNS order (the first is the event id):
    a new CloudEvents envelope, and the current trace context, so the relay continues this
    trace. The one place an outbox row is built."""
    envelope = new_envelope(message, source=source, subject=subject)
    trace = current_traceparent()
    return (
        envelope.id,
        subject_for(message),
        envelope.type,
        envelope.source,
        envelope.subject,
        message.SerializeToString(),
        trace.get("traceparent", ""),
        trace.get("tracestate", ""),
    )


def _require_transaction(conn: asyncpg.Connection) -> None:
    if not conn.is_in_transaction():
        raise RuntimeError("outbox.enqueue must run inside the state change's transaction")


async def enqueue(
    conn: asyncpg.Connection, message: Message, *, source: str, subject: str = ""
) -> str:
    """Stage `message` for publishing; it is sent only if the surrounding transaction commits.

    The current trace context is stored with the row, so the relay continues this trace.
    """
    _require_transaction(conn)
    values = row(message, source=source, subject=subject)
    lease = fast_lease(conn, CHANNEL)
    written = await conn.fetchrow(INSERT_SQL, *values, lease)
    staged(conn, CHANNEL, None if lease is None else _staged([values], [written]))
    return str(values[0])


def _staged(values: Sequence[tuple[Any, ...]], written: Sequence[Any]) -> list[dict[str, Any]]:
    """The rows a staging statement wrote, as the relay's claim returns them (relay.py,
    _ROW_COLUMNS and `lease`), from the values in hand and what the statement answered
    (`written`, in staging order): what the relay publishes after the commit, byte for byte
    what its drain would publish for the same rows."""
    return [
        dict(
            zip(COLUMNS, v, strict=True),
            seq=w["seq"],
            created_at=w["created_at"],
            attempts=0,
            lease=w["claimed_until"],
        )
        for v, w in zip(values, written, strict=True)
    ]


def _parameters(count: int) -> int:
    """How many parameters the outbox rows of a staging statement take: each row's COLUMNS,
    and the lease."""
    return count * len(COLUMNS) + 1 if count else 0


@lru_cache(maxsize=64)
def _staging_insert(first: int, count: int) -> str:
    """The INSERT of `count` outbox rows, given as parameters $first, $first+1, ... (COLUMNS
    order, row by row), in that order (so seq order is staging order), only if the CTE
    `saved` has a row; the lease is the last parameter (_lease). Scalar parameters, not
    arrays to unnest: asyncpg has no built-in codec for uuid[] and bytea[], and would look
    them up on each new connection (three more round trips)."""
    width = len(COLUMNS)
    rows = ",\n        ".join(
        "({}, {})".format(
            n + 1,
            ", ".join(f"${first + n * width + i}::{t}" for i, t in enumerate(_TYPES)),
        )
        for n in range(count)
    )
    return f"""INSERT INTO outbox ({_NAMES}, claimed_until)
SELECT {_NAMES}, {_lease(first + count * width)} FROM (VALUES {rows}) AS e(n, {_NAMES})
 WHERE EXISTS (SELECT 1 FROM saved)
 ORDER BY n
{_RETURNING}"""


@lru_cache(maxsize=256)
def after(save_sql: str, first: int, count: int) -> str:
    """One statement that runs `save_sql` and then inserts `count` outbox rows (parameters
    from $first, after the save's own: _staging_insert), only if the save returned a row:
    `save_sql` must end in RETURNING. Its result has one row per row staged (none: nothing
    was saved). The outbox's NOTIFY trigger is FOR EACH STATEMENT: it fires for this INSERT
    as for enqueue's."""
    return f"WITH saved AS ({save_sql})\n{_staging_insert(first, count)}"


async def enqueue_after(
    conn: asyncpg.Connection,
    save: Statement,
    messages: Sequence[Message],
    *,
    source: str,
    subject: str = "",
    standalone: bool = False,
) -> bool:
    """Run `save` (a statement ending in RETURNING: a row back means it wrote) and stage
    `messages` with it, in one round trip; False, and nothing staged, when the save wrote
    nothing. The rows are those enqueue writes, one per message, in order.

    In the state change's transaction, unless `standalone`: the save is the whole state
    change, and this one statement, run outside a transaction, is atomic by itself."""
    if not messages:
        return await conn.fetchrow(save.sql, *save.args) is not None
    if not standalone:
        _require_transaction(conn)
    rows = [row(m, source=source, subject=subject) for m in messages]
    lease = fast_lease(conn, CHANNEL)
    sql = after(save.sql, len(save.args) + 1, len(messages))
    written = await conn.fetch(sql, *save.args, *(v for r in rows for v in r), lease)
    if not written:
        return False
    # Standalone, outside a transaction: the statement's own transaction has committed by
    # now (commits.CommitFollowing.hold tells which).
    staged(conn, CHANNEL, None if lease is None else _staged(rows, _by_seq(written)))
    return True


def _then_staged(first: Any) -> list[dict[str, Any]]:
    """What then_sql's statement answers of the rows it staged, per row, in seq order."""
    return [
        {"seq": int(seq), "created_at": first["staged_at"], "claimed_until": first["staged_until"]}
        for seq in first["staged_seqs"]
    ]


def _by_seq(written: Sequence[Any]) -> list[Any]:
    """A staging INSERT's rows in seq order, which is staging order (_staging_insert)."""
    return sorted(written, key=lambda w: w["seq"])


@dataclass(frozen=True)
class Then:
    """What a save's statement does after the save and its outbox rows (enqueue_then):
    `ctes`, more CTEs ("name AS (...), ..."; data-modifying ones run whatever the save
    did, so each reads `saved` to write only when the save wrote), and `select`, the query
    whose rows the statement answers. Both see the tables as they were before the
    statement, and number their parameters $1, $2, ... (`args`).

    `first`, CTEs placed before the save, which the save may read (a condition that must
    hold, or a row that must be written, before it writes: services/payments, a webhook's
    claim); numbered with `args` as well."""

    ctes: str
    select: str
    args: tuple[Any, ...] = ()
    first: str = ""


def then_sql(save_sql: str, first: int, count: int, then: Then) -> str:
    """after's statement, the outbox rows' INSERT as the CTE `staged`, followed by `then`
    (its parameters placed after the outbox rows', its `first` before the save). One row
    per row of `then.select`, each with `then_row` true, or a single row without it; every
    row tells `saved`."""
    return _then_sql(save_sql, first, count, then.first, then.ctes, then.select)


# A hot path's statement is the same text on every call (its SQL is the code's, its values
# are parameters): composed once, not renumbered and joined again per call. Bounded all
# the same.
@lru_cache(maxsize=256)
def _then_sql(
    save_sql: str, first: int, count: int, then_first: str, then_ctes: str, then_select: str
) -> str:
    then = Then(first=then_first, ctes=then_ctes, select=then_select)
    by = first - 1 + _parameters(count)
    ctes = ",\n     ".join(
        part
        for part in (
            shifted(then.first, by),
            f"saved AS ({save_sql})",
            f"staged AS ({_staging_insert(first, count)})" if count else "",
            shifted(then.ctes, by),
        )
        if part
    )
    # The staged rows' seqs (text[]: asyncpg decodes text[] without looking the type up,
    # bigint[] it would look up on each new connection), and what they share (_lease).
    staged = (
        """,
       (SELECT array_agg(seq ORDER BY seq)::text[] FROM staged) AS staged_seqs,
       (SELECT min(created_at) FROM staged) AS staged_at,
       (SELECT min(claimed_until) FROM staged) AS staged_until"""
        if count
        else ""
    )
    return f"""WITH {ctes}
SELECT s.*, t.* FROM (SELECT EXISTS (SELECT 1 FROM saved) AS saved{staged}) s
  LEFT JOIN (SELECT true AS then_row, q.* FROM ({shifted(then.select, by)}) q) t ON s.saved"""


async def enqueue_then(
    conn: asyncpg.Connection,
    save: Statement,
    messages: Sequence[Message],
    then: Then,
    *,
    source: str,
    subject: str = "",
    standalone: bool = False,
) -> list[asyncpg.Record] | None:
    """enqueue_after, and `then` in the same round trip: None when the save wrote nothing
    (nothing staged; `then`'s CTEs ran, and wrote what they write without a save), else
    the rows of `then.select`. `standalone` as for enqueue_after: the statement is the
    whole state change, atomic by itself outside a transaction."""
    if not standalone:
        _require_transaction(conn)
    values = [row(m, source=source, subject=subject) for m in messages]
    lease = fast_lease(conn, CHANNEL) if messages else None
    outbox_args = [*(v for r in values for v in r), lease] if messages else []
    sql = then_sql(save.sql, len(save.args) + 1, len(messages), then)
    rows = await conn.fetch(sql, *save.args, *outbox_args, *then.args)
    if not rows[0]["saved"]:
        return None
    if messages:
        staged(conn, CHANNEL, None if lease is None else _staged(values, _then_staged(rows[0])))
    return [r for r in rows if r["then_row"]]


# Operators: rows the relay gave up on (services/common/relay.py), and sending them again.
PARKED_SQL = """
    SELECT seq, id::text AS id, subject, type, attempts, last_error, created_at, parked_at
      FROM outbox WHERE parked_at IS NOT NULL ORDER BY seq"""

# attempts starts again from 0, so the row gets the relay's full retry budget; last_error
# stays until a new attempt overwrites it.
UNPARK_SQL = """
    UPDATE outbox SET parked_at = NULL, attempts = 0, claimed_until = NULL
     WHERE parked_at IS NOT NULL AND ($1::bigint IS NULL OR seq = $1)
    RETURNING seq"""


async def parked(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(await conn.fetch(PARKED_SQL))


async def unpark(conn: asyncpg.Connection, seq: int | None) -> list[int]:
    """Hand parked rows (one, or all with seq=None) back to the relay; their seqs.

    A re-send is safe: the stream deduplicates by event id within its duplicate window,
    and consumers by their inbox after it."""
    async with conn.transaction():
        rows = await conn.fetch(UNPARK_SQL, seq)
        if rows:
            # Wake the running relays, in other processes: a NOTIFY, whatever the session.
            await conn.execute("SELECT pg_notify($1, '')", CHANNEL)
    return sorted(r["seq"] for r in rows)
