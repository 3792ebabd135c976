"""`python -m benchmarks.statements`: the SQL statements one purchase costs, per database.

Starts a stack, makes a few warm-up purchases, then turns on PostgreSQL's statement log
(`log_statement = all`, through ALTER SYSTEM and a reload), logs 10 s of the idle stack (the
sweeps, probes and polls every process makes whatever it does), then N purchases one at a
time, and counts what each database ran: per purchase, net of the idle rate, and each
distinct statement (BEGIN and COMMIT included: every one is a round trip).

    python -m benchmarks.statements --purchases 20

A purchase includes the buyer's polls of its enrollment (`SELECT * FROM enrollments WHERE
id = $1`, one per GET): their count follows the pay -> credential latency.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from benchmarks.__main__ import Market, run_level
from services.devstack.stack import Stack, StackOptions

IDLE_SECONDS = 10.0
_LOGGED = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] LOG:  (?:statement|execute [^:]*): (.*)$")
# A uuid literal (the consumers' inbox row goes with BEGIN as literals): counted as one statement.
_UUID_LITERAL = re.compile(r"'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'")


async def _set(dsn: str, setting: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"ALTER SYSTEM SET {setting}")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


def _statements(text: str, databases: dict[int, str]) -> collections.Counter[tuple[str, str]]:
    """(database, statement) -> count, from a stretch of PostgreSQL's log (a statement's
    continuation lines start with a tab)."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("\t") and lines:
            lines[-1] += " " + line
        else:
            lines.append(line)
    found: collections.Counter[tuple[str, str]] = collections.Counter()
    for line in lines:
        if match := _LOGGED.match(line):
            pid, sql = match.groups()
            sql = _UUID_LITERAL.sub("'<uuid>'", " ".join(sql.split()))
            found[(databases.get(int(pid), "?"), sql)] += 1
    return found


@dataclass
class Window:
    """Where the idle stretch and the purchases are in PostgreSQL's log."""

    start: int = 0
    middle: int = 0
    end: int = 0
    seconds: float = 0.0
    databases: dict[int, str] = field(default_factory=dict)


def _size(log: Path) -> int:
    return log.stat().st_size


async def record(stack: Stack, log: Path, purchases: int) -> Window:
    admin = stack.database.dsn_for("postgres")
    window = Window()
    async with Market.connect(stack.gateway_url) as market:
        program_id = await market.program()
        await run_level(market, program_id, 1, 5)  # warm-up: pools, caches, plans
        await _set(admin, "log_statement = 'all'")
        await asyncio.sleep(1)
        window.start = _size(log)
        await asyncio.sleep(IDLE_SECONDS)
        window.middle = _size(log)
        began = time.perf_counter()
        await run_level(market, program_id, 1, purchases)
        window.seconds = time.perf_counter() - began
        window.end = _size(log)
        await _set(admin, "log_statement = 'none'")
    conn = await asyncpg.connect(admin)
    try:
        # The services' pooled connections outlive the run: their pids name their databases.
        rows = await conn.fetch("SELECT pid, datname FROM pg_stat_activity")
        window.databases = {r["pid"]: r["datname"] or "?" for r in rows}
    finally:
        await conn.close()
    return window


def report(log: Path, window: Window, purchases: int) -> None:
    text = log.read_bytes()
    idle = _statements(
        text[window.start : window.middle].decode(errors="replace"), window.databases
    )
    busy = _statements(text[window.middle : window.end].decode(errors="replace"), window.databases)
    print(f"{purchases} purchases, one at a time, in {window.seconds:.1f} s")
    print(f"{'database':22} {'per purchase':>12} {'idle per s':>10} {'net per purchase':>16}")
    for db in sorted({db for db, _ in busy} | {db for db, _ in idle}):
        total = sum(n for (d, _), n in busy.items() if d == db)
        idle_rate = sum(n for (d, _), n in idle.items() if d == db) / IDLE_SECONDS
        net = (total - idle_rate * window.seconds) / purchases
        print(f"{db:22} {total / purchases:12.2f} {idle_rate:10.2f} {net:16.2f}")
    print()
    for (db, sql), n in sorted(busy.items(), key=lambda kv: (kv[0][0], -kv[1])):
        print(f"{db:22} {n / purchases:5.2f}  {sql[:160]}")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.statements", description=__doc__)
    parser.add_argument("--purchases", type=int, default=20)
    args = parser.parse_args()
    options = StackOptions(log_level=os.environ.get("LOG_LEVEL", "WARNING").upper())
    with (
        tempfile.TemporaryDirectory(prefix="upskill-bench-") as tmp,
        Stack(Path(tmp), options=options) as stack,
    ):
        assert stack.postgres is not None  # the embedded one: its log is ours to read
        log = stack.postgres.log_path
        report(log, asyncio.run(record(stack, log, args.purchases)), args.purchases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
