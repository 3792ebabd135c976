"""`python -m benchmarks.waits`: what PostgreSQL's backends wait on while purchases run.

Starts a stack, warms it up, then runs N purchases by C buyers while it samples
pg_stat_activity every few milliseconds: for each active client backend, its database, what
it waits on (a heavyweight lock and which kind, a WAL write or flush, nothing: on CPU) and
its statement. Prints, per (database, wait, statement), the mean number of backends found
there: a lock that serialises purchases shows up as backends queueing on it, however little
CPU it costs.

    python -m benchmarks.waits --buyers 32 --purchases 300

Issue 12's round 7 found its three serialisation points with it (benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sys
import tempfile
from pathlib import Path

import asyncpg

from benchmarks.__main__ import Market, run_level
from services.devstack.stack import Stack, StackOptions

SAMPLE_SECONDS = 0.005
# Every active client backend but the sampler's own; for a lock wait, what kind of lock
# (object:1262 is the database-wide NOTIFY queue, transactionid a row another holds).
SAMPLE_SQL = """
    SELECT a.datname AS db, coalesce(a.wait_event_type, 'CPU') AS kind,
           coalesce(a.wait_event, '') AS event,
           coalesce((SELECT string_agg(DISTINCT l.locktype
                                        || coalesce(':' || l.classid::text, ''), ',')
                       FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted), '') AS lock,
           left(regexp_replace(a.query, '\\s+', ' ', 'g'), 80) AS query
      FROM pg_stat_activity a
     WHERE a.state = 'active' AND a.pid <> pg_backend_pid()
       AND a.backend_type = 'client backend'"""

Key = tuple[str, str, str, str, str]


async def sample(stack: Stack, buyers: int, purchases: int) -> tuple[int, collections.Counter[Key]]:
    found: collections.Counter[Key] = collections.Counter()
    samples = 0
    done = asyncio.Event()
    conn = await asyncpg.connect(stack.database.dsn_for("postgres"))

    async def sampler() -> None:
        nonlocal samples
        while not done.is_set():
            for r in await conn.fetch(SAMPLE_SQL):
                found[(r["db"] or "?", r["kind"], r["event"], r["lock"], r["query"])] += 1
            samples += 1
            await asyncio.sleep(SAMPLE_SECONDS)

    try:
        async with Market.connect(stack.gateway_url) as market:
            program_id = await market.program()
            await run_level(market, program_id, 8, 40)  # warm-up: pools, caches, plans
            task = asyncio.create_task(sampler())
            await run_level(market, program_id, buyers, purchases)
            done.set()
            await task
    finally:
        await conn.close()
    return samples, found


def report(samples: int, found: collections.Counter[Key], top: int) -> None:
    total = sum(found.values()) / max(samples, 1)
    print(f"{samples} samples; {total:.2f} active backends on average, by where they were:")
    print(f"{'mean':>6}  {'database':22} {'wait':8} {'event':16} {'lock':14} statement")
    for (db, kind, event, lock, query), n in found.most_common(top):
        print(f"{n / samples:6.2f}  {db:22} {kind:8} {event:16} {lock:14} {query}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.waits", description=__doc__)
    parser.add_argument("--buyers", type=int, default=32)
    parser.add_argument("--purchases", type=int, default=300)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    options = StackOptions(log_level=os.environ.get("LOG_LEVEL", "WARNING").upper())
    with (
        tempfile.TemporaryDirectory(prefix="upskill-bench-") as tmp,
        Stack(Path(tmp), options=options) as stack,
    ):
        samples, found = asyncio.run(sample(stack, args.buyers, args.purchases))
    report(samples, found, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
