"""`python -m benchmarks.seatcheck`: the cost of a purchase's seat check and insert
(unit_of_work.take_seat, one statement) as its program grows, on an embedded PostgreSQL.

For each size N, a program with N seat-holding enrollments (bulk inserted, then VACUUM
ANALYZE: the index-only count at its best), its first counted check timed on its own, then
P purchases into it one after the other on one connection, with a capacity. Per purchase:
the backend's CPU (utime + stime from /proc), and from pg_stat_statements (preloaded, as
benchmarks.pgcost does; a top-level entry includes its functions' and triggers' work) the
statement's execution time and shared buffers hit + read. Then B concurrent buyers of a
program without a capacity, P purchases in all: per purchase CPU, wall time, and how often
a buyer was seen waiting for a lock (pg_stat_activity, sampled).

Runs with whatever tree it is in, so the same file in two trees compares them:

    python -m benchmarks.seatcheck --sizes 0 10000 100000 --purchases 1000
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg

from benchmarks.pgcost import CLK_TCK, _preload_pg_stat_statements
from services.common import db
from services.devstack import embedded
from services.enrollment import unit_of_work
from services.enrollment.domain import Enrollment, Price

CAPACITY = 2**31 - 1  # as the bench's program: never full


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def _bought(program_id: str, learner: str) -> Enrollment:
    return Enrollment.open(
        learner_id=learner,
        learner_email=f"{learner}@example.com",
        program_id=program_id,
        provider_id=str(uuid.uuid4()),
        price=Price(4900, "USD"),
        snapshot=b"",
    )


async def _populate(conn: asyncpg.Connection, program_id: str, n: int) -> None:
    await conn.execute(
        """INSERT INTO enrollments (id, learner_id, program_id, provider_id, snapshot,
               price_minor, currency, status)
           SELECT gen_random_uuid(), 'bulk-' || i, $1::uuid, gen_random_uuid(), '',
                  4900, 'USD', (ARRAY['PENDING_PAYMENT', 'ACTIVE', 'COMPLETED'])[1 + i % 3]
             FROM generate_series(1, $2::int) AS i""",
        program_id,
        n,
    )
    await conn.execute("VACUUM ANALYZE enrollments")


async def _statement(conn: asyncpg.Connection) -> tuple[int, float, float]:
    """The take-seat statement's calls, mean execution ms and buffers per call."""
    row = await conn.fetchrow(
        """SELECT calls, total_exec_time / calls AS ms,
                  (shared_blks_hit + shared_blks_read)::float / calls AS buffers
             FROM pg_stat_statements
            WHERE query LIKE '%lock_and_count_seats%INSERT INTO enrollments%'
            ORDER BY calls DESC LIMIT 1"""
    )
    return (row["calls"], row["ms"], row["buffers"]) if row else (0, 0.0, 0.0)


async def one_size(
    pool: asyncpg.Pool, n: int, purchases: int, capacity: int | None = CAPACITY
) -> None:
    program_id = str(uuid.uuid4())
    async with pool.acquire() as conn:
        await _populate(conn, program_id, n)
        pid = conn.get_server_pid()
        first = _bought(program_id, "first")
        started = time.perf_counter()
        await unit_of_work.take_seat(conn, first, capacity)
        first_ms = (time.perf_counter() - started) * 1000
        await conn.execute("SELECT pg_stat_statements_reset()")
        cpu = _cpu(pid)
        started = time.perf_counter()
        for i in range(purchases):
            await unit_of_work.take_seat(conn, _bought(program_id, f"buyer-{i}"), capacity)
        wall = time.perf_counter() - started
        cpu = _cpu(pid) - cpu
        calls, ms, buffers = await _statement(conn)
    print(
        f"size {n:>7}{'' if capacity else ' uncapped'}: first check {first_ms:7.2f} ms; per purchase: backend CPU "
        f"{cpu / purchases * 1000:.3f} ms, statement {ms:.3f} ms, {buffers:.1f} buffers "
        f"({calls} calls), wall {wall / purchases * 1000:.3f} ms",
        flush=True,
    )


async def uncapped(pool: asyncpg.Pool, buyers: int, purchases: int) -> None:
    program_id = str(uuid.uuid4())
    async with pool.acquire() as conn:
        await unit_of_work.take_seat(conn, _bought(program_id, "first"), None)
    conns = [await pool.acquire() for _ in range(buyers)]
    pids = [c.get_server_pid() for c in conns]
    waits = samples = 0
    done = False

    async def watch() -> None:
        nonlocal waits, samples
        async with pool.acquire() as watcher:
            while not done:
                waits += await watcher.fetchval(
                    """SELECT count(*) FROM pg_stat_activity
                        WHERE pid = ANY($1::int[]) AND wait_event_type = 'Lock'""",
                    pids,
                )
                samples += 1
                await asyncio.sleep(0.005)

    async def buy(conn: asyncpg.Connection, who: int) -> None:
        for i in range(purchases // buyers):
            await unit_of_work.take_seat(conn, _bought(program_id, f"b{who}-{i}"), None)

    try:
        await conns[0].execute("SELECT pg_stat_statements_reset()")
        cpu = sum(_cpu(p) for p in pids)
        watcher = asyncio.create_task(watch())
        started = time.perf_counter()
        await asyncio.gather(*(buy(c, k) for k, c in enumerate(conns)))
        wall = time.perf_counter() - started
        done = True
        await watcher
        cpu = sum(_cpu(p) for p in pids) - cpu
        calls, ms, buffers = await _statement(conns[0])
    finally:
        for c in conns:
            await pool.release(c)
    total = purchases // buyers * buyers
    print(
        f"uncapped, {buyers} buyers: per purchase backend CPU {cpu / total * 1000:.3f} ms, "
        f"statement {ms:.3f} ms, {buffers:.1f} buffers ({calls} calls), "
        f"wall {wall / total * 1000:.3f} ms; buyers seen waiting for a lock "
        f"{waits} times in {samples} samples",
        flush=True,
    )


async def main(args: argparse.Namespace) -> None:
    _preload_pg_stat_statements()
    with tempfile.TemporaryDirectory(prefix="seatcheck-") as tmp:
        server = embedded.EmbeddedPostgres(Path(tmp), durable=False)
        server.start()
        try:
            dsn = server.create_database("seatcheck")
            pool = await db.create_pool(dsn, max_size=args.buyers + 4)
            async with pool.acquire() as conn:
                await db.migrate(conn, "services.common", "services.enrollment")
                await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            for n in args.sizes:
                await one_size(pool, n, args.purchases)
            await one_size(pool, 0, args.uncapped_purchases, None)
            await uncapped(pool, args.buyers, args.uncapped_purchases)
            await pool.close()
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 10_000, 100_000])
    parser.add_argument("--purchases", type=int, default=1000)
    parser.add_argument("--buyers", type=int, default=8)
    parser.add_argument("--uncapped-purchases", type=int, default=4000)
    asyncio.run(main(parser.parse_args()))
