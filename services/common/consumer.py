"""The consumer loop: inbox row and effect in one transaction, ack after commit.

A handler whose whole effect is one statement (OneStatement) runs with its inbox row as
ONE statement outside an explicit transaction: its implicit transaction is the one the
inbox row and the effect commit in, one round trip instead of three. A handler that
decides on a read first (AtOnce) writes its inbox row itself, in such a statement guarded
by what it read, and falls back to the inbox's transaction when that writes nothing.

Transient failures are nak'ed with back-off; a message that can never succeed
(undecodable, a contract violation, or out of deliveries) is copied to
upskill.dlq.<consumer> with the reason and terminated, so it never blocks the next one.

Messages are pulled (_Pull): one pull request for up to PULL_BATCH messages stays open on
the server, which sends each message as soon as it is stored, and is topped up when half of
it has been delivered; no request per message. They are handled concurrently, up to
MAX_IN_FLIGHT per consumer, except that messages about the same entity (the CloudEvents
subject: the enrollment, payment, credential or program id the producer named) are handled
one after the other in stream order. That is the order a single sequential pump gave, where
it mattered: the only order a consumer could rely on, since a retried message is redelivered
behind later ones anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from asyncpg.transaction import Transaction, TransactionState
from google.protobuf.message import Message
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.js import JetStreamContext
from opentelemetry import trace

from services.common import events, jetstream, metrics, outages, startup
from services.common.sql import Statement
from services.common.telemetry import context_from, tracer

log = logging.getLogger(__name__)

Handler = Callable[[asyncpg.Connection, Message, events.Envelope], Awaitable[None]]

MAX_DELIVER = 8
ACK_WAIT_SECONDS = 30.0
# What a consumer asks the server for (_Pull): up to PULL_BATCH messages not yet delivered
# (topped up once half of them have come; also the most it holds beyond what it handles),
# on requests that expire after PULL_EXPIRES_SECONDS and, while idle, hear from the server
# every PULL_HEARTBEAT_SECONDS. A request the server no longer holds (NATS restarted, the
# connection dropped) is replaced after a reconnect or two missed heartbeats, checked every
# PULL_CHECK_SECONDS.
PULL_BATCH = 16
PULL_EXPIRES_SECONDS = 30.0
PULL_HEARTBEAT_SECONDS = 5.0
PULL_CHECK_SECONDS = 2.0
# On a graceful stop, how long the inbox may take to hand back what it holds.
STOP_GRACE_SECONDS = 2.0
# Messages being handled at once by one consumer (each holds a pool connection while it
# runs: keep it below the service's pool size, which the API shares).
MAX_IN_FLIGHT = 8
# How long a consumer whose handler hit an outage gives its database to answer before it
# concludes the database is what is down.
DATABASE_CHECK_SECONDS = 2.0
# Semconv has no well-known value for NATS; this is the one its instrumentations use.
MESSAGING_SYSTEM = "nats"
PROCESS = "process"


class ContractViolationError(Exception):
    """The event decoded but breaks the contract (missing ids, impossible values): never retry."""


# The inbox row travels with BEGIN as literals (see _InboxTransaction), so each value is
# checked against a charset with no quote, backslash or anything else a literal could
# escape from: a consumer is a NATS durable name, an event type a protobuf full name.
_CONSUMER_NAME = re.compile(r"[A-Za-z0-9_-]+")
_EVENT_TYPE = re.compile(r"[A-Za-z0-9_.]+")
# What the inbox's uuid parameter took before (asyncpg's encoder): 32 hex digits, hyphens
# anywhere, 32-36 characters. events.parse lets more through (braces, "urn:uuid:", blanks),
# which could never be recorded: a contract violation, not a retry.
_EVENT_ID = re.compile(r"[0-9A-Fa-f-]{32,36}")
INBOX_SQL = (
    "INSERT INTO processed_events (consumer, event_id, event_type)"
    " VALUES ('{consumer}', '{event_id}', '{event_type}') ON CONFLICT DO NOTHING"
)
_INSERTED = "INSERT 0 1"


def inbox_sql(consumer: str, event_id: str, event_type: str) -> str:
    """The inbox row's INSERT with its values as literals; ContractViolationError for a
    value outside its charset (ValueError for a bad consumer name: a programming error).
    The event id is written in its canonical form (the same uuid value)."""
    consumer, event_id, event_type = inbox_values(consumer, event_id, event_type)
    return INBOX_SQL.format(consumer=consumer, event_id=event_id, event_type=event_type)


def inbox_values(consumer: str, event_id: str, event_type: str) -> tuple[str, str, str]:
    """The inbox row's values, checked as inbox_sql checks them (the event id canonical):
    both paths refuse the same deliveries, whether the values go as literals or not."""
    if not _CONSUMER_NAME.fullmatch(consumer):
        raise ValueError(f"consumer name {consumer!r} must match {_CONSUMER_NAME.pattern}")
    if not _EVENT_TYPE.fullmatch(event_type):
        raise ContractViolationError(f"event type {event_type!r} is not a protobuf name")
    try:
        if not _EVENT_ID.fullmatch(event_id):
            raise ValueError
        canonical = str(uuid.UUID(event_id))
    except ValueError:
        raise ContractViolationError(f"event id {event_id!r} is not a UUID") from None
    return consumer, canonical, event_type


# The one-statement path (OneStatement). An effect's SQL writes only when this holds: the
# CTE `inbox` has a row, i.e. this delivery inserted the inbox row (a duplicate's insert
# returns none, so its effect changes nothing).
FIRST_DELIVERY = "EXISTS (SELECT 1 FROM inbox)"
# The SQLSTATE of consumed_effect_missing() (common migration 0420).
EFFECT_MISSING = "UXE01"


@dataclass(frozen=True)
class Effect:
    """A consumed event's whole effect as one statement: `statement` is an INSERT, UPDATE or
    DELETE ending in RETURNING (a row back: it wrote) whose SQL writes only on the first
    delivery (it reads FIRST_DELIVERY), and stages no event (events go through the unit of
    work). `missing`: raised, with nothing written and no inbox row, when the statement
    wrote nothing on a first delivery; None when writing nothing is an outcome like any."""

    statement: Statement
    missing: Exception | None = None


class OneStatement:
    """A handler whose effect is one statement, built from the event alone (`effect`).

    The consumer runs it with the inbox row as one statement outside an explicit
    transaction, `WITH inbox AS (INSERT INTO processed_events ... ON CONFLICT DO NOTHING
    RETURNING 1), effect AS (...)`: one implicit transaction, so both commit or neither. A
    duplicate (delivered again, or concurrently: its insert waits for the first one's
    outcome) inserts no inbox row, and the effect, guarded by FIRST_DELIVERY, writes nothing.
    The message is acked only after the statement returned, i.e. committed; an error rolls
    both back and is handled as a raising handler's (retry, back-off, dead letter).

    Called as a plain Handler (by a handler wrapping it, or in a test's transaction) it runs
    the same effect in the caller's transaction, which holds the inbox row already."""

    def __init__(self, effect: Callable[[Message, events.Envelope], Effect]) -> None:
        self.effect = effect
        self.__name__ = getattr(effect, "__name__", type(self).__name__)

    @staticmethod
    def sql(effect: Effect, inbox: str, *, checked: bool) -> str:
        """The effect's statement with `inbox` as the CTE of that name: one row when this
        delivery is the first. Answers `first` and `wrote`; when `checked` and
        `effect.missing` is set, fails with EFFECT_MISSING for a first delivery that wrote
        nothing, so that the statement's own transaction rolls back the inbox row too."""
        body = effect.statement.sql
        if FIRST_DELIVERY not in body:
            raise ValueError(f"a one-statement effect must write only when {FIRST_DELIVERY}")
        check = (
            ", CASE WHEN f.first AND NOT f.wrote THEN consumed_effect_missing() END AS refused"
            if checked and effect.missing is not None
            else ""
        )
        return f"""WITH inbox AS ({inbox}),
     effect AS ({body})
SELECT f.first, f.wrote{check}
  FROM (SELECT {FIRST_DELIVERY} AS first, EXISTS (SELECT 1 FROM effect) AS wrote) f"""

    async def __call__(
        self, conn: asyncpg.Connection, event: Message, envelope: events.Envelope
    ) -> None:
        if not conn.is_in_transaction():
            raise RuntimeError(
                "a one-statement handler called directly needs the inbox's transaction"
            )
        effect = self.effect(event, envelope)
        # Unchecked: a failing statement would abort the caller's transaction, which it
        # may still use (seat_pack_events' routing does): the caller raising rolls back.
        sql = self.sql(effect, "SELECT 1", checked=False)
        row = await conn.fetchrow(sql, *effect.statement.args)
        assert row is not None
        if not row["wrote"] and effect.missing is not None:
            raise effect.missing

    async def run(
        self,
        pool: asyncpg.Pool,
        inbox: tuple[str, str, str],
        event: Message,
        envelope: events.Envelope,
    ) -> bool:
        """The inbox row (`inbox`: inbox_values) and the effect, one statement on its own;
        False for a duplicate."""
        effect = self.effect(event, envelope)
        n = len(effect.statement.args)
        sql = self.sql(effect, Inbox.insert_sql(n + 1), checked=True)
        async with pool.acquire() as conn:
            try:
                row = await conn.fetchrow(sql, *effect.statement.args, *inbox)
            except asyncpg.PostgresError as exc:
                if effect.missing is not None and exc.sqlstate == EFFECT_MISSING:
                    raise effect.missing from None
                raise
        assert row is not None
        return bool(row["first"])


@dataclass(frozen=True)
class Inbox:
    """A delivery's inbox row (its values checked: inbox_values), for a handler that writes
    it itself (AtOnce): the values, and the SQL that reads and inserts the row, with them
    as parameters numbered from `first`."""

    consumer: str
    event_id: str
    event_type: str

    @property
    def key(self) -> tuple[str, str]:
        """seen_sql's parameters."""
        return self.consumer, self.event_id

    @property
    def row(self) -> tuple[str, str, str]:
        """insert_sql's parameters."""
        return self.consumer, self.event_id, self.event_type

    @staticmethod
    def seen_sql(first: int) -> str:
        """Whether the row is there, committed (a boolean expression): the event was
        handled, its effect committed with the row."""
        return (
            "EXISTS (SELECT FROM processed_events"
            f" WHERE consumer = ${first}::text AND event_id = ${first + 1}::uuid)"
        )

    @staticmethod
    def insert_sql(first: int, *, source: str | None = None) -> str:
        """The row's INSERT, ON CONFLICT DO NOTHING RETURNING 1: a row back when this
        delivery is the first (a concurrent one's insert waits for the first one's
        outcome). With `source` (a FROM item: a CTE the write is conditional on), once per
        row of it; without, once."""
        values = f"${first}::text, ${first + 1}::uuid, ${first + 2}::text"
        rows = f"VALUES ({values})" if source is None else f"SELECT {values} FROM {source}"
        return (
            "INSERT INTO processed_events (consumer, event_id, event_type)"
            f" {rows} ON CONFLICT DO NOTHING RETURNING 1"
        )


Attempt = Callable[[asyncpg.Connection, Inbox, Message, events.Envelope], Awaitable[bool | None]]


class AtOnce:
    """A handler that tries first to write its inbox row itself, with its whole effect, in
    one statement outside a transaction (`attempt`, after reads of its own without a lock),
    and otherwise is an ordinary handler (`locked`), run in the inbox's transaction.

    `attempt(conn, inbox, event, envelope)` answers
    - True: its statement inserted the inbox row and wrote the effect; the statement's own
      implicit transaction committed both together;
    - False: the inbox row was there already, committed (a duplicate): nothing written;
    - None: nothing written (not a case it decides, or its guard failed: the state it
      decided on changed, a concurrent delivery holds the inbox row). The consumer then
      runs `locked` in the inbox's transaction, as any handler, and that outcome stands.
    Whatever it raises is handled as a raising handler's (retry, back-off, dead letter);
    its one write being a single statement, nothing of it is left behind.

    Called as a plain Handler (by a handler wrapping it, or in a test's transaction) it
    runs `locked`."""

    def __init__(self, attempt: Attempt, locked: Handler) -> None:
        self.attempt = attempt
        self.locked = locked
        self.__name__ = getattr(locked, "__name__", type(self).__name__)

    async def __call__(
        self, conn: asyncpg.Connection, event: Message, envelope: events.Envelope
    ) -> None:
        await self.locked(conn, event, envelope)


class _InboxTransaction(Transaction):
    """asyncpg's transaction, begun by one simple-protocol query that also inserts the inbox
    row: `BEGIN; INSERT ... ON CONFLICT DO NOTHING`, one round trip instead of two. Its
    command status says whether the row is new (`inserted`). Everything else is asyncpg's:
    COMMIT or ROLLBACK on leaving the block (a cancellation rolls back), savepoints for a
    nested conn.transaction(), and the pool's ROLLBACK of a connection released with the
    transaction still open (a failed or cancelled start)."""

    def __init__(self, connection: asyncpg.Connection, sql: str) -> None:
        super().__init__(connection, None, False, False)
        self._inbox_sql = sql
        self.inserted = False

    async def start(self) -> None:
        # Transaction.start, with our query for its BEGIN.
        self._check_conn_validity("start")
        con = self._connection
        if con._top_xact is not None or con.is_in_transaction():
            raise asyncpg.InterfaceError("the inbox transaction must be the top-level one")
        con._top_xact = self
        try:
            status = await con.execute(f"BEGIN; {self._inbox_sql}")
        except BaseException:
            self._state = TransactionState.FAILED
            raise
        self._state = TransactionState.STARTED
        self.inserted = status == _INSERTED


# A pull request's answers that are not messages come as status messages (no reply
# subject): 100 a heartbeat while it is idle; 408 it expired, 409 it ended otherwise
# (with how many of its messages it did not deliver, when it says).
HEARTBEAT = "100"
EXPIRED = "408"
PENDING_MESSAGES = "Nats-Pending-Messages"


class _Pull:
    """A durable pull consumer's deliveries to an inbox of our own, kept flowing by pull
    requests (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<durable>`, JetStream's own, which
    nats-py's fetch sends too): the open requests ask for up to PULL_BATCH messages, the
    server sends each message to the inbox as soon as it is stored, and another request is
    sent once half of what was asked for has come. nats-py's fetch sent a request per pull
    and waited for its answer: a request per message when they trickle in.

    `asked` is how many messages the open requests may still deliver, as far as we know:
    less each delivery, less what an ended request says it did not deliver (all of it when
    it does not say). It is reset to none after a reconnect (the server forgets the requests
    of a connection that dropped) and when the server stayed silent for two heartbeats. An
    error in it costs a request too many (at most PULL_BATCH more messages in hand) or a
    pause until the next check, never a message: what is not delivered stays in the stream,
    and what is delivered is handled or, unacknowledged, delivered again after ack_wait."""

    def __init__(self, nc: Client, stream: str, durable: str) -> None:
        self._nc = nc
        self._subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = nc.new_inbox()
        self._reconnects = nc.stats["reconnects"]
        self.asked = 0
        self.refused = False  # the server refused or ended a request: wait for check()
        self.heard = time.monotonic()
        self.sub: NatsSubscription | None = None
        self._emptied = asyncio.Event()  # set when the inbox holds nothing more

    async def start(self, on_message: Callable[[Msg], Awaitable[None]]) -> None:
        self.sub = await self._nc.subscribe(self._inbox, cb=on_message)

    async def stop(self, grace_seconds: float = 0.0) -> None:
        """Unsubscribe; with a grace, once what the inbox holds was taken (or the grace is
        over): what it still holds comes back after ack_wait."""
        if self.sub is not None and self.sub.pending_msgs and grace_seconds > 0:
            self._emptied.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._emptied.wait(), grace_seconds)
        if self.sub is not None:
            with contextlib.suppress(Exception):
                await self.sub.unsubscribe()
            self.sub = None

    def delivered(self, msg: Msg) -> bool:
        """Account for what arrived on the inbox; True for a message, False for a status."""
        self.heard = time.monotonic()
        if self.sub is not None and not self.sub.pending_msgs:
            self._emptied.set()
        if msg.reply:
            self.asked = max(0, self.asked - 1)
            return True
        headers = msg.headers or {}
        status = headers.get("Status", "")
        if status == HEARTBEAT:
            return False
        try:
            self.asked = max(0, self.asked - int(headers[PENDING_MESSAGES]))
        except (KeyError, ValueError):
            self.asked = 0
        if status != EXPIRED:
            # Refused or ended by the server (consumer deleted, leader changed, a limit):
            # ask again at the next check, not at once and again and again.
            self.refused = True
            log.warning(
                "pull %s ended: %s %s", self._subject, status, headers.get("Description", "")
            )
        return False

    def check(self) -> None:
        """Forget requests the server no longer holds: after a reconnect, or when it has
        not been heard from for two heartbeats while requests were open."""
        self.refused = False
        reconnects = self._nc.stats["reconnects"]
        silent = time.monotonic() - self.heard > 2 * PULL_HEARTBEAT_SECONDS
        if reconnects != self._reconnects or (self.asked and silent):
            self._reconnects = reconnects
            self.asked = 0
            self.heard = time.monotonic()

    async def top_up(self) -> None:
        """Ask for more once fewer than half of PULL_BATCH are to come or in hand."""
        held = self.sub.pending_msgs if self.sub is not None else 0
        want = PULL_BATCH - self.asked - held
        if want < PULL_BATCH // 2 or self.refused or not self._nc.is_connected:
            return
        request = {
            "batch": want,
            "expires": int(PULL_EXPIRES_SECONDS * 1e9),
            "idle_heartbeat": int(PULL_HEARTBEAT_SECONDS * 1e9),
        }
        self.asked += want  # before the publish: a concurrent top-up sees it asked
        try:
            await self._nc.publish(self._subject, json.dumps(request).encode(), reply=self._inbox)
        except BaseException:
            self.asked -= want
            raise


