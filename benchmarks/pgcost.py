"""`python -m benchmarks.pgcost`: what PostgreSQL does per purchase, ours against the
logic-free pipeline's, by database, statement, table and index.

Starts the stack with pg_stat_statements preloaded (a line appended to the new cluster's
postgresql.conf; the embedded PostgreSQL ships the module), and the pipeline on the same
PostgreSQL and NATS. Then, in turn for each side (R rounds, who goes first swapping), one
level of N purchases by B buyers, and around it:

- the CPU of every backend by its database (utime + stime from /proc, by pid; the
  postmaster's reaped children, autovacuum workers among them, as "other");
- WAL: pg_current_wal_lsn() (everything written, commit records and other databases'
  background work included) and pg_stat_wal (records, full-page images);
- per statement (pg_stat_statements, top level: a function's inner statements are in its
  caller's figures): calls, execution time, shared buffers hit / read / dirtied / written,
  WAL bytes;
- per table of the side's databases: rows inserted, updated (and of those, HOT), deleted,
  with its number of indexes; per index, scans during the level (an index no query used).

    python -m benchmarks.pgcost --buyers 32 --purchases 300 --rounds 2
    python -m benchmarks.pgcost --perf /tmp/pgperf   # and `perf record` each side's backends

With --perf, each level's backends (those open when it starts) are sampled by `perf record`
(cpu-clock at 1 kHz, DWARF call graphs: the embedded PostgreSQL has no frame pointers), one
file per level, for `perf report --children` or `perf script`.

Table and index counters reach PostgreSQL's statistics only when a backend flushes them
(at most every 10 s when idle), so each level waits STATS_FLUSH_SECONDS before reading
them; that wait's idle work is in those counters, not in the CPU or WAL figures.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from benchmarks.__main__ import WARM_UP_PURCHASES, Market, mint_learners, run_level
from benchmarks.pipeline import Pipeline
from services.devstack import embedded
from services.devstack.stack import Stack, StackOptions

STATS_FLUSH_SECONDS = 11.0
CLK_TCK = 100.0  # Linux's USER_HZ

_STATEMENTS = """
SELECT d.datname, s.queryid, s.query, s.calls, s.total_exec_time, s.rows, s.plans,
       s.total_plan_time,
       s.shared_blks_hit, s.shared_blks_read, s.shared_blks_dirtied, s.shared_blks_written,
       s.wal_records, s.wal_fpi, s.wal_bytes::bigint AS wal_bytes
  FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
"""
_TABLES = """
SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del, seq_scan,
       coalesce(idx_scan, 0) AS idx_scan,
       (SELECT count(*) FROM pg_index i WHERE i.indrelid = t.relid) AS indexes
  FROM pg_stat_user_tables t
