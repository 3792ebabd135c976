"""`make bench`: whole purchases through the public HTTP API at 1, 8 and 32 concurrent buyers.

Starts the stack the way `upskill dev` does (embedded PostgreSQL and NATS, the four services
and the gateway as child processes; services.devstack.stack), publishes one paid program
whose credential is issued ON_PAYMENT, then at each level N keeps N buyers busy until
BENCH_PURCHASES purchases are done. One purchase, as a learner would make it:

    POST /api/v1/enrollments -> POST the local checkout page with a test card (pay)
    -> GET the enrollment, polling with back-off from 5 to 50 ms, until it shows its credential

Per level it reports purchases/s (wall time from the first enrollment to the last
credential), pay -> credential latency p50/p95/p99 (from submitting the card to the
credential showing), the CPU time of every stack process (services, gateway, PostgreSQL with
its backends, NATS) per purchase, the peak of their summed RSS, and where events waited:
webhook delivery, outbox (a row that waited more than OUTBOX_STALL_SECONDS points at a missed
NOTIFY) and consume (published -> handled). It runs every level twice, on a stack of one
process per service and then on one of two (issue 12 asks for both), and after the levels
times catalog search at 100,000 programs and soaks the first stack for 10 minutes, sampling
every process's memory: about 15 minutes in all.

    BENCH_PURCHASES=40 BENCH_REPLICAS=1 BENCH_SOAK=0 make bench   # a quick run
    python -m benchmarks --levels 1,8 --purchases 100 --json bench.json
    python -m benchmarks --url http://127.0.0.1:8080   # a running `upskill dev` (no CPU/RSS)
    python -m benchmarks --soak-minutes 2           # a shorter memory soak (default 10 min)
    python -m benchmarks --no-soak --replicas 1     # no soak; one process per service only
    BENCH_SEARCH_PROGRAMS=0 make bench              # without the 100,000-program search
    BENCH_PIPELINE=0 make bench                     # without the logic-free pipeline

With them, on the same PostgreSQL and NATS, the same levels through the logic-free pipeline
of issue 12 (benchmarks/pipeline), each right after ours, and each level's purchases/s as a
ratio to the pipeline's.

A benchmark, not a test: nothing here runs in `make test`, and its figures are targets, not
assertions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import (
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
    nullcontext,
    suppress,
)
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import httpx
import psutil
from yarl import URL

from benchmarks.pipeline import Pipeline
from benchmarks.search import SearchResult
from benchmarks.search import measure as measure_search
from benchmarks.search import print_result as print_search
from benchmarks.search import seed as seed_catalog
from benchmarks.soak import Soak, print_soak, soak
from services.devstack.demo import SUCCEEDING_CARD, demo_program
from services.devstack.stack import GRPC_SERVICES, SERVICES, Stack, StackOptions

DEFAULT_LEVELS = (1, 8, 32)
DEFAULT_PURCHASES = 200
DEFAULT_SEARCH_PROGRAMS = 100_000
DEFAULT_SOAK_MINUTES = 10.0
WARM_UP_PURCHASES = 5
POLL_FIRST_SECONDS = 0.005
POLL_MAX_SECONDS = 0.050
POLL_BACKOFF = 1.5
PURCHASE_DEADLINE_SECONDS = 60.0
OUTBOX_STALL_SECONDS = 4.0  # the relay's fallback poll is 5 s: a wait this long missed NOTIFY
RSS_SAMPLE_SECONDS = 0.1


@dataclass
class Level:
    concurrency: int
    purchases: int
    seconds: float
    pay_to_credential_ms: list[float] = field(repr=False)
    # The other steps of a purchase, as the buyer sees them: "enroll" (POST enrollment) and
    # "pay" (POST the card on the checkout page, until the redirect).
    step_ms: dict[str, list[float]] = field(default_factory=dict, repr=False)
    cpu_seconds: float | None = None
    cpu_by_process: dict[str, float] | None = None
    peak_rss_bytes: int | None = None
    waits: dict[str, Any] | None = None
    # This process (the buyers, and the RSS sampler's thread) during the level.
    driver_cpu_seconds: float | None = None
    # GETs of its enrollment a purchase made, on average, until the credential showed.
    polls_per_purchase: float | None = None

    @property
    def per_second(self) -> float:
        return self.purchases / self.seconds

    @property
    def cpu_ms_per_purchase(self) -> float | None:
        """CPU-ms per purchase over the measured processes (None: not measured)."""
        return None if self.cpu_seconds is None else self.cpu_seconds * 1000 / self.purchases

    def take(self, latencies: list[dict[str, float]]) -> None:
        """Each purchase's step timings (as run_level returns them) as this level's figures."""
        self.pay_to_credential_ms = [t["pay_to_credential"] * 1000 for t in latencies]
        for step in ("enroll", "pay"):
            self.step_ms[step] = [t[step] * 1000 for t in latencies]
        self.polls_per_purchase = round(sum(t["polls"] for t in latencies) / len(latencies), 1)

    def percentile(self, p: float) -> float:
        return _rank(self.pay_to_credential_ms, p)

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        del data["pay_to_credential_ms"], data["step_ms"]
        data |= {
            "step_ms": {
                step: {f"p{p}": round(_rank(values, p), 1) for p in (50, 95, 99)}
                for step, values in self.step_ms.items()
            },
            "purchases_per_second": round(self.per_second, 2),
            "pay_to_credential_ms": {
                f"p{p}": round(self.percentile(p), 1) for p in (50, 95, 99, 100)
            },
            "cpu_ms_per_purchase": (
                None if self.cpu_ms_per_purchase is None else round(self.cpu_ms_per_purchase, 1)
            ),
            "driver_cpu_ms_per_purchase": (
                None
                if self.driver_cpu_seconds is None
                else round(self.driver_cpu_seconds * 1000 / self.purchases, 1)
            ),
            "cpu_ms_per_purchase_by_process": (
                None
                if self.cpu_by_process is None
                else {
                    name: round(cpu * 1000 / self.purchases, 1)
                    for name, cpu in self.cpu_by_process.items()
                }
            ),
        }
        return data


def _rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]  # nearest rank


# --------------------------------------------------------------------------- purchases


class Market:
    """The buyers' HTTP client: one aiohttp session of keep-alive connections.

    aiohttp, not httpx, because the buyers share the machine with the stack they measure:
    httpx (pure-Python HTTP/1.1 parsing) cost the driver about half a core at 32 buyers,
    CPU the stack under test then did not get (benchmarks/README.md, round 4)."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    @classmethod
    @asynccontextmanager
    async def connect(cls, base_url: str, connections: int = 64) -> AsyncIterator[Market]:
        # Idle connections expire before uvicorn's 5 s keep-alive closes them: reusing one
        # the server is closing at that moment fails a purchase with a disconnect.
        connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=2.0)
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(
            connector=connector, timeout=timeout, trust_env=False
        ) as http:
            yield cls(http, base_url)

    async def request_json(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.http.request(method, self.base_url + path, **kwargs) as response:
            if response.status >= 400:
                raise RuntimeError(
                    f"{method} {path}: {response.status} {(await response.text())[:500]}"
                )
            return await response.json()

    async def token(self, **claims: str) -> dict[str, str]:
        body = await self.request_json("POST", "/api/v1/dev/tokens", json=claims)
        return {"authorization": f"Bearer {body['token']}"}

    async def program(self) -> str:
        admin = await self.token(role="admin", sub="bench-admin")
        provider = await self.request_json(
            "POST", "/api/v1/providers", json={"name": "Bench"}, headers=admin
        )
        auth = await self.token(role="provider", sub="bench-provider", provider_id=provider["id"])
        spec = demo_program()
        spec["capacity"] = 2**31 - 1  # seats are not what this measures
        spec["credential"]["issuance"] = "ON_PAYMENT"
        created = await self.request_json("POST", "/api/v1/programs", json=spec, headers=auth)
        program_id = str(created["id"])
        await self.request_json("POST", f"/api/v1/programs/{program_id}/publish", headers=auth)
        return program_id

    async def purchase(self, program_id: str, learner: dict[str, str]) -> dict[str, float]:
        """One whole purchase; seconds of each step: enroll, pay, and from paying (submitting
        the card) to the credential showing."""
        started = time.perf_counter()
        enrollment = await self.request_json(
            "POST", "/api/v1/enrollments", json={"program_id": program_id}, headers=learner
        )
        paid_at = time.perf_counter()
        checkout = URL(enrollment["checkout_url"])
        async with self.http.post(
            checkout,
            data={"card_number": SUCCEEDING_CARD},
            headers={"origin": str(checkout.origin())},  # a form post
            allow_redirects=False,
        ) as paid:
            if paid.status not in (200, 303):
                raise RuntimeError(f"paying failed: {paid.status} {(await paid.text())[:500]}")
            await paid.read()
        steps = {"enroll": paid_at - started, "pay": time.perf_counter() - paid_at}
        url = f"/api/v1/enrollments/{enrollment['id']}"
        wait = POLL_FIRST_SECONDS
        polls = 0
        while True:
            current = await self.request_json("GET", url, headers=learner)
            polls += 1
            if current.get("credential_id"):
                return steps | {
                    "pay_to_credential": time.perf_counter() - paid_at,
                    "polls": float(polls),
                }
            if time.perf_counter() - paid_at > PURCHASE_DEADLINE_SECONDS:
                raise RuntimeError(f"no credential after {PURCHASE_DEADLINE_SECONDS:g} s: {url}")
            await asyncio.sleep(wait)  # the buyer's poll interval, backing off
            wait = min(wait * POLL_BACKOFF, POLL_MAX_SECONDS)


async def mint_learners(market: Market, purchases: int) -> list[dict[str, str]]:
    """A new learner's bearer header per purchase. A token is not part of a purchase: the
    levels mint theirs before the clock starts and before the CPU is counted (counted, a
    dev-token request per purchase added ~1 CPU-ms to ours and next to nothing to the
    pipeline's, whose token route only echoes the subject)."""
    return [
        await market.token(role="learner", sub=f"bench-{uuid.uuid4().hex[:12]}")
        for _ in range(purchases)
    ]


async def run_level(
    market: Market,
    program_id: str,
    concurrency: int,
    purchases: int,
    learners: list[dict[str, str]] | None = None,
) -> tuple[float, list[dict[str, float]]]:
    """`purchases` purchases by `concurrency` buyers at once, by `learners` (minted here when
    not given); (wall seconds, each purchase's step timings)."""
    if learners is None:
        learners = await mint_learners(market, purchases)
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    for learner in learners:
        queue.put_nowait(learner)
    latencies: list[dict[str, float]] = []

    async def buyer() -> None:
        while not queue.empty():
            learner = queue.get_nowait()
            latencies.append(await market.purchase(program_id, learner))

    started = time.perf_counter()
    await asyncio.gather(*(buyer() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


@asynccontextmanager
async def driver_cpu(level: Level) -> AsyncIterator[None]:
    """The CPU the buyers themselves (this process) spend during a level: not the stack's,
    so not in its total, but it shares the machine with it."""
    before = time.process_time()
    try:
        yield
    finally:
        level.driver_cpu_seconds = round(time.process_time() - before, 3)


# --------------------------------------------------------------------------- resources


# A client backend's process title (PostgreSQL's update_process_title): "postgres: [cluster:
# ]user database host(port) activity". Other children (checkpointer, WAL writer, autovacuum,
# I/O workers) serve the whole server.
_BACKEND_TITLE = re.compile(
    r"postgres: (?:[^:\s]+: )?\S+ (?P<database>\S+) (?:\S+\(\d+\)|\[local\])"
)


def backend_database(proc: psutil.Process) -> str | None:
    """The database a PostgreSQL client backend serves (None: not a client backend)."""
    try:
        title = " ".join(proc.cmdline()).strip()
    except psutil.Error:
        return None
    found = _BACKEND_TITLE.match(title)
    return found["database"] if found else None


class StackProcesses:
    """CPU time and memory of every process of a stack, grouped: each service (its process and
    any children), PostgreSQL (postmaster, the server's own processes and the backends of the
    stack's databases) and NATS.

    The logic-free pipeline runs on the same PostgreSQL server (idle while we run, and we
    while it runs): the backends of the other side's databases are left out of each side's
    figures, as are the bench's own connections to other databases. The server's own
    processes (WAL writer, checkpointer, autovacuum) count for both."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def databases(self) -> set[str]:
        """The databases whose backends count as this stack's."""
        return {urlsplit(dsn).path.lstrip("/") for dsn in self.stack.database_urls.values()}

    def roots(self) -> dict[str, psutil.Process]:
        pids: dict[str, int | None] = {name: self.stack.pid(name) for name in SERVICES}
        for name, server in (("postgres", self.stack.postgres), ("nats", self.stack.nats)):
            pids[name] = server.pid if server is not None else None
        found = {}
        for name, pid in pids.items():
            if pid is not None:
                with suppress(psutil.NoSuchProcess):
                    found[name] = psutil.Process(pid)
        return found

    def groups(self) -> dict[str, list[psutil.Process]]:
        every: dict[str, list[psutil.Process]] = {}
        own = self.databases()
        for name, root in self.roots().items():
            with suppress(psutil.NoSuchProcess):
                every[name] = [root, *root.children(recursive=True)]
                if name == "postgres":
                    every[name] = [
                        proc
                        for proc in every[name]
                        if (database := backend_database(proc)) is None or database in own
                    ]
        return every

    def cpu_seconds(self) -> dict[str, dict[int, float]]:
        """CPU so far by group and pid, including children that have exited and been waited
        for (PostgreSQL backends that ended, say)."""
        times: dict[str, dict[int, float]] = {}
        for name, procs in self.groups().items():
            for proc in procs:
                try:
                    t = proc.cpu_times()
                except psutil.NoSuchProcess:
                    continue
                cpu = t.user + t.system + t.children_user + t.children_system
                times.setdefault(name, {})[proc.pid] = cpu
        return times

    def rss_by_group(self) -> dict[str, int]:
        rss: dict[str, int] = {}
        for name, procs in self.groups().items():
            for proc in procs:
                with suppress(psutil.NoSuchProcess):
                    rss[name] = rss.get(name, 0) + proc.memory_info().rss
        return rss

    @contextmanager
    def measure(self, level: Level) -> Iterator[None]:
        before = self.cpu_seconds()
        peak = [sum(self.rss_by_group().values())]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(RSS_SAMPLE_SECONDS):
                peak[0] = max(peak[0], sum(self.rss_by_group().values()))

        sampler = threading.Thread(target=sample, name="rss-sampler", daemon=True)
        sampler.start()
        try:
            yield
        finally:
            done.set()
            sampler.join()
            after = self.cpu_seconds()
            # A process that started during the level (a new backend) counts from zero; one
            # that ended was reaped by its parent, whose children_* times now include it.
            level.cpu_by_process = {
                name: round(
                    sum(after.get(name, {}).values()) - sum(before.get(name, {}).values()), 3
                )
                for name in sorted(set(before) | set(after))
            }
            level.cpu_seconds = sum(level.cpu_by_process.values())
            level.peak_rss_bytes = max(peak[0], sum(self.rss_by_group().values()))


class PipelineProcesses(StackProcesses):
    """The same figures for the logic-free pipeline: its five processes, and the stack's
    PostgreSQL and NATS, which it shares."""

    def __init__(self, stack: Stack, pipeline: Pipeline) -> None:
        super().__init__(stack)
        self.pipeline = pipeline

    def roots(self) -> dict[str, psutil.Process]:
        shared = {k: v for k, v in super().roots().items() if k in ("postgres", "nats")}
        return self.pipeline.roots() | shared

    def databases(self) -> set[str]:
        return {urlsplit(dsn).path.lstrip("/") for dsn in self.pipeline.databases.values()}


class Profiler:
    """py-spy (a dev tool: `pip install py-spy`) on every Python process of the stack while a
    level runs, one flame graph per process and level: --profile DIR."""

    def __init__(self, stack: Stack, directory: Path) -> None:
        self.stack = stack
        self.directory = directory
        self.exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(self.exe).exists():
            raise SystemExit("--profile needs py-spy: pip install py-spy")
        directory.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def record(self, label: str) -> Iterator[None]:
        procs = []
        for name in SERVICES:
            pid = self.stack.pid(name)
            if pid is None:
                continue
            out = self.directory / f"{label}-{name}.txt"
            procs.append(
                subprocess.Popen(
                    [
                        self.exe,
                        "record",
                        "-p",
                        str(pid),
                        "-r",
                        os.environ.get("BENCH_PROFILE_RATE", "50"),
                        *(["--native"] if os.environ.get("BENCH_PROFILE_NATIVE") else []),
                        # Only samples holding the GIL: without it py-spy counts a thread
                        # blocked in epoll_wait (gRPC's poller, uvloop's wait) as busy, which
                        # made idle waiting look like a third of every process (round 9).
                        *([] if os.environ.get("BENCH_PROFILE_ALL") else ["--gil"]),
                        "-f",
                        "raw",
                        "-o",
                        str(out),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        try:
            yield
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
            for proc in procs:
                with suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=30)


def _spread(waits: list[float]) -> dict[str, Any]:
    ordered = sorted(waits)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "p50_ms": round(ordered[max(0, math.ceil(0.50 * len(ordered)) - 1)] * 1000, 1),
        "p99_ms": round(ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
        f"over_{OUTBOX_STALL_SECONDS:g}s": sum(w > OUTBOX_STALL_SECONDS for w in ordered),
    }


async def hop_waits(stack: Stack, since: float) -> dict[str, Any]:
    """Where events waited, for everything since `since` (epoch seconds), from the databases:
    webhook (payments' local provider: queued -> delivered to the gateway), outbox (committed
    -> published to JetStream) and consume (published -> the consumer's inbox row committed,
    so JetStream delivery plus handling)."""
    published: dict[str, float] = {}
    outbox: list[float] = []
    unpublished = 0
    processed: list[tuple[str, float]] = []
    webhook: list[float] = []
    for name in GRPC_SERVICES:
        conn = await asyncpg.connect(stack.database_urls[name])
        try:
            for row in await conn.fetch(
                """SELECT id::text AS id, EXTRACT(EPOCH FROM created_at)::float8 AS created,
                          EXTRACT(EPOCH FROM published_at)::float8 AS published
                     FROM outbox WHERE created_at >= to_timestamp($1)""",
                since,
            ):
                if row["published"] is None:
                    unpublished += 1
                else:
                    published[row["id"]] = row["published"]
                    outbox.append(row["published"] - row["created"])
            processed += [
                (row["id"], row["at"])
                for row in await conn.fetch(
                    """SELECT event_id::text AS id, EXTRACT(EPOCH FROM processed_at)::float8 AS at
                         FROM processed_events WHERE processed_at >= to_timestamp($1)""",
                    since,
                )
            ]
            if name == "payments":
                webhook += [
                    row["wait"]
                    for row in await conn.fetch(
                        """SELECT EXTRACT(EPOCH FROM delivered_at - created_at)::float8 AS wait
                             FROM local_webhook_deliveries
                            WHERE created_at >= to_timestamp($1) AND delivered_at IS NOT NULL""",
                        since,
                    )
                ]
        finally:
            await conn.close()
    consume = [at - published[event] for event, at in processed if event in published]
    return {
        "webhook": _spread(webhook),
        "outbox": _spread(outbox) | {"unpublished": unpublished},
        "consume": _spread(consume),
    }


# --------------------------------------------------------------------------- driver


@dataclass
class Extras:
    """What runs after the purchase levels (each needs the bench's own stack)."""

    search_programs: int = 0  # seed this many programs and time catalog search; 0: skip
    soak_minutes: float = 0.0  # keep buying this long, sampling RSS; 0: skip
    search: SearchResult | None = None
    soak: Soak | None = None


async def measured_level(
    market: Market,
    program_id: str,
    concurrency: int,
    purchases: int,
    processes: StackProcesses | None = None,
    *,
    around: AbstractContextManager[object] | None = None,
) -> Level:
    """One level: its learners minted first, then the purchases, with the CPU and RSS of
    `processes` and of the buyers counted (nothing counted without `processes`: a stack
    not started here). `around` (a profiler's recording) covers what is counted."""
    level = Level(concurrency, purchases, 0.0, [])
    learners = await mint_learners(market, purchases)
    if processes is None:
        level.seconds, latencies = await run_level(
            market, program_id, concurrency, purchases, learners
        )
    else:
        with around or nullcontext(), processes.measure(level):
            async with driver_cpu(level):
                level.seconds, latencies = await run_level(
                    market, program_id, concurrency, purchases, learners
                )
    level.take(latencies)
    return level


async def bench(
    base_url: str,
    levels: list[int],
    purchases: int,
    stack: Stack | None,
    profiler: Profiler | None = None,
    extras: Extras | None = None,
    after_level: Callable[[int], Awaitable[None]] | None = None,
) -> list[Level]:
    """Our levels (and then the extras); `after_level(buyers)` runs right after each."""
    async with (
        Market.connect(base_url, max(levels) * 2) as market,
        httpx.AsyncClient(base_url=base_url, timeout=30, trust_env=False) as http,
    ):
        program_id = await market.program()
        # Warm-up: connections, caches, query plans; not reported.
        await run_level(market, program_id, 1, WARM_UP_PURCHASES)
        results = []
        for concurrency in levels:
            since = time.time()
            if stack is not None:
                level = await measured_level(
                    market,
                    program_id,
                    concurrency,
                    purchases,
                    StackProcesses(stack),
                    around=profiler.record(f"buyers-{concurrency}") if profiler else None,
                )
                level.waits = await hop_waits(stack, since)
            else:
                level = await measured_level(market, program_id, concurrency, purchases)
            results.append(level)
            print_row(level, flush=True)
            if after_level is not None:
                await after_level(concurrency)
        if stack is not None and extras is not None:
            if extras.soak_minutes > 0:
                extras.soak = await soak(
                    market, program_id, StackProcesses(stack), extras.soak_minutes
                )
                print_soak(extras.soak)
            if extras.search_programs > 0:
                rng = random.Random(12)
                seconds = await seed_catalog(
                    stack.database_urls["catalog"], extras.search_programs, rng
                )
                extras.search = await measure_search(http, extras.search_programs, rng)
                extras.search.seed_seconds = seconds
                print_search(extras.search)
    return results


def ratios(ours: list[Level], pipeline: list[Level]) -> dict[str, float]:
    """Purchases/s of our stack over the pipeline's, per level (buyers)."""
    return {
        str(a.concurrency): round(a.per_second / b.per_second, 2)
        for a, b in zip(ours, pipeline, strict=True)
    }


HEADER = (
    f"{'buyers':>6} {'purchases/s':>11} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
    f"{'max ms':>8} {'CPU-ms/purchase':>15} {'peak RSS MB':>11}"
)


def print_row(level: Level, *, flush: bool = False) -> None:
    cpu = "-" if level.cpu_ms_per_purchase is None else f"{level.cpu_ms_per_purchase:.1f}"
    rss = "-" if level.peak_rss_bytes is None else f"{level.peak_rss_bytes / 2**20:.0f}"
    print(
        f"{level.concurrency:>6} {level.per_second:>11.1f} {level.percentile(50):>8.0f} "
        f"{level.percentile(95):>8.0f} {level.percentile(99):>8.0f} {level.percentile(100):>8.0f} "
        f"{cpu:>15} {rss:>11}",
        flush=flush,
    )
    if level.step_ms:
        steps = ", ".join(
            f"{step} {_rank(v, 50):.0f}/{_rank(v, 95):.0f}/{_rank(v, 99):.0f}"
            for step, v in level.step_ms.items()
        )
        polls = "" if level.polls_per_purchase is None else f"; {level.polls_per_purchase} polls"
        print(f"{'':>6} steps p50/p95/p99 ms: {steps}{polls}", flush=flush)
    if level.cpu_by_process:
        parts = [
            f"{name} {cpu * 1000 / level.purchases:.1f}"
            for name, cpu in sorted(level.cpu_by_process.items(), key=lambda kv: -kv[1])
        ]
        if level.driver_cpu_seconds is not None:
            parts.append(
                f"(the buyers: {level.driver_cpu_seconds * 1000 / level.purchases:.1f}, not counted)"
            )
        print(f"{'':>6} CPU-ms/purchase: {', '.join(parts)}", flush=flush)
    if level.waits:
        stalled = f"over_{OUTBOX_STALL_SECONDS:g}s"
        hops = []
        for hop, w in level.waits.items():
            text = f"{hop} {w.get('p50_ms', '-')}/{w.get('p99_ms', '-')}/{w.get('max_ms', '-')}"
            if w.get(stalled):
                text += f" ({w[stalled]} over {OUTBOX_STALL_SECONDS:g} s)"
            hops.append(text)
        print(f"{'':>6} waits p50/p99/max ms: {', '.join(hops)}", flush=flush)


def _levels(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"levels must be positive: {text!r}")
    return values


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--purchases",
        type=int,
        default=int(os.environ.get("BENCH_PURCHASES", DEFAULT_PURCHASES)),
        help=f"purchases per level (env BENCH_PURCHASES, default {DEFAULT_PURCHASES})",
    )
    parser.add_argument(
        "--levels",
        type=_levels,
        default=_levels(os.environ.get("BENCH_LEVELS", ",".join(map(str, DEFAULT_LEVELS)))),
        help="concurrent buyers per level, comma-separated (env BENCH_LEVELS, default 1,8,32)",
    )
    parser.add_argument(
        "--replicas",
        type=_levels,
        default=_levels(os.environ.get("BENCH_REPLICAS", "1,2")),
        help="processes per service, comma-separated: each count gets a fresh stack and runs "
        "every level (env BENCH_REPLICAS, default 1,2: issue 12 asks for both; 1 is quicker)",
    )
    parser.add_argument("--url", help="measure a running stack instead of starting one")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="py-spy every Python process during each level; raw flame graphs into DIR",
    )
    parser.add_argument(
        "--search-programs",
        type=int,
        default=int(os.environ.get("BENCH_SEARCH_PROGRAMS", DEFAULT_SEARCH_PROGRAMS)),
        help="after the levels, seed this many published programs and time catalog search "
        f"(env BENCH_SEARCH_PROGRAMS, default {DEFAULT_SEARCH_PROGRAMS:,}; 0 skips it)",
    )
    parser.add_argument(
        "--soak",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("BENCH_SOAK", "1") not in ("", "0"),
        help="after the levels, a memory soak: purchases for --soak-minutes while RSS of "
        "every process is sampled (env BENCH_SOAK, default on; --no-soak or BENCH_SOAK=0 "
        "skips it)",
    )
    parser.add_argument(
        "--soak-minutes",
        type=float,
        default=float(os.environ.get("BENCH_SOAK_MINUTES", DEFAULT_SOAK_MINUTES)),
        help=f"length of the soak (env BENCH_SOAK_MINUTES, default {DEFAULT_SOAK_MINUTES:g})",
    )
    parser.add_argument(
        "--pipeline",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("BENCH_PIPELINE", "1") not in ("", "0"),
        help="after our stack, run the same levels through the logic-free pipeline of issue "
        "12 and print our purchases/s as a ratio to it (env BENCH_PIPELINE, default on)",
    )
    args = parser.parse_args()
    if args.purchases < 1:
        parser.error("--purchases must be at least 1")
    if args.search_programs < 0 or args.soak_minutes <= 0:
        parser.error("--search-programs must be >= 0 and --soak-minutes > 0")
    extras = Extras(args.search_programs, args.soak_minutes if args.soak else 0.0)

    print(
        f"{args.purchases} purchases per level, ON_PAYMENT credentials, buyers poll every "
        f"{POLL_FIRST_SECONDS * 1000:g}-{POLL_MAX_SECONDS * 1000:g} ms; CPU and RSS summed over "
        "every stack process (RSS counts PostgreSQL's shared memory once per backend)"
    )
    runs: dict[int, list[Any]] = {}
    pipeline: list[Level] = []
    if args.url:
        print(HEADER)
        runs[0] = asyncio.run(bench(args.url.rstrip("/"), args.levels, args.purchases, None))
    else:
        for replicas in args.replicas:
            # Search and the soak run once, on the first stack: they do not depend on it.
            once = extras if not runs else Extras(0, 0.0)
            runs[replicas], measured = _run_stack(args, replicas, once, not runs and args.pipeline)
            pipeline = pipeline or measured
    if pipeline:
        print("\nratio to pipeline (purchases/s, ours / pipeline's):")
        for buyers, ratio in ratios(next(iter(runs.values())), pipeline).items():
            print(f"{buyers:>6} {ratio:>11.2f}")
    if args.json:
        report = {
            "levels": [r.summary() for r in next(iter(runs.values()))],
            "replicas": {str(n): [r.summary() for r in rs] for n, rs in runs.items()},
            "search": asdict(extras.search) if extras.search else None,
            "soak": extras.soak.summary() if extras.soak else None,
            "pipeline": {
                "levels": [r.summary() for r in pipeline],
                "ratio_to_pipeline": ratios(next(iter(runs.values())), pipeline),
            }
            if pipeline
            else None,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


def _run_stack(
    args: argparse.Namespace, replicas: int, extras: Extras, with_pipeline: bool
) -> tuple[list[Level], list[Level]]:
    """Our stack's levels and (`with_pipeline`) the pipeline's on the same PostgreSQL and
    NATS, interleaved: each of the pipeline's levels runs right after ours, so that the two
    of a level are seconds apart, not minutes (this machine's speed drifts by a third within
    minutes: benchmarks/README.md, rounds 9 and 11). Each stack idles while the other runs."""
    options = StackOptions(log_level=os.environ.get("LOG_LEVEL", "INFO").upper())
    keep = os.environ.get("BENCH_DATA_DIR", "")  # keep the stack's data and logs there
    if len(args.replicas) > 1:
        print(f"\n{replicas} process(es) per service")
    with (
        nullcontext(keep) if keep else tempfile.TemporaryDirectory(prefix="upskill-bench-") as tmp,
        Stack(Path(tmp) / f"replicas-{replicas}", options=options, replicas=replicas) as stack,
    ):
        profiler = Profiler(stack, args.profile) if args.profile else None
        if not with_pipeline:
            print(HEADER)
            ours = asyncio.run(
                bench(stack.gateway_url, args.levels, args.purchases, stack, profiler, extras)
            )
            return ours, []
        with Pipeline(stack.database, stack.nats_url, Path(tmp) / "pipeline-logs") as pipeline:
            processes = PipelineProcesses(stack, pipeline)
            theirs: list[Level] = []

            async def interleaved() -> list[Level]:
                async with Market.connect(pipeline.url, max(args.levels) * 2) as market:
                    program_id = await market.program()
                    await run_level(market, program_id, 1, WARM_UP_PURCHASES)

                    async def pipeline_level(buyers: int) -> None:
                        theirs.append(
                            await measured_level(
                                market, program_id, buyers, args.purchases, processes
                            )
                        )

                    print(HEADER)
                    return await bench(
                        stack.gateway_url,
                        args.levels,
                        args.purchases,
                        stack,
                        profiler,
                        extras,
                        after_level=pipeline_level,
                    )

            ours = asyncio.run(interleaved())
        print(
            "\nlogic-free pipeline (benchmarks/pipeline), same buyers, each level run right after ours"
        )
        print(HEADER)
        for level in theirs:
            print_row(level, flush=True)
        return ours, theirs


if __name__ == "__main__":
    sys.exit(main())
