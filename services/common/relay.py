"""Outbox relay: publishes committed outbox rows to JetStream, at least once.

Driven by the shared wake-and-drain loop (services/common/wakeup.py): the commit of a row
wakes it at once (this process's own rows in process, other writers' by NOTIFY), a slow
poll covers a missed wake-up.

Each drain:
1. claims a batch in one short statement: a lease (`claimed_until`) set on the oldest due
   rows, picked with FOR UPDATE SKIP LOCKED, so replicas share the work and a relay that
   dies mid-batch only delays its rows until the lease runs out;
2. publishes the batch with no transaction open: pipelined (`publish_async`, in seq order
   on one connection, so the stream keeps their order) and the acks awaited together;
3. marks the published rows in one statement; a row that failed gets attempts+1, its
   error and a back-off, and after `max_attempts` it is parked (`parked_at`), logged with
   its stack trace and counted (`upskill.outbox.parked`), while the rows behind it go out.

The fast path: the rows this process stages itself are not claimed. The staging statement
leases them to this process (`fast_lease_seconds`, services/common/outbox.py), and once their
transaction has provably committed (services/common/commits.py) the relay
publishes them from the values in hand, as the drain would have (same envelope, in staging
order, pipelined), and marks them published: one statement per event, not two, and no claim
between the commit and the publish. A row whose publish fails is released to the drain
(attempts untouched: the drain counts its own, with its back-off and parking); a row whose
commit is not known is released too; a process that dies holding the lease leaves its rows
to the drain of any replica once the lease lapses. The drain still publishes everything else:
other writers' rows, rows staged while NATS was away, retries, crashes.

Nats-Msg-Id = event id, so a re-send after a crash between publish and mark is dropped by
the stream's duplicate window. While NATS is disconnected nothing is claimed and no
attempt is counted: an outage is not the row's fault.

Its statements run on the relay's own pool (db.create_relay_pool), with synchronous_commit
off: each commit returns without waiting for its WAL flush, which would otherwise sit on
every event hop (a row goes out only after its claim has committed). Such a commit is lost
only if PostgreSQL itself crashes before the flush, together with everything after it in
the WAL, and each statement below says why losing it is harmless. The rows themselves are
staged by business transactions on the service's pool, durably.

Parked rows, for an operator: `upskill outbox list` / `upskill outbox retry` (README,
"Operating"; the SQL is in services/common/outbox.py).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from nats.aio.client import Client
from nats.js import JetStreamContext
from opentelemetry import trace
from opentelemetry.trace import Span, StatusCode

from services.common import metrics, outbox
from services.common.events import Envelope
from services.common.telemetry import context_from, current_traceparent, tracer
from services.common.wakeup import WakeAndDrain

log = logging.getLogger(__name__)

CHANNEL = outbox.CHANNEL


@dataclass(frozen=True)
class RelayOptions:
    batch: int = 100
    # A lease outlives a publish (every ack is awaited at most publish_timeout), so a live
    # relay keeps its rows; a dead relay's rows are taken over when it lapses.
    publish_timeout_seconds: float = 10.0
    lease_seconds: float = 30.0
    max_attempts: int = 10
    # Back-off before attempt n+1: first_retry * 2**(n-1), capped, with jitter.
    first_retry_seconds: float = 1.0
    max_retry_seconds: float = 300.0
    fallback_poll_seconds: float = 5.0
    # While NATS is reconnecting: how often to look again.
    disconnected_pause_seconds: float = 0.5
    # The fast path (None: off): how long the rows this process stages are leased to it,
    # from their staging statement. It must outlive the commit, the publish (whose acks it
    # awaits at most fast_publish_timeout_seconds) and the mark, or another relay claims
    # the rows meanwhile and sends them again (dropped by the stream as duplicates). It is
    # also how long the rows of a process that died before marking them wait for the drain.
    fast_lease_seconds: float | None = 5.0
    fast_publish_timeout_seconds: float = 2.0


_ROW_COLUMNS = """seq, id, subject, type, source, ce_subject, payload, traceparent, tracestate,
                  created_at, attempts"""

# The claim: due rows (unpublished, not parked, lease free) in seq order; the sub-select's
# SKIP LOCKED lets concurrent replicas claim disjoint batches, and the lease keeps them
# disjoint after this statement's transaction has ended. A lease is visible to the other
# replicas as soon as it commits, flushed or not. Lost in a crash: the row is unclaimed and
# is claimed again; should it have been published meanwhile, the re-send is dropped as for
# a lost mark (below).
CLAIM_SQL = f"""
    UPDATE outbox SET claimed_until = now() + make_interval(secs => $2)
     WHERE seq IN (SELECT seq FROM outbox
                    WHERE published_at IS NULL AND parked_at IS NULL
                      AND (claimed_until IS NULL OR claimed_until <= now())
                    ORDER BY seq LIMIT $1
                    FOR UPDATE SKIP LOCKED)
    RETURNING {_ROW_COLUMNS}, claimed_until AS lease"""

# Marks rows sent (the drain's batch, the fast path's rows). Lost in a crash: see below.
MARK_SQL = """
        UPDATE outbox SET published_at = now(), claimed_until = NULL
         WHERE seq = ANY($1::bigint[]) AND published_at IS NULL"""

# Marks the batch sent and, in the same round trip, tells when the earliest other row (leased
# by another replica, or backing off) is due. The SELECT sees the rows as they were when the
# statement began, so the batch itself is left out by seq. Lost in a crash: the rows are
# unpublished again and are published again once PostgreSQL is back, with the same
# Nats-Msg-Id (the event id, events.Envelope.headers), which the stream drops within its
# duplicate window (jetstream.DUPLICATE_WINDOW_SECONDS, five minutes); should one get
# through, each consumer's inbox (kept longer than the stream keeps events) drops it as
# already handled.
MARK_PUBLISHED_SQL = f"""
    WITH marked AS ({MARK_SQL}
        RETURNING seq)
    SELECT min(claimed_until) FROM outbox
     WHERE published_at IS NULL AND parked_at IS NULL AND seq <> ALL($1::bigint[])"""

# One statement for every failed row of a batch: count the attempt, keep the error, and
# either schedule the retry (the lease doubles as "not before") or park the row. Lost in a
# crash: the attempt is not counted, and the row is tried again, sooner; a lost park is
# tried again too, and parked again after its attempts (logged and counted once more).
# Only while the claim's lease ($6, each row's as CLAIM_SQL returned it) still holds the row:
# a relay whose batch outlived its lease (a stalled process, a long wait for a connection)
# finds it claimed again, and must neither reschedule, count against nor park a row that
# another relay is publishing at that moment.
RECORD_FAILURES_SQL = """
    UPDATE outbox o
       SET attempts = o.attempts + 1,
           last_error = f.error,
           parked_at = CASE WHEN o.attempts + 1 >= $3 THEN now() END,
           claimed_until = now() + make_interval(
               secs => least($5, $4 * power(2, o.attempts)) * (0.8 + random() * 0.4))
      FROM unnest($1::bigint[], $2::text[], $6::timestamptz[]) AS f(seq, error, lease)
     WHERE o.seq = f.seq AND o.published_at IS NULL AND o.claimed_until = f.lease
    RETURNING o.seq, o.attempts, o.parked_at IS NOT NULL AS parked"""

# Lost in a crash: the lease stays until it runs out (lease_seconds), then the row is
# claimed again. Only this claim's own lease is released, as above.
RELEASE_SQL = """
    UPDATE outbox o SET claimed_until = NULL
      FROM unnest($1::bigint[], $2::timestamptz[]) AS f(seq, lease)
     WHERE o.seq = f.seq AND o.published_at IS NULL AND o.claimed_until = f.lease"""

# When the earliest leased (backing-off or in-flight elsewhere) row is due again. It writes
# nothing: no commit to lose.
NEXT_DUE_SQL = """
    SELECT min(claimed_until) FROM outbox
     WHERE published_at IS NULL AND parked_at IS NULL"""

MAX_ERROR_CHARS = 2000


class OutboxRelay:
    """Publishes the outbox. `pool` is db.create_relay_pool's in a service (commits with
    synchronous_commit off: every statement here is safe to lose in a crash, see above); run
    nothing on it whose commit must be durable."""

    def __init__(
        self, pool: asyncpg.Pool, nc: Client, dsn: str, options: RelayOptions | None = None
    ) -> None:
        self._pool = pool
        self._nc = nc
        self.options = options or RelayOptions()
        self._js: JetStreamContext = nc.jetstream(timeout=self.options.publish_timeout_seconds)
        self._tracer = tracer(__name__)
        # What the last drain learnt of the next due row while marking its batch (saves the
        # NEXT_DUE round trip), if it could tell.
        self._next_due_known = False
        self._next_due: datetime | None = None
        self.worker = WakeAndDrain(
            "outbox relay",
            dsn,
            CHANNEL,
            self.drain,
            fallback_poll_seconds=self.options.fallback_poll_seconds,
        )
        self.fast = FastPath(self)

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.worker.run())
            if self.options.fast_lease_seconds is not None:
                tasks.create_task(self.fast.run())

    async def drain(self) -> float:
        """One drain for the wake-and-drain loop: seconds it may sleep afterwards."""
        if not self._nc.is_connected:
            return self.options.disconnected_pause_seconds
        self._next_due_known = False
        claimed = await self.drain_once()
        if claimed >= self.options.batch:
            return 0.0  # more rows are waiting
        if self._next_due_known:
            return self._seconds_until(self._next_due)
        return await self._seconds_until_next_due()

    async def drain_once(self) -> int:
        """Claim, publish and record up to one batch; returns how many rows were claimed."""
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(CLAIM_SQL, self.options.batch, self.options.lease_seconds)
        if not rows:
            return 0
        rows = sorted(rows, key=lambda r: r["seq"])
        outcomes = await self._publish_all(rows)
        published = [r["seq"] for r, error in zip(rows, outcomes, strict=True) if error is None]
        failed = [(r, e) for r, e in zip(rows, outcomes, strict=True) if e is not None]
        if published:
            next_due = await self._mark_published(published)
            if not failed:
                self._next_due_known, self._next_due = True, next_due
        if failed:
            await self._record_failures(failed)
        return len(rows)

    async def _publish_all(
        self, rows: list[Any], ack_seconds: float | None = None
    ) -> list[BaseException | None]:
        """Publish every row, pipelined; None for each row the stream acknowledged (each ack
        awaited at most `ack_seconds`, by default publish_timeout_seconds)."""
        spans: list[Span] = []
        pending: list[asyncio.Future[Any] | BaseException] = []
        for row in rows:
            span = self._start_span(row)
            spans.append(span)
            try:
                with trace.use_span(span, end_on_exit=False):
                    # The consumer's span should be a child of this publish span.
                    headers = self._envelope(row).headers() | current_traceparent()
                pending.append(
                    await self._js.publish_async(
                        row["subject"], bytes(row["payload"]), headers=headers
                    )
                )
            except Exception as exc:  # refused before sending (e.g. over max_payload)
                pending.append(exc)
        acks = await asyncio.gather(
            *(self._ack(p, ack_seconds) for p in pending),
            return_exceptions=True,
        )
        outcomes: list[BaseException | None] = []
        for row, span, ack in zip(rows, spans, acks, strict=True):
            if isinstance(ack, BaseException):
                span.record_exception(ack)
                span.set_status(StatusCode.ERROR, _describe(ack))
                outcomes.append(ack)
            else:
                if ack.duplicate:
                    log.info("outbox relay: %s was already published (deduplicated)", row["id"])
                metrics.events_published.add(1, {"subject": row["subject"]})
                lag = (datetime.now(UTC) - row["created_at"]).total_seconds()
                metrics.outbox_lag.record(max(lag, 0.0), {"subject": row["subject"]})
                outcomes.append(None)
            span.end()
        return outcomes

    async def _ack(
        self, pending: asyncio.Future[Any] | BaseException, ack_seconds: float | None
    ) -> Any:
        if isinstance(pending, BaseException):
            raise pending
        # publish_async's future has no deadline of its own; cancelling it on timeout
        # also frees its slot in the client's pending window.
        return await asyncio.wait_for(pending, ack_seconds or self.options.publish_timeout_seconds)

    def _envelope(self, row: Any) -> Envelope:
        return Envelope(
            id=str(row["id"]),
            type=row["type"],
            source=row["source"],
            subject=row["ce_subject"],
            time=row["created_at"].isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            traceparent=row["traceparent"],
            tracestate=row["tracestate"],
        )

    def _start_span(self, row: Any) -> Span:
        envelope = self._envelope(row)
        return self._tracer.start_span(
            f"publish {row['subject']}",
            context=context_from(envelope.trace_headers),
            kind=trace.SpanKind.PRODUCER,
            attributes={
                "messaging.system": "nats",
                "messaging.operation.name": "publish",
                "messaging.operation.type": "send",
                "messaging.destination.name": row["subject"],
                "messaging.message.id": envelope.id,
            },
        )

    async def _mark_published(self, seqs: list[int]) -> datetime | None:
        """Mark `seqs` sent; when the earliest other unpublished row is due (None: none)."""
        async with self._pool.acquire() as conn:
            due: datetime | None = await conn.fetchval(MARK_PUBLISHED_SQL, seqs)
        return due

    async def _record_failures(self, failed: list[tuple[Any, BaseException]]) -> None:
        seqs = [row["seq"] for row, _ in failed]
        leases = [row["lease"] for row, _ in failed]
        if not self._nc.is_connected:
            # The connection dropped under the batch: the broker's fault, not the rows'.
            log.warning("outbox relay: NATS disconnected while publishing %d row(s)", len(seqs))
            async with self._pool.acquire() as conn:
                await conn.execute(RELEASE_SQL, seqs, leases)
            return
        o = self.options
        async with self._pool.acquire() as conn:
            results = await conn.fetch(
                RECORD_FAILURES_SQL,
                seqs,
                [_describe(exc)[:MAX_ERROR_CHARS] for _, exc in failed],
                o.max_attempts,
                o.first_retry_seconds,
                o.max_retry_seconds,
                leases,
            )
        if len(results) < len(failed):
            log.warning(
                "outbox relay: %d failed row(s) left as they are: their claim lapsed and "
                "another relay holds them, or they were published meanwhile",
                len(failed) - len(results),
            )
        by_seq = {row["seq"]: (row, exc) for row, exc in failed}
        for result in results:
            row, exc = by_seq[result["seq"]]
            if result["parked"]:
                metrics.outbox_parked.add(1, {"subject": row["subject"]})
                log.error(
                    "outbox relay: parked event %s (seq %d, %s) after %d attempts",
                    row["id"],
                    row["seq"],
                    row["subject"],
                    result["attempts"],
                    exc_info=(type(exc), exc, exc.__traceback__),
                )
            else:
                log.warning(
                    "outbox relay: publishing event %s (seq %d, %s) failed, attempt %d of %d: %s",
                    row["id"],
                    row["seq"],
                    row["subject"],
                    result["attempts"],
                    o.max_attempts,
                    _describe(exc),
                )

    async def _release(self, rows: list[Any]) -> None:
        """Hand `rows` back to the drain: their lease released, if it is still theirs."""
        async with self._pool.acquire() as conn:
            await conn.execute(RELEASE_SQL, [r["seq"] for r in rows], [r["lease"] for r in rows])

    async def _seconds_until_next_due(self) -> float:
        async with self._pool.acquire() as conn:
            due: datetime | None = await conn.fetchval(NEXT_DUE_SQL)
        return self._seconds_until(due)

    def _seconds_until(self, due: datetime | None) -> float:
        if due is None:
            return self.options.fallback_poll_seconds
        return max(0.01, (due - datetime.now(UTC)).total_seconds())


class FastPath:
    """The relay's fast path (commits.AfterCommit): publishes the rows this process staged as
    soon as their transaction has committed, then marks them published; no claim. One loop
    publishes, in the order the commits were seen (a transaction's rows in staging order,
    pipelined, as the drain does), another marks what was published, many rows a statement
    when they come faster than one statement. What fails goes to the drain."""

    def __init__(self, relay: OutboxRelay) -> None:
        self._relay = relay
        self._running = False
        self._committed: list[Any] = []
        self._unsure: list[Any] = []
        self._to_mark: list[int] = []
        self._work = asyncio.Event()
        self._marks = asyncio.Event()

    def lease_seconds(self) -> float | None:
        if not self._running or not self._relay._nc.is_connected:
            return None  # the drain's: it waits for NATS, and counts no attempt meanwhile
        return self._relay.options.fast_lease_seconds

    def committed(self, items: list[Any]) -> None:
        self._committed.extend(items)
        self._work.set()

    def unsure(self, items: list[Any]) -> None:
        self._unsure.extend(items)
        self._work.set()

    async def run(self) -> None:
        self._running = True
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._publish_loop())
                tasks.create_task(self._mark_loop())
        finally:
            self._running = False

    async def _publish_loop(self) -> None:
        while True:
            await self._work.wait()
            self._work.clear()
            rows, self._committed = self._committed, []
            unsure, self._unsure = self._unsure, []
            try:
                await self._publish(rows, unsure)
            except Exception as exc:  # the database away: the leases lapse, the drain sends
                log.warning("outbox relay: fast path failed, left to the drain: %s", exc)

    async def _publish(self, rows: list[Any], unsure: list[Any]) -> None:
        relay = self._relay
        if rows and not relay._nc.is_connected:
            unsure, rows = unsure + rows, []
        if rows:
            outcomes = await relay._publish_all(rows, relay.options.fast_publish_timeout_seconds)
            published = [r["seq"] for r, e in zip(rows, outcomes, strict=True) if e is None]
            if published:
                self._to_mark.extend(published)
                self._marks.set()
            for row, exc in zip(rows, outcomes, strict=True):
                if exc is not None:
                    log.info(
                        "outbox relay: fast publish of %s failed, left to the drain: %s",
                        row["id"],
                        _describe(exc),
                    )
                    unsure.append(row)
        if unsure:
            # The drain publishes them, with its attempts and back-off, from now.
            await relay._release(unsure)
            relay.worker.wake()

    async def _mark_loop(self) -> None:
        while True:
            await self._marks.wait()
            self._marks.clear()
            seqs, self._to_mark = self._to_mark, []
            try:
                async with self._relay._pool.acquire() as conn:
                    await conn.execute(MARK_SQL, seqs)
            except Exception as exc:  # sent again once the lease lapses: a duplicate, dropped
                log.warning("outbox relay: marking %d row(s) published failed: %s", len(seqs), exc)


def _describe(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(exc)).strip()
    return text or type(exc).__name__