"""
_INDEXES = "SELECT relname, indexrelname, idx_scan FROM pg_stat_user_indexes"


def _preload_pg_stat_statements() -> None:
    """Every cluster this process initialises preloads pg_stat_statements."""
    original = embedded.EmbeddedPostgres._initdb

    def initdb(self: embedded.EmbeddedPostgres) -> None:
        fresh = not (self.pgdata / "PG_VERSION").exists()
        original(self)
        if fresh:
            with (self.pgdata / "postgresql.conf").open("a") as conf:
                conf.write(
                    "\nshared_preload_libraries = 'pg_stat_statements'\n"
                    "pg_stat_statements.max = 5000\n"
                    "pg_stat_statements.track_planning = on\n"
                )

    embedded.EmbeddedPostgres._initdb = initdb  # type: ignore[method-assign]


def _jiffies(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


@dataclass
class Snapshot:
    cpu: dict[int, tuple[str, float]] = field(default_factory=dict)  # pid -> (who, seconds)
    other_cpu: float = 0.0  # the postmaster, its reaped children included
    lsn: int = 0
    wal: dict[str, int] = field(default_factory=dict)
    statements: dict[tuple[str, int], asyncpg.Record] = field(default_factory=dict)
    tables: dict[tuple[str, str], asyncpg.Record] = field(default_factory=dict)
    indexes: dict[tuple[str, str, str], int] = field(default_factory=dict)


async def _snapshot(admin: str, urls: dict[str, str], postmaster: int, *, stats: bool) -> Snapshot:
    snap = Snapshot()
    conn = await asyncpg.connect(admin)
    try:
        for row in await conn.fetch(
            "SELECT pid, coalesce(datname, backend_type) AS who FROM pg_stat_activity"
        ):
            snap.cpu[row["pid"]] = (row["who"], _jiffies(row["pid"]))
        times = psutil.Process(postmaster).cpu_times()
        snap.other_cpu = times.user + times.system + times.children_user + times.children_system
        snap.lsn = await conn.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn")
        wal = await conn.fetchrow(
            "SELECT wal_records, wal_fpi, wal_bytes::bigint AS wal_bytes FROM pg_stat_wal"
        )
        snap.wal = dict(wal)
        for row in await conn.fetch(_STATEMENTS):
            snap.statements[(row["datname"], row["queryid"])] = row
    finally:
        await conn.close()
    if stats:
        for name, url in urls.items():
            db = await asyncpg.connect(url)
            try:
                for row in await db.fetch(_TABLES):
                    snap.tables[(name, row["relname"])] = row
                for row in await db.fetch(_INDEXES):
                    snap.indexes[(name, row["relname"], row["indexrelname"])] = row["idx_scan"]
            finally:
                await db.close()
    return snap


@dataclass
class Side:
    label: str
    market: Market
    program_id: str
    urls: dict[str, str]  # short name -> DSN
    datnames: dict[str, str]  # datname -> short name


def _perf(side: Side, before: Snapshot, perf_dir: Path | None) -> subprocess.Popen[bytes] | None:
    """`perf record` of the side's backends (those alive now) during its level."""
    if perf_dir is None:
        return None
    pids = [str(pid) for pid, (who, _) in before.cpu.items() if who in side.datnames]
    perf_dir.mkdir(parents=True, exist_ok=True)
    out = perf_dir / f"{side.label}-{time.strftime('%H%M%S')}.data"
    return subprocess.Popen(
        [
            "perf",
            "record",
            "-q",
            "-e",
            "cpu-clock",
            "-F",
            "1000",
            "--call-graph",
            "dwarf,16000",
            "-o",
            str(out),
            "-p",
            ",".join(pids),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _level(
    side: Side,
    admin: str,
    postmaster: int,
    buyers: int,
    purchases: int,
    perf_dir: Path | None = None,
) -> dict[str, Any]:
    learners = await mint_learners(side.market, purchases)
    await asyncio.sleep(STATS_FLUSH_SECONDS)  # the previous level's counters flushed
    before = await _snapshot(admin, side.urls, postmaster, stats=True)
    recorder = _perf(side, before, perf_dir)
    try:
        seconds, _ = await run_level(side.market, side.program_id, buyers, purchases, learners)
    finally:
        if recorder is not None:
            recorder.send_signal(signal.SIGINT)
            recorder.wait()
    after = await _snapshot(admin, side.urls, postmaster, stats=False)
    await asyncio.sleep(STATS_FLUSH_SECONDS)
    counters = await _snapshot(admin, side.urls, postmaster, stats=True)
    return {"seconds": seconds, "before": before, "after": after, "counters": counters}


def _report(side: Side, result: dict[str, Any], purchases: int) -> None:
    before: Snapshot = result["before"]
    after: Snapshot = result["after"]
    counters: Snapshot = result["counters"]
    n = purchases
    print(f"\n=== {side.label}: {n} purchases in {result['seconds']:.1f} s")
    cpu: dict[str, float] = defaultdict(float)  # seconds by database (or backend type)
    new: Counter[str] = Counter()
    for pid, (who, secs) in after.cpu.items():
        if pid in before.cpu:
            cpu[who] += secs - before.cpu[pid][1]
        else:
            new[who] += 1
            cpu[who] += secs
    ended = len(set(before.cpu) - set(after.cpu))
    other = after.other_cpu - before.other_cpu
    total_cpu = sum(cpu.values()) + other
    wal = {k: after.wal[k] - before.wal[k] for k in after.wal}
    print(
        f"PostgreSQL CPU-ms per purchase {total_cpu * 1000 / n:.2f}; postmaster + reaped "
        f"children {other * 1000 / n:.2f}; backends ended during the level {ended}, started "
        + (", ".join(f"{who} {k}" for who, k in sorted(new.items())) or "none")
    )
    print(
        f"WAL per purchase: {(after.lsn - before.lsn) / n:,.0f} bytes (LSN), pg_stat_wal "
        f"{wal['wal_bytes'] / n:,.0f} bytes in {wal['wal_records'] / n:.1f} records, "
        f"{wal['wal_fpi'] / n:.2f} full-page images"
    )
    by_db: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rows = []
    for key, row in after.statements.items():
        datname = key[0]
        if datname not in side.datnames:
            continue
        old = before.statements.get(key)
        delta = {
            k: row[k] - (old[k] if old else 0)
            for k in (
                "calls",
                "total_exec_time",
                "plans",
                "total_plan_time",
                "rows",
                "shared_blks_hit",
                "shared_blks_read",
                "shared_blks_dirtied",
                "shared_blks_written",
                "wal_records",
                "wal_fpi",
                "wal_bytes",
            )
        }
        if delta["calls"] <= 0:
            continue
        db = side.datnames[datname]
        for k, v in delta.items():
            by_db[db][k] += v
        rows.append((db, row["query"], delta))
    print(
        f"{'database':12} {'CPU-ms':>7} {'stmts':>6} {'plans':>6} {'plan-ms':>7} {'exec-ms':>7} {'hit':>6} {'read':>5} "
        f"{'dirtied':>7} {'written':>7} {'WAL B':>7} {'WAL rec':>7}  (per purchase)"
    )
    for db in sorted(set(side.urls)):
        total = by_db[db]
        datname = next(k for k, v in side.datnames.items() if v == db)
        print(
            f"{db:12} {cpu[datname] * 1000 / n:7.2f} {total['calls'] / n:6.2f} {total['plans'] / n:6.2f} "
            f"{total['total_plan_time'] / n:7.3f} "
            f"{total['total_exec_time'] / n:7.3f} {total['shared_blks_hit'] / n:6.1f} "
            f"{total['shared_blks_read'] / n:5.2f} {total['shared_blks_dirtied'] / n:7.2f} "
            f"{total['shared_blks_written'] / n:7.2f} {total['wal_bytes'] / n:7.0f} "
            f"{total['wal_records'] / n:7.1f}"
        )
    others = {who: s for who, s in cpu.items() if who not in side.datnames}
    print(
        "other backends' CPU-ms per purchase: "
        + ", ".join(f"{who} {s * 1000 / n:.2f}" for who, s in sorted(others.items()) if s > 0)
    )
    print(
        "\nstatements (per purchase: calls, plans, plan ms, exec ms, hit, dirtied, WAL bytes, "
        "WAL records)"
    )
    for db, query, stmt in sorted(rows, key=lambda r: (r[0], -r[2]["total_exec_time"])):
        d = stmt
        if d["calls"] / n < 0.05:
            continue
        print(
            f"{db:12} {d['calls'] / n:5.2f} {d['plans'] / n:5.2f} {d['total_plan_time'] / n:6.3f} "
            f"{d['total_exec_time'] / n:6.3f} "
            f"{d['shared_blks_hit'] / n:6.1f} {d['shared_blks_dirtied'] / n:5.2f} "
            f"{d['wal_bytes'] / n:6.0f} {d['wal_records'] / n:5.1f}  {' '.join(query.split())[:150]}"
        )
    print("\ntables written (per purchase: inserted, updated, of them HOT, deleted; indexes)")
    for table, row in sorted(counters.tables.items()):
        old = before.tables.get(table)
        if old is None:
            continue
        ins, upd, hot, dele = (
            row[k] - old[k] for k in ("n_tup_ins", "n_tup_upd", "n_tup_hot_upd", "n_tup_del")
        )
        if ins + upd + dele == 0:
            continue
        print(
            f"{table[0]:12} {table[1]:28} ins {ins / n:5.2f} upd {upd / n:5.2f} hot {hot / n:5.2f} "
            f"del {dele / n:5.2f}  indexes {row['indexes']}"
        )
    print("\nindexes of written tables, scans per purchase during the level")
    written = {
        key
        for key, row in counters.tables.items()
        if key in before.tables
        and any(row[k] != before.tables[key][k] for k in ("n_tup_ins", "n_tup_upd", "n_tup_del"))
    }
    for index, scans in sorted(counters.indexes.items()):
        if (index[0], index[1]) in written:
            used = (scans - before.indexes.get(index, 0)) / n
            print(f"{index[0]:12} {index[1]:28} {index[2]:48} {used:6.2f}")


async def _run(
    stack: Stack,
    pipeline: Pipeline,
    buyers: int,
    purchases: int,
    rounds: int,
    perf_dir: Path | None = None,
) -> None:
    assert stack.postgres is not None
    assert stack.postgres.pid is not None
    admin = stack.database.dsn_for("postgres")
    postmaster = stack.postgres.pid
    ours_urls = dict(stack.database_urls)
    pipe_urls = {name: stack.database.dsn_for(f"pipeline_{name}") for name in SERVICES_PIPELINE}
    async with (
        Market.connect(stack.gateway_url, buyers * 2) as ours_market,
        Market.connect(pipeline.url, buyers * 2) as pipe_market,
    ):
        sides = []
        for label, market, urls in (
            ("ours", ours_market, ours_urls),
            ("pipeline", pipe_market, pipe_urls),
        ):
            program_id = await market.program()
            await run_level(market, program_id, 1, WARM_UP_PURCHASES)
            await run_level(market, program_id, buyers, purchases // 4)  # pools grown
            datnames = {url.rsplit("/", 1)[1].split("?")[0]: name for name, url in urls.items()}
            sides.append(Side(label, market, program_id, urls, datnames))
        for n in range(rounds):
            order = sides if n % 2 == 0 else sides[::-1]
            for side in order:
                started = time.perf_counter()
                result = await _level(side, admin, postmaster, buyers, purchases, perf_dir)
                _report(side, result, purchases)
                print(f"(level and its waits: {time.perf_counter() - started:.0f} s)", flush=True)


SERVICES_PIPELINE = ("catalog", "payments", "enrollment", "credentials")


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pgcost", description=__doc__)
    parser.add_argument("--buyers", type=int, default=32)
    parser.add_argument("--purchases", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--perf", type=Path, help="perf record each level's backends here")
    args = parser.parse_args()
    _preload_pg_stat_statements()
    with (
        tempfile.TemporaryDirectory(prefix="upskill-pgcost-") as tmp,
        Stack(Path(tmp) / "stack", options=StackOptions(log_level="WARNING")) as stack,
        Pipeline(stack.database, stack.nats_url, Path(tmp) / "pipeline-logs") as pipeline,
    ):
        conn_url = stack.database.dsn_for("postgres")

        async def extension() -> None:
            conn = await asyncpg.connect(conn_url)
            try:
                await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            finally:
                await conn.close()

        asyncio.run(extension())
        asyncio.run(_run(stack, pipeline, args.buyers, args.purchases, args.rounds, args.perf))
    return 0


if __name__ == "__main__":
    sys.exit(main())