def _failed(span: trace.Span, exc: Exception) -> None:
    span.record_exception(exc)
    span.set_attribute("error.type", type(exc).__qualname__)
    span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:200]))


def backoff_seconds(delivered: int) -> float:
    return float(min(30, 2 ** max(0, delivered - 1)) * 0.5)


@dataclass(frozen=True)
class Subscription:
    event_type: type[Message]
    handler: Handler


class EventConsumer:
    def __init__(
        self,
        name: str,
        pool: asyncpg.Pool,
        js: JetStreamContext,
        subscriptions: list[Subscription],
        *,
        max_deliver: int = MAX_DELIVER,
        stream_replicas: int = 1,
    ) -> None:
        inbox_sql(name, str(uuid.UUID(int=0)), "x")  # a name we can write as a literal
        self.name = name
        # Used only if a stream is missing (created before its producer): NATS_STREAM_REPLICAS.
        self._stream_replicas = stream_replicas
        self._pool = pool
        self._js = js
        self._handlers = {s.event_type.DESCRIPTOR.full_name: s.handler for s in subscriptions}
        self._by_stream: dict[str, list[str]] = {}
        for s in subscriptions:
            stream = events.stream_for(events.service_of(s.event_type))
            self._by_stream.setdefault(stream, []).append(events.subject_for(s.event_type))
        self._max_deliver = max_deliver
        self._tracer = tracer(__name__)
        self._pulls: list[_Pull] = []
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        # The last task handling each entity: the next message about it waits for it.
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # Graceful stop (SIGTERM): no new pulls; the message in hand is settled first.
        self._stopping = False
        self._stop = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()

    def stop_pulling(self) -> None:
        """Take no more messages; what is being handled is finished (see idle())."""
        self._stopping = True
        self._stop.set()

    async def idle(self) -> None:
        """Until no message is being handled (after stop_pulling(): until drained)."""
        await self._idle.wait()

    async def setup(self) -> list[str]:
        """The streams, their consumer, and the NATS connection's reconnect count; the
        streams this consumer pulls from."""
        await jetstream.ensure_dlq_stream(self._js, replicas=self._stream_replicas)
        streams = []
        for stream, subjects in sorted(self._by_stream.items()):
            await jetstream.ensure_stream(self._js, stream.lower(), replicas=self._stream_replicas)
            await jetstream.ensure_consumer(
                self._js,
                stream=stream,
                durable=self.name,
                subjects=subjects,
                # The server must keep redelivering past our own limit, or a message could
                # stop arriving before we dead-letter it.
                max_deliver=-1,
                ack_wait_seconds=ACK_WAIT_SECONDS,
            )
            streams.append(stream)
        return streams

    async def close(self) -> None:
        """Stop pulling (after run() was cancelled); the durable consumer stays on the server."""
        for pull in self._pulls:
            await pull.stop()
        self._pulls = []

    async def run(self) -> None:
        # NATS may be away right now (it restarts): wait for it rather than die.
        streams = await startup.wait_for(self.setup, f"NATS (consumer {self.name})")
        async with asyncio.TaskGroup() as group:
            for stream in streams:
                group.create_task(self._pump(stream))

    async def _pump(self, stream: str) -> None:
        # The JetStream context's connection: nats-py keeps it as `_nc` and has no public
        # accessor; the pull requests are plain publishes on it.
        nc: Client = self._js._nc
        pull = _Pull(nc, stream, self.name)
        self._pulls.append(pull)

        async def on_message(msg: Msg) -> None:
            # nats-py calls this for one inbox message after the other, in their order.
            if pull.delivered(msg):
                if self._stopping:
                    # Going away: hand it back now (another replica takes it), not after
                    # ack_wait.
                    with contextlib.suppress(Exception):
                        await msg.nak()
                    return
                await self._in_flight.acquire()
                self._dispatch(msg)
            # After a delivery, and after a request ended (a status): ask for more now if
            # fewer than half are to come, not at the next check.
            await top_up()

        async def top_up() -> None:
            if self._stopping:
                return
            try:
                await pull.top_up()
            except Exception as exc:  # NATS reconnecting: the next check asks again
                log.warning("consumer %s: pull failed: %s", self.name, exc)

        try:
            await pull.start(on_message)
            while not self._stopping:
                pull.check()
                await top_up()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), PULL_CHECK_SECONDS)
            # Stopping gracefully: what arrives now is handed back (on_message), what is in
            # hand is finished (idle() waits for it too).
            await pull.stop(grace_seconds=STOP_GRACE_SECONDS)
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        finally:
            # Cancelled (shutting down): unsettled messages come back after ack_wait. Wait
            # for the handlers to unwind, so their pool connections are back before the
            # pool closes.
            await pull.stop()
            handlers = list(self._tasks)
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

    def _dispatch(self, msg: Msg) -> None:
        """Handle `msg` in a task of its own, after the one before it about the same entity."""
        key = ordering_key(msg)
        before = self._tails.get(key)
        task = asyncio.create_task(self._settle(msg, before))
        self._tasks.add(task)
        self._idle.clear()
        self._tails[key] = task

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            if self._tails.get(key) is t:
                del self._tails[key]
            if not self._tasks:
                self._idle.set()

        task.add_done_callback(done)

    async def _settle(self, msg: Msg, before: asyncio.Task[None] | None) -> None:
        try:
            if before is not None:
                await asyncio.wait([before])  # its outcome is its own; only the order matters
            await self.handle(msg)
        except Exception:
            # E.g. NATS went away between the effect and the ack/dead letter: the
            # message stays unacked and comes back after ack_wait; keep pulling.
            log.exception("consumer %s: could not settle %s", self.name, msg.subject)
        finally:
            self._in_flight.release()

    async def handle(self, msg: Msg) -> None:
        delivered = msg.metadata.num_delivered
        try:
            envelope, event = events.parse(msg.headers, msg.data)
        except events.UndecodableEventError as exc:
            await self._dead_letter(msg, f"undecodable: {exc}")
            return
        handler = self._handlers.get(envelope.type)
        if handler is None:
            await self._dead_letter(msg, f"no handler for {envelope.type}")
            return
        if delivered > self._max_deliver:
            await self._dead_letter(msg, f"gave up after {delivered - 1} deliveries")
            return
        # OTel messaging semantic conventions: a "process" span per delivery, named
        # "{operation} {destination}".
        with self._tracer.start_as_current_span(
            f"{PROCESS} {msg.subject}",
            context=context_from(envelope.trace_headers),
            kind=trace.SpanKind.CONSUMER,
            attributes={
                "messaging.system": MESSAGING_SYSTEM,
                "messaging.operation.name": PROCESS,
                "messaging.operation.type": PROCESS,
                "messaging.destination.name": msg.subject,
                "messaging.consumer.group.name": self.name,
                "messaging.message.id": envelope.id,
                # Ours: semconv has no system-neutral delivery count.
                "upskill.message.delivery_count": delivered,
            },
            # Failures are recorded below, where we know which kind they are.
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                first = await self._apply(handler, event, envelope)
            except ContractViolationError as exc:
                _failed(span, exc)
                await self._dead_letter(msg, f"contract violation: {exc}")
                return
            except Exception as exc:
                _failed(span, exc)
                if outages.is_outage(exc) and not await self._database_reachable():
                    # Our database is away: not the message's fault, so never a step
                    # towards the dead letter queue; retry it once the database answers.
                    log.warning(
                        "consumer %s: %s %s waits for the database: %s",
                        self.name,
                        envelope.type,
                        envelope.id,
                        outages.describe(exc),
                    )
                    with contextlib.suppress(Exception):
                        await msg.nak(delay=backoff_seconds(1))
                    await startup.wait_for(self._database_answers, "PostgreSQL (consumer)")
                    return
                if delivered >= self._max_deliver:
                    await self._dead_letter(msg, f"failed {delivered} times, last: {exc!r}")
                    return
                log.warning(
                    "consumer %s: %s %s failed (delivery %d), will retry: %r",
                    self.name,
                    envelope.type,
                    envelope.id,
                    delivered,
                    exc,
                )
                await msg.nak(delay=backoff_seconds(delivered))
                self._count(envelope.type, "retry")
                return
        await msg.ack()
        self._count(envelope.type, "handled" if first else "duplicate")

    async def _database_answers(self) -> None:
        await self._pool.fetchval("SELECT 1")

    async def _database_reachable(self) -> bool:
        try:
            async with asyncio.timeout(DATABASE_CHECK_SECONDS):
                await self._database_answers()
        except Exception:
            return False
        return True

    def _count(self, event_type: str, outcome: str) -> None:
        metrics.events_consumed.add(
            1, {"consumer": self.name, "type": event_type, "outcome": outcome}
        )

    async def _apply(self, handler: Handler, event: Message, envelope: events.Envelope) -> bool:
        """Run the handler in the inbox row's transaction; False if it ran before.

        BEGIN and the inbox row are one round trip (_InboxTransaction); a OneStatement's
        effect and the inbox row are one statement, without BEGIN or COMMIT; an AtOnce
        handler's attempt writes both itself, or nothing and the transaction follows."""
        if isinstance(handler, OneStatement):
            values = inbox_values(self.name, envelope.id, envelope.type)
            first = await handler.run(self._pool, values, event, envelope)
            if not first:
                log.info("consumer %s: %s already handled; skipping", self.name, envelope.id)
            return first
        sql = inbox_sql(self.name, envelope.id, envelope.type)
        async with self._pool.acquire() as conn:
            if isinstance(handler, AtOnce):
                inbox = Inbox(*inbox_values(self.name, envelope.id, envelope.type))
                done = await handler.attempt(conn, inbox, event, envelope)
                if done is not None:
                    if not done:
                        log.info(
                            "consumer %s: %s already handled; skipping", self.name, envelope.id
                        )
                    return done
            # The connection itself, not the pool's proxy: the transaction is asyncpg's.
            transaction = _InboxTransaction(conn.transaction()._connection, sql)
            async with transaction:
                if not transaction.inserted:
                    log.info("consumer %s: %s already handled; skipping", self.name, envelope.id)
                    return False
                await handler(conn, event, envelope)
                return True

    async def _dead_letter(self, msg: Msg, reason: str) -> None:
        log.error("consumer %s: dead-lettering %s: %s", self.name, msg.subject, reason)
        headers = dict(msg.headers or {})
        original_id = headers.pop("Nats-Msg-Id", "") or f"seq-{msg.metadata.sequence.stream}"
        headers.update(
            {
                "upskill-dlq-reason": reason[:1000],
                "upskill-dlq-consumer": self.name,
                "upskill-dlq-subject": msg.subject,
                "upskill-dlq-stream-seq": str(msg.metadata.sequence.stream),
                # One dead letter per consumer and message, however often we get here.
                "Nats-Msg-Id": f"dlq-{self.name}-{original_id}",
            }
        )
        await self._js.publish(f"upskill.dlq.{self.name}", msg.data, headers=headers)
        await msg.term()
        metrics.events_dead_lettered.add(1, {"consumer": self.name})


def ordering_key(msg: Msg) -> str:
    """The entity a message is about (its CloudEvents subject); messages that name none
    (or cannot be decoded) share the key "", so they keep stream order among themselves."""
    headers = msg.headers or {}
    return headers.get("ce-subject", "")
