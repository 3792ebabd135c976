"""Memory soak: purchases keep going for N minutes while the memory of every stack process
is sampled; reports each group's start, peak and end, and its growth over the second half (a
process whose memory is bounded levels off; one that leaks keeps climbing).

Three figures per group, because RSS alone misleads for PostgreSQL: every backend maps the
shared buffers, and each page of them it has touched counts in its RSS, so a backend's RSS
climbs towards shared_buffers (128 MB by default) without anything leaking.

- RSS of the group's largest process (the issue's figure);
- USS of the group's largest process: its private memory, what it would free on exit (for
  a PostgreSQL backend, its own work memory and caches, not the shared buffers);
- PSS summed over the group: its processes' share of every page they map, shared pages
  divided among their users, so the sum counts PostgreSQL's shared buffers once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import psutil

if TYPE_CHECKING:
    from benchmarks.__main__ import Market, StackProcesses

SAMPLE_SECONDS = 10.0
BUYERS = 8
MB = 2**20


class Memory(NamedTuple):
    """One group's memory at one moment, in bytes."""

    largest_rss: int
    largest_uss: int
    pss_sum: int


FIGURES = {"rss": "largest_rss", "uss": "largest_uss", "group_pss": "pss_sum"}


@dataclass
class Soak:
    minutes: float
    purchases: int = 0
    # process group -> [(seconds since start, its memory then)]
    samples: dict[str, list[tuple[float, Memory]]] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        report: dict[str, Any] = {"minutes": self.minutes, "purchases": self.purchases}
        for name, points in sorted(self.samples.items()):
            middle = points[-1][0] / 2
            row: dict[str, float] = {}
            for figure, attribute in FIGURES.items():
                values = [getattr(memory, attribute) for _, memory in points]
                half = [getattr(m, attribute) for t, m in points if t >= middle] or values
                row[f"{figure}_start_mb"] = round(values[0] / MB, 1)
                row[f"{figure}_peak_mb"] = round(max(values) / MB, 1)
                row[f"{figure}_end_mb"] = round(values[-1] / MB, 1)
                row[f"{figure}_second_half_growth_mb"] = round((half[-1] - half[0]) / MB, 1)
            report[name] = row
        return report


def memory_by_group(processes: StackProcesses) -> dict[str, Memory]:
    """Each group's memory (see the module's docstring for the three figures)."""
    found: dict[str, Memory] = {}
    for name, procs in processes.groups().items():
        rss = uss = pss = 0
        for proc in procs:
            try:
                full = proc.memory_full_info()  # reads /proc/PID/smaps_rollup on Linux
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            rss = max(rss, full.rss)
            uss = max(uss, full.uss)
            pss += getattr(full, "pss", 0)
        found[name] = Memory(rss, uss, pss)
    return found


async def soak(market: Market, program_id: str, processes: StackProcesses, minutes: float) -> Soak:
    result = Soak(minutes)
    started = time.monotonic()
    deadline = started + minutes * 60

    def sample() -> None:
        at = time.monotonic() - started
        for name, memory in memory_by_group(processes).items():
            result.samples.setdefault(name, []).append((round(at, 1), memory))

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
        "MB: RSS and USS (private) of each group's largest process, PSS summed over the group"
    )
    print(
        f"  {'process':<12} {'figure':<9} {'start':>7} {'peak':>7} {'end':>7} "
        f"{'2nd-half growth':>16}"
    )
    for name, row in summary.items():
        if not isinstance(row, dict):
            continue
        for figure in FIGURES:
            print(
                f"  {name:<12} {figure:<9} {row[f'{figure}_start_mb']:>7.1f} "
                f"{row[f'{figure}_peak_mb']:>7.1f} {row[f'{figure}_end_mb']:>7.1f} "
                f"{row[f'{figure}_second_half_growth_mb']:>16.1f}"
            )
