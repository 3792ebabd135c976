"""`python -m benchmarks.reads`: the read path a buyer's poll takes, alone.

GET /api/v1/enrollments/{id} (gateway -> enrollment -> PostgreSQL) N times by C clients at
once, and the CPU each stack process spends per request. A purchase makes about 15 of these
while it waits for its credential, so this is the cheapest place to see what a per-request
change (tracing, logging, auth, the framework) is worth, without the saga's noise.

    python -m benchmarks.reads --requests 2000 --concurrency 8
    python -m benchmarks.reads --requests 6000 --profile /tmp/prof   # py-spy, as the bench's
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

from benchmarks.__main__ import Level, Market, Profiler, StackProcesses
from services.devstack.stack import Stack, StackOptions


async def hammer(
    base_url: str, requests: int, concurrency: int, stack: Stack, profiler: Profiler | None = None
) -> Level:
    async with Market.connect(base_url, concurrency * 2) as market:
        program_id = await market.program()
        learner = await market.token(role="learner", sub="reads-bench")
        enrolled = await market.request_json(
            "POST", "/api/v1/enrollments", json={"program_id": program_id}, headers=learner
        )
        url = f"/api/v1/enrollments/{enrolled['id']}"
        for _ in range(50):  # warm-up: connections, caches, plans
            await market.request_json("GET", url, headers=learner)
        left = [requests]
        latencies: list[float] = []

        async def client() -> None:
            while left[0] > 0:
                left[0] -= 1
                started = time.perf_counter()
                await market.request_json("GET", url, headers=learner)
                latencies.append((time.perf_counter() - started) * 1000)

        level = Level(concurrency, requests, 0.0, [])
        with (
            StackProcesses(stack).measure(level),
            profiler.record(f"reads-{concurrency}") if profiler else nullcontext(),
        ):
            started = time.perf_counter()
            await asyncio.gather(*(client() for _ in range(concurrency)))
            level.seconds = time.perf_counter() - started
        level.pay_to_credential_ms = latencies  # here: the request's latency
        return level


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reads", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument(
        "--profile",
        metavar="DIR",
        type=Path,
        help="py-spy every Python process while the GETs run; raw flame graphs into DIR",
    )
    args = parser.parse_args()
    options = StackOptions(log_level=os.environ.get("LOG_LEVEL", "INFO").upper())
    with (
        tempfile.TemporaryDirectory(prefix="upskill-bench-") as tmp,
        Stack(Path(tmp), options=options) as stack,
    ):
        profiler = Profiler(stack, args.profile) if args.profile else None
        level = asyncio.run(
            hammer(stack.gateway_url, args.requests, args.concurrency, stack, profiler)
        )
    assert level.cpu_by_process is not None
    per = {k: v * 1e6 / level.purchases for k, v in level.cpu_by_process.items() if v > 0}
    print(
        f"{args.requests} GETs by {args.concurrency}: {level.per_second:.0f}/s, "
        f"p50 {level.percentile(50):.1f} ms, p99 {level.percentile(99):.1f} ms; "
        f"CPU-us/request {sum(per.values()):.0f}: "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1]))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
