"""Two processes of every service (Stack(replicas=2), `upskill dev --replicas 2`): the
gateway spreads calls over both and rides out one going away; relays, consumers and
sweeps share the work with no duplicate effect, under the chaos monkey and under a
rolling restart (SIGTERM: each instance drains before it goes), with every invariant
checked afterwards (tests/e2e/chaos.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.devstack.stack import GRPC_SERVICES, Stack
from tests.e2e.chaos import check_invariants, run_chaos
from tests.e2e.test_chaos import SEED, supervised_stack
from tests.polling import eventually

PURCHASES = int(os.environ.get("CHAOS_REPLICA_PURCHASES", "48"))


@pytest.fixture(scope="module")
def replicated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from supervised_stack(Path(tmp_path_factory.mktemp("replicas")), replicas=2)


def test_every_service_runs_twice_behind_one_gateway(replicated: Stack) -> None:
    for service in GRPC_SERVICES:
        assert replicated.instances(service) == [service, f"{service}-2"]
        assert all(replicated.is_running(name) for name in replicated.instances(service))
    assert replicated.env_for("gateway")["CATALOG_ADDR"] == (
        f"ipv4:{replicated.addr('catalog')},{replicated.addr('catalog-2')}"
    )


def test_the_gateway_rides_out_one_replica_going_away(replicated: Stack) -> None:
    with httpx.Client(base_url=replicated.gateway_url, timeout=15, trust_env=False) as http:
        replicated.stop_service("catalog")  # drained and not restarted: catalog-2 is left
        try:
            eventually(
                lambda: http.get("/api/v1/programs").status_code == 200,
                what="reads through the remaining replica",
            )
            answers = [http.get("/api/v1/programs").status_code for _ in range(20)]
            assert answers == [200] * 20
        finally:
            replicated.start_service("catalog")
        replicated.wait_ready(120)


def test_two_replicas_hold_the_invariants_under_chaos(replicated: Stack) -> None:
    market, bought, report = run_chaos(replicated, purchases=PURCHASES, seed=SEED, kill_every=1)
    print(f"chaos with 2 replicas: {report.summary()}")
    check_invariants(replicated, market, bought)


def test_a_rolling_restart_under_load_loses_nothing(replicated: Stack) -> None:
    market, bought, report = run_chaos(
        replicated, purchases=PURCHASES, seed=SEED + 1, kill_every=0, rolling=True
    )
    print(f"rolling restart with 2 replicas: {report.summary()}")
    restarted = {name.removeprefix("restart ") for name in report.kills}
    assert restarted == {n for n in replicated.instance_names() if n != "gateway"}
    # Drained, not dropped: no connection lost, no 502; at most a few 503s (a call that
    # found no replica ready within its deadline on a loaded machine), retried.
    assert set(report.retried) <= {503}, report.retried
    assert report.retried[503] <= report.purchases // 20, report.retried
    check_invariants(replicated, market, bought)
