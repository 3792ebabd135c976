"""asyncpg pool and per-service SQL migrations applied under an advisory lock."""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

import asyncpg

from services.common.wakeup import LocalWakes, WakingConnection

log = logging.getLogger(__name__)

# Any fixed key works; replicas of one service share a database, so they share the lock.
_MIGRATION_LOCK = 0x5550_534B_494C_4C


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Released connections skip asyncpg's default reset (`RESET ALL`, `UNLISTEN *`, ... :
    one more round trip on every release, a tenth of a service's work per request). Our
    pooled connections change no session state; asyncpg still rolls back a transaction
    left open and drops listeners before this runs."""


async def create_pool(
    dsn: str, *, min_size: int = 1, max_size: int = 10, wakes: LocalWakes | None = None
) -> asyncpg.Pool:
    """A service's pool. With `wakes`, its sessions send no NOTIFY for the rows they stage:
    this process wakes its own workers after their commit instead (services/common/wakeup.py),
    and the release does that instead of _keep_session's nothing."""
    if wakes is None:
        return await _pool(dsn, min_size, max_size, reset=_keep_session)
    return await _pool(
        dsn,
        min_size,
        max_size,
        connection_class=WakingConnection,
        init=wakes.adopt,
        reset=wakes.released,
    )


async def _pool(dsn: str, min_size: int, max_size: int, **hooks: Any) -> asyncpg.Pool:
    """Every pool of ours: asyncpg's, with the command timeout and the given hooks."""
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, command_timeout=30, **hooks
    )
    assert pool is not None
    return pool


# The outbox relay's and the webhook delivery worker's pool (create_relay_pool): the relay
# uses one connection at a time (claim, publish, mark); the delivery worker claims on one
# while the POSTs that end record their outcome on the others.
RELAY_POOL_SIZE = 3


async def _commit_without_waiting_for_the_flush(conn: asyncpg.Connection) -> None:
    """The relay pool's `init`, on every new connection (a reconnection after PostgreSQL
    restarted included). A SET rather than a startup parameter, as for LocalWakes.adopt: a
    pooler in front of PostgreSQL refuses startup parameters it does not know. It lasts the
    session: _keep_session runs no `RESET ALL`.

    Also generic plans, always: the relay's fast-path mark (`seq = ANY($1)`, a row or a few)
    got a custom plan on every call (PostgreSQL keeps planning for the values when the
    generic plan's estimate, made for an array of unknown length, looks dearer), 0.1 ms of
    planning per event; every statement on this pool is a short index lookup by design."""
    await conn.execute("SET synchronous_commit = off; SET plan_cache_mode = force_generic_plan")


async def create_relay_pool(dsn: str, *, max_size: int = RELAY_POOL_SIZE) -> asyncpg.Pool:
    """The pool of this process's outbox relay (services/common/relay.py) and webhook
    delivery worker (services/payments/delivery.py), apart from the service's pool so that
    only their bookkeeping commits with synchronous_commit off: a commit returns without
    waiting for its WAL flush, which is otherwise on the critical path of every event hop.

    Such a commit is visible at once, like any other, and can only be lost in a crash of
    PostgreSQL itself, together with everything after it in the WAL (a durable commit later
    flushes it too): every statement run on this pool says in a comment why losing it is
    harmless (a lease, a published mark, an attempt count). Business transactions and the
    consumers' inbox transactions (NATS is acked after their commit) stay on the service's
    pool, synchronous. The relay's rows are staged by the service's pool, which wakes it
    (services/common/wakeup.py); this pool stages nothing, so it has no wake-ups to pay."""
    return await _pool(
        dsn, 1, max_size, init=_commit_without_waiting_for_the_flush, reset=_keep_session
    )


def migration_files(package: str) -> list[tuple[str, str]]:
    """(version, sql) for every *.sql in `<package>.migrations`, in name order."""
    folder = resources.files(f"{package}.migrations")
    files = sorted(
        (entry.name, entry.read_text("utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )
    prefix = package.rsplit(".", 1)[-1]
    return [(f"{prefix}/{name}", sql) for name, sql in files]


async def migrate(conn: asyncpg.Connection, *packages: str) -> list[str]:
    """Apply the migrations of each package not yet applied; returns what was applied.

    The advisory lock makes concurrent start-ups of N replicas apply each file once.
    """
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version text PRIMARY KEY,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        for package in packages:
            for version, sql in migration_files(package):
                if version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute(
                        "INSERT INTO schema_migrations (version) VALUES ($1)", version
                    )
                log.info("applied migration %s", version)
                applied.append(version)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied
