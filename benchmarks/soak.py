"""Memory soak: purchases keep going for N minutes while the RSS of every stack process is
sampled; reports each process's start, peak and end RSS, and its growth over the second
half (a process whose memory is bounded levels off; one that leaks keeps climbing)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import psutil

if TYPE_CHECKING:
    from benchmarks.__main__ import Market, StackProcesses

SAMPLE_SECONDS = 10.0
BUYERS = 8
MB = 2**20


@dataclass
class Soak:
    minutes: float
    purchases: int = 0
    # process name -> [(seconds since start, largest single-process RSS in bytes)]
    samples: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        report: dict[str, Any] = {"minutes": self.minutes, "purchases": self.purchases}
        for name, points in sorted(self.samples.items()):
            values = [rss for _, rss in points]
            half = [rss for t, rss in points if t >= points[-1][0] / 2] or values
            report[name] = {
                "start_mb": round(values[0] / MB, 1),
                "peak_mb": round(max(values) / MB, 1),
                "end_mb": round(values[-1] / MB, 1),
                "second_half_growth_mb": round((half[-1] - half[0]) / MB, 1),
            }
        return report


def largest_rss(processes: StackProcesses) -> dict[str, int]:
    """The RSS of the largest process in each group (PostgreSQL: its biggest backend; its
    shared buffers count in every backend, so a sum would mean little)."""
    largest: dict[str, int] = {}
    for name, procs in processes.groups().items():
        for proc in procs:
            try:
                rss = proc.memory_info().rss
            except psutil.NoSuchProcess:
                continue
            largest[name] = max(largest.get(name, 0), rss)
    return largest


async def soak(market: Market, program_id: str, processes: StackProcesses, minutes: float) -> Soak:
    result = Soak(minutes)
    started = time.monotonic()
    deadline = started + minutes * 60

    def sample() -> None:
        at = time.monotonic() - started
        for name, rss in largest_rss(processes).items():
            result.samples.setdefault(name, []).append((round(at, 1), rss))

    async def buyer(n: int) -> None:
        while time.monotonic() < deadline:
            learner = await market.token(role="learner", sub=f"soak-{n}-{result.purchases}")
            await market.purchase(program_id, learner)
            result.purchases += 1

    async def sampler() -> None:
        while time.monotonic() < deadline:
            await asyncio.to_thread(sample)
            await asyncio.sleep(min(SAMPLE_SECONDS, max(0.0, deadline - time.monotonic())))
        await asyncio.to_thread(sample)

    await asyncio.gather(sampler(), *(buyer(n) for n in range(BUYERS)))
    return result


def print_soak(result: Soak) -> None:
    summary = result.summary()
    print(
        f"memory soak: {result.minutes:g} min, {result.purchases} purchases by {BUYERS} buyers; "
        "RSS of each group's largest process"
    )
    print(
        f"  {'process':<12} {'start MB':>9} {'peak MB':>8} {'end MB':>7} {'2nd-half growth MB':>19}"
    )
    for name, row in summary.items():
        if isinstance(row, dict):
            print(
                f"  {name:<12} {row['start_mb']:>9.1f} {row['peak_mb']:>8.1f} "
                f"{row['end_mb']:>7.1f} {row['second_half_growth_mb']:>19.1f}"
            )
