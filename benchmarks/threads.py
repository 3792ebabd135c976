"""`python -m benchmarks.threads`: CPU per purchase of every thread of every service, from the
kernel's own accounting (/proc/PID/task/TID/stat), and voluntary context switches (wake-ups).

A sampling profiler cannot say which thread burns CPU here: py-spy counted grpc.aio's poller
thread, blocked in epoll_wait inside gRPC's C core, as busy, which made idle waiting look like
a third of every process (benchmarks/README.md, round 9). The kernel knows: this reads each
thread's utime + stime before and after N purchases by C buyers, with each purchase's
voluntary context switches per process group (the stack's PostgreSQL and NATS included).

    python -m benchmarks.threads --levels 1,32 --purchases 300
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from benchmarks.__main__ import Market, StackProcesses, mint_learners, run_level
from services.devstack.stack import Stack, StackOptions

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ThreadTimes:
    name: str  # the thread's comm: gRPC names its own (event_engine); Python's are "python"
    cpu_seconds: float  # user + system
    voluntary_switches: int


def parse_stat(stat: str, status: str) -> ThreadTimes:
    """One thread's /proc/.../stat and /proc/.../status. The name sits between the first '('
    and the LAST ')' (a name may itself hold parentheses or spaces); utime and stime are the
    12th and 13th fields after it, in clock ticks."""
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2 :].split()
    switches = 0
    for line in status.splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            switches = int(line.split()[1])
    return ThreadTimes(name, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS, switches)


def snapshot(processes: StackProcesses) -> dict[tuple[str, str], ThreadTimes]:
    """(group, role) -> the summed times of its threads; the role is "main" for the thread
    that runs the event loop (the process's first), else the thread's name."""
    found: dict[tuple[str, str], ThreadTimes] = {}
    for group, procs in processes.groups().items():
        for proc in procs:
            for task in glob.glob(f"/proc/{proc.pid}/task/*"):
                try:
                    with open(f"{task}/stat") as stat, open(f"{task}/status") as status:
                        times = parse_stat(stat.read(), status.read())
                except (OSError, ValueError, IndexError):
                    continue  # the thread ended meanwhile
                role = "main" if task.rsplit("/", 1)[1] == str(proc.pid) else times.name
                key = (group, role)
                before = found.get(key, ThreadTimes(role, 0.0, 0))
                found[key] = ThreadTimes(
                    role,
                    before.cpu_seconds + times.cpu_seconds,
                    before.voluntary_switches + times.voluntary_switches,
                )
    return found


def per_purchase(
    before: dict[tuple[str, str], ThreadTimes],
    after: dict[tuple[str, str], ThreadTimes],
    purchases: int,
) -> tuple[dict[tuple[str, str], float], Counter[str]]:
    """CPU-ms per purchase by (group, role), and wake-ups per purchase by group. A thread
    that started meanwhile counts from zero; one that ended is not counted at all (the
    processes' own totals, in the main bench, include it)."""
    cpu: dict[tuple[str, str], float] = {}
    wakeups: Counter[str] = Counter()
    for key, now in after.items():
        then = before.get(key, ThreadTimes(now.name, 0.0, 0))
        cpu[key] = 1000 * (now.cpu_seconds - then.cpu_seconds) / purchases
        wakeups[key[0]] += now.voluntary_switches - then.voluntary_switches
    return cpu, Counter({g: round(n / purchases) for g, n in wakeups.items()})


async def measure(stack: Stack, levels: list[int], purchases: int) -> None:
    processes = StackProcesses(stack)
    async with Market.connect(stack.gateway_url, max(levels) * 2) as market:
        program_id = await market.program()
        await run_level(market, program_id, 1, 20)  # warm-up: pools, caches, plans
        for buyers in levels:
            learners = await mint_learners(market, purchases)
            before = snapshot(processes)
            await run_level(market, program_id, buyers, purchases, learners)
            cpu, wakeups = per_purchase(before, snapshot(processes), purchases)
            print(f"\n{buyers} buyer(s), {purchases} purchases: CPU-ms per purchase by thread")
            for (group, role), ms in sorted(cpu.items()):
                if ms >= 0.005:
                    print(f"  {group:12} {role:16} {ms:7.2f}")
            print(
                "  wake-ups (voluntary context switches) per purchase: "
                + ", ".join(f"{g} {n}" for g, n in sorted(wakeups.items()))
                + f"; total {sum(wakeups.values())}"
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default="1,32", help="buyers per level, comma-separated")
    parser.add_argument("--purchases", type=int, default=300)
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",") if n.strip()]
    with (
        tempfile.TemporaryDirectory(prefix="upskill-threads-") as tmp,
        Stack(Path(tmp) / "stack", options=StackOptions(log_level="INFO")) as stack,
    ):
        asyncio.run(measure(stack, levels, args.purchases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
