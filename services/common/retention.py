"""How long events and their bookkeeping are kept, and the pruning that enforces it.

Every retention is a setting with a safe default, checked at start-up against the
guarantee it protects (a bad one fails fast, by name):

- STREAM_MAX_AGE_HOURS (168): how long a stream keeps an event. It bounds how long a
  message can still be (re)delivered, so it must be at least the duplicate window (an
  hour at least: settings are in hours).
- DLQ_MAX_AGE_HOURS (720): how long a dead letter waits for an operator.
- OUTBOX_RETENTION_HOURS (48): published outbox rows are kept longer than the stream's
  duplicate window (five minutes), for debugging a publication, then deleted. Unpublished and
  parked rows are never pruned.
- INBOX_RETENTION_HOURS (336): a consumer's processed_events row must outlive every
  redelivery of its event, so it is kept longer than STREAM_MAX_AGE_HOURS.
- PRUNE_INTERVAL_SECONDS (300): how often each service prunes.

Pruning runs in every replica of every service; each batch deletes rows picked with
FOR UPDATE SKIP LOCKED, so replicas share the work instead of queueing on each other's
locks, and batches keep each transaction short.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field

import asyncpg

from services.common import settings
from services.common.jetstream import (
    DEFAULT_DLQ_MAX_AGE_SECONDS,
    DEFAULT_MAX_AGE_SECONDS,
    DUPLICATE_WINDOW_SECONDS,
)

log = logging.getLogger(__name__)

HOUR = 3600
PRUNE_BATCH = 1000


@dataclass(frozen=True)
class RetentionSettings:
    stream_max_age_hours: int = DEFAULT_MAX_AGE_SECONDS // HOUR
    dlq_max_age_hours: int = DEFAULT_DLQ_MAX_AGE_SECONDS // HOUR
    outbox_retention_hours: int = 48
    inbox_retention_hours: int = 14 * 24
    prune_interval_seconds: int = 300

    @classmethod
    def from_env(cls) -> RetentionSettings:
        d = cls()
        # The window in whole hours, rounded up: a setting of that many hours outlasts it.
        window_hours = -(-DUPLICATE_WINDOW_SECONDS // HOUR)
        stream = settings.integer(
            "STREAM_MAX_AGE_HOURS", d.stream_max_age_hours, minimum=window_hours
        )
        dlq = settings.integer("DLQ_MAX_AGE_HOURS", d.dlq_max_age_hours, minimum=window_hours)
        outbox = settings.integer(
            # Whole hours past the window, so a published row outlives it.
            "OUTBOX_RETENTION_HOURS",
            d.outbox_retention_hours,
            minimum=DUPLICATE_WINDOW_SECONDS // HOUR + 1,
        )
        inbox = settings.integer("INBOX_RETENTION_HOURS", d.inbox_retention_hours, minimum=1)
        if inbox <= stream:
            raise settings.ConfigError(
                f"setting INBOX_RETENTION_HOURS must be greater than STREAM_MAX_AGE_HOURS "
                f"({stream}): an event still in the stream can be redelivered, got {inbox}"
            )
        interval = settings.integer("PRUNE_INTERVAL_SECONDS", d.prune_interval_seconds, minimum=1)
        return cls(stream, dlq, outbox, inbox, interval)

    @property
    def stream_max_age_seconds(self) -> int:
        return self.stream_max_age_hours * HOUR

    @property
    def dlq_max_age_seconds(self) -> int:
        return self.dlq_max_age_hours * HOUR


@dataclass(frozen=True)
class PruneJob:
    """One retention rule: `sql` removes (or blanks) at most $2 rows older than $1 seconds
    and must pick them with FOR UPDATE SKIP LOCKED."""

    name: str
    sql: str
    retention_seconds: float


PRUNE_OUTBOX_SQL = """
    DELETE FROM outbox
     WHERE seq IN (SELECT seq FROM outbox
                    WHERE published_at < now() - make_interval(secs => $1)
                    ORDER BY published_at LIMIT $2
                    FOR UPDATE SKIP LOCKED)"""

PRUNE_INBOX_SQL = """
    DELETE FROM processed_events
     WHERE (consumer, event_id) IN (
           SELECT consumer, event_id FROM processed_events
            WHERE processed_at < now() - make_interval(secs => $1)
            ORDER BY processed_at LIMIT $2
            FOR UPDATE SKIP LOCKED)"""


def common_jobs(retention: RetentionSettings) -> list[PruneJob]:
    """The outbox and inbox every service has."""
    return [
        PruneJob("outbox", PRUNE_OUTBOX_SQL, retention.outbox_retention_hours * HOUR),
        PruneJob("processed_events", PRUNE_INBOX_SQL, retention.inbox_retention_hours * HOUR),
    ]


@dataclass
class Pruner:
    pool: asyncpg.Pool
    interval_seconds: float
    jobs: list[PruneJob] = field(default_factory=list)
    batch: int = PRUNE_BATCH

    def add(self, *jobs: PruneJob) -> None:
        self.jobs.extend(jobs)

    async def prune_once(self) -> dict[str, int]:
        """Apply every rule until nothing is past its retention; rows affected per rule."""
        done: dict[str, int] = {}
        for job in self.jobs:
            total = 0
            while True:
                async with self.pool.acquire() as conn:
                    status = await conn.execute(job.sql, float(job.retention_seconds), self.batch)
                affected = int(status.rsplit(" ", 1)[-1])
                total += affected
                if affected < self.batch:
                    break
            done[job.name] = total
            if total:
                log.info("pruned %d %s row(s) past retention", total, job.name)
        return done

    async def run(self) -> None:
        # Replicas started together should not prune in lock-step.
        await asyncio.sleep(random.uniform(0, self.interval_seconds))
        while True:
            try:
                await self.prune_once()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("pruning failed, retrying at the next interval: %s", exc)
            await asyncio.sleep(self.interval_seconds)
