"""The chaos suite, short: concurrent purchases of every kind while a seeded monkey
SIGKILLs each service, the gateway, NATS and PostgreSQL in turn, on a stack of its own
that only its own supervision heals; then every invariant of DESIGN.md, from outside and
inside (tests/e2e/chaos.py). `make chaos` runs the long one (CHAOS_PURCHASES=1000).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.devstack.stack import Stack, StackOptions
from tests.e2e.chaos import check_invariants, run_chaos

PURCHASES = int(os.environ.get("CHAOS_PURCHASES", "60"))
SEED = int(os.environ.get("CHAOS_SEED", "20261126"))
KILL_EVERY = float(os.environ.get("CHAOS_KILL_EVERY", "1"))


def supervised_stack(base: Path, *, replicas: int = 1, **options: object) -> Iterator[Stack]:
    stack = Stack(
        base,
        replicas=replicas,
        options=StackOptions(
            durable=False,
            auto_restart=True,
            # Kills are the point here; a real crash loop would still end the run (no
            # component could come back, and the monkey waits for each to return).
            crash_limit=1000,
            **options,  # type: ignore[arg-type]
        ),
    )
    stop = threading.Event()
    failure: list[BaseException] = []

    def supervise() -> None:
        try:
            stack.supervise(stop, interval=0.1)
        except BaseException as exc:
            failure.append(exc)

    with stack:
        thread = threading.Thread(target=supervise, name="supervise", daemon=True)
        thread.start()
        try:
            yield stack
        finally:
            stop.set()
            thread.join(60)
    assert failure == [], failure


@pytest.fixture
def chaos_stack(tmp_path: Path) -> Iterator[Stack]:
    yield from supervised_stack(tmp_path / "chaos")


def test_purchases_survive_random_kills(chaos_stack: Stack) -> None:
    market, bought, report = run_chaos(
        chaos_stack, purchases=PURCHASES, seed=SEED, kill_every=KILL_EVERY
    )
    print(f"chaos: {report.summary()}")
    check_invariants(chaos_stack, market, bought)
    # Every kind of component died at least once when the run was long enough to reach it.
    if sum(report.kills.values()) >= len(chaos_stack.instance_names()) + 2:
        assert {"postgresql", "nats", "gateway", "payments"} <= set(report.kills)
