"""The soak's memory summary: what the figures in benchmarks/README.md are read from."""

from __future__ import annotations

import os

import psutil
import pytest

from benchmarks.soak import MB, Memory, Soak, memory_by_group


def test_the_summary_reports_each_figure_and_its_growth_over_the_second_half() -> None:
    soak = Soak(minutes=1.0, purchases=10)
    soak.samples["postgres"] = [
        (0.0, Memory(100 * MB, 10 * MB, 120 * MB)),
        (30.0, Memory(140 * MB, 12 * MB, 130 * MB)),  # the middle: the second half starts here
        (60.0, Memory(150 * MB, 13 * MB, 131 * MB)),
    ]
    row = soak.summary()["postgres"]
    assert row["rss_start_mb"] == 100.0
    assert row["rss_peak_mb"] == 150.0
    assert row["rss_end_mb"] == 150.0
    assert row["rss_second_half_growth_mb"] == 10.0
    assert row["uss_peak_mb"] == 13.0
    assert row["uss_second_half_growth_mb"] == 1.0
    assert row["group_pss_peak_mb"] == 131.0
    assert row["group_pss_second_half_growth_mb"] == 1.0


class _Processes:
    def groups(self) -> dict[str, list[psutil.Process]]:
        return {"me": [psutil.Process(os.getpid())]}


@pytest.mark.skipif(not psutil.LINUX, reason="USS and PSS come from /proc/PID/smaps_rollup")
def test_private_memory_is_part_of_what_the_process_maps() -> None:
    memory = memory_by_group(_Processes())["me"]  # type: ignore[arg-type]
    assert 0 < memory.largest_uss <= memory.largest_rss
    assert memory.largest_uss <= memory.pss_sum <= memory.largest_rss
