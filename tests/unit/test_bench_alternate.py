"""The alternating comparison's figures: each round's ratios and their medians."""

from __future__ import annotations

from benchmarks.__main__ import Level
from benchmarks.alternate import Round, medians


def level(purchases_per_second: float, cpu_ms_per_purchase: float) -> Level:
    purchases = 100
    return Level(
        32,
        purchases,
        purchases / purchases_per_second,
        [100.0] * purchases,
        cpu_seconds=cpu_ms_per_purchase * purchases / 1000,
    )


def test_a_round_compares_ours_with_the_pipeline_run_next_to_it() -> None:
    one = Round(level(80, 24), level(100, 16))
    assert round(one.throughput_ratio, 6) == 0.8
    assert round(one.cpu_ratio, 6) == 1.5


def test_the_median_leaves_out_a_round_the_machine_slowed_down() -> None:
    rounds = [
        Round(level(80, 20), level(100, 16)),
        Round(level(40, 40), level(100, 16)),  # ours ran while the machine was slow
        Round(level(85, 20), level(100, 16)),
    ]
    throughput, cpu = medians(rounds)
    assert round(throughput, 6) == 0.8
    assert round(cpu, 6) == 1.25
