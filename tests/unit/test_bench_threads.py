"""Per-thread CPU from the kernel's accounting: what benchmarks/README.md's round 9 reads."""

from __future__ import annotations

import os
import threading

from benchmarks.threads import CLOCK_TICKS, ThreadTimes, parse_stat, per_purchase

# A thread whose name holds a space and parentheses: the name ends at the LAST ')'.
STAT = (
    "4242 (grpc (poll) x) S 1 4242 4242 0 -1 4194368 1000 0 0 0 "
    f"{3 * CLOCK_TICKS} {2 * CLOCK_TICKS} 0 0 20 0 4 0 100 0 0"
)
STATUS = "Name:\tgrpc\nvoluntary_ctxt_switches:\t17\nnonvoluntary_ctxt_switches:\t3\n"


def test_a_stat_line_gives_the_name_the_cpu_and_the_wakeups() -> None:
    times = parse_stat(STAT, STATUS)
    assert times == ThreadTimes("grpc (poll) x", 5.0, 17)


def test_this_process_reads_as_its_own_threads() -> None:
    """The live format, not only the fixture: this test's own main thread has used CPU."""
    with (
        open(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/stat") as stat,
        open(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/status") as status,
    ):
        times = parse_stat(stat.read(), status.read())
    assert times.cpu_seconds > 0
    assert times.voluntary_switches >= 0


def test_per_purchase_counts_new_threads_from_zero_and_sums_wakeups_by_group() -> None:
    before = {
        ("gateway", "main"): ThreadTimes("main", 1.0, 100),
        ("gateway", "event_engine"): ThreadTimes("event_engine", 0.5, 10),
    }
    after = {
        ("gateway", "main"): ThreadTimes("main", 3.0, 500),
        ("gateway", "event_engine"): ThreadTimes("event_engine", 0.7, 30),
        ("enrollment", "main"): ThreadTimes("main", 0.4, 40),  # started meanwhile
    }
    cpu, wakeups = per_purchase(before, after, purchases=100)
    assert round(cpu[("gateway", "main")], 6) == 20.0
    assert round(cpu[("gateway", "event_engine")], 6) == 2.0
    assert round(cpu[("enrollment", "main")], 6) == 4.0
    assert wakeups == {"gateway": 4, "enrollment": 0}
