"""`python -m benchmarks.alternate`: ours and the logic-free pipeline, level by level in turn.

`make bench` runs all of our levels and then all of the pipeline's, minutes apart. On a
machine whose speed drifts by a third within minutes (benchmarks/README.md, round 9) the
ratio of two such runs says as much about the drift as about the code. Here both stacks
are up at once (each idle while the other runs: the idle stack costs about 16 CPU-ms per
second) and short levels alternate, ours and the pipeline's (who goes first swaps every
round), R rounds. The ratio of each
round is of two runs a few seconds apart; the median over rounds is the figure to read.

    python -m benchmarks.alternate --buyers 32 --purchases 200 --rounds 6
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.__main__ import (
    WARM_UP_PURCHASES,
    Level,
    Market,
    PipelineProcesses,
    StackProcesses,
    measured_level,
    run_level,
)
from benchmarks.pipeline import Pipeline
from services.devstack.stack import Stack, StackOptions


@dataclass(frozen=True)
class Side:
    label: str
    market: Market
    program_id: str
    processes: StackProcesses


@dataclass(frozen=True)
class Round:
    ours: Level
    pipeline: Level

    @property
    def throughput_ratio(self) -> float:
        return self.ours.per_second / self.pipeline.per_second

    @property
    def cpu_ratio(self) -> float:
        return cpu_ms(self.ours) / cpu_ms(self.pipeline)


def cpu_ms(level: Level) -> float:
    """CPU-ms per purchase over the level's processes (measured: never None here)."""
    return level.cpu_ms_per_purchase or 0.0


def medians(rounds: list[Round]) -> tuple[float, float]:
    """The median ratio of purchases/s and of CPU-ms per purchase, ours over the pipeline's."""
    return (
        statistics.median(r.throughput_ratio for r in rounds),
        statistics.median(r.cpu_ratio for r in rounds),
    )


async def one_level(side: Side, buyers: int, purchases: int) -> Level:
    return await measured_level(side.market, side.program_id, buyers, purchases, side.processes)


def describe(level: Level) -> str:
    return (
        f"{level.per_second:6.1f} purchases/s {cpu_ms(level):5.1f} CPU-ms "
        f"p99 {level.percentile(99):5.0f} ms"
    )


async def alternate(
    stack: Stack, pipeline: Pipeline, buyers: int, purchases: int, rounds: int
) -> list[Round]:
    async with (
        Market.connect(stack.gateway_url, buyers * 2) as ours,
        Market.connect(pipeline.url, buyers * 2) as theirs,
    ):
        sides = []
        for label, market, processes in (
            ("ours", ours, StackProcesses(stack)),
            ("pipeline", theirs, PipelineProcesses(stack, pipeline)),
        ):
            program_id = await market.program()
            await run_level(market, program_id, 1, WARM_UP_PURCHASES)
            sides.append(Side(label, market, program_id, processes))
        done = []
        for n in range(rounds):
            # Who goes first swaps every round: what one side leaves behind (a relay's last
            # marks, autovacuum of its tables on the shared PostgreSQL) lands in the other's
            # level, so neither always pays for it.
            if n % 2 == 0:
                mine = await one_level(sides[0], buyers, purchases)
                other = await one_level(sides[1], buyers, purchases)
            else:
                other = await one_level(sides[1], buyers, purchases)
                mine = await one_level(sides[0], buyers, purchases)
            done.append(Round(mine, other))
            print(
                f"round {n + 1}: ours {describe(mine)} | pipeline {describe(other)} | ratio "
                f"{done[-1].throughput_ratio:.2f} purchases/s, {done[-1].cpu_ratio:.2f} CPU",
                flush=True,
            )
    return done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--buyers", type=int, default=32)
    parser.add_argument("--purchases", type=int, default=200, help="per level")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="upskill-alternate-") as tmp,
        Stack(Path(tmp) / "stack", options=StackOptions(log_level="INFO")) as stack,
        Pipeline(stack.database, stack.nats_url, Path(tmp) / "pipeline-logs") as pipeline,
    ):
        rounds = asyncio.run(alternate(stack, pipeline, args.buyers, args.purchases, args.rounds))
    throughput, cpu = medians(rounds)
    print(
        f"median over {len(rounds)} rounds: {throughput:.2f} of the pipeline's purchases/s, "
        f"{cpu:.2f} times its CPU per purchase"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
