"""The dependency checker's rules on the real grpc.health.v1 servicer: any dependency down
(failing or not answering at all) is NOT_SERVING for every name, all back is SERVING."""

from __future__ import annotations

import asyncio

import pytest
from grpc_health.v1 import health, health_pb2

from services.common.health import NOT_SERVING, SERVING, DependencyHealth

NAMES = ["", "upskill.catalog.v1.CatalogService"]


class Dependency:
    def __init__(self) -> None:
        self.state = "up"

    async def probe(self) -> object:
        if self.state == "refusing":
            raise ConnectionRefusedError("connection refused")
        if self.state == "hanging":
            await asyncio.Event().wait()  # never answers
        return True


async def _statuses(servicer: health.aio.HealthServicer) -> set[int]:
    found = set()
    for name in NAMES:
        reply = await servicer.Check(health_pb2.HealthCheckRequest(service=name), None)
        found.add(reply.status)
    return found


@pytest.mark.parametrize("failure", ["refusing", "hanging"])
async def test_status_follows_the_dependencies(failure: str) -> None:
    servicer = health.aio.HealthServicer()
    postgres, nats = Dependency(), Dependency()
    checker = DependencyHealth(
        servicer, NAMES, {"postgresql": postgres.probe, "nats": nats.probe}, timeout=0.05
    )

    assert await checker.check() == SERVING
    assert await _statuses(servicer) == {SERVING}

    nats.state = failure
    assert await checker.check() == NOT_SERVING
    assert await _statuses(servicer) == {NOT_SERVING}
    assert list(checker.down) == ["nats"]

    postgres.state = failure
    assert await checker.check() == NOT_SERVING
    assert sorted(checker.down) == ["nats", "postgresql"]

    nats.state = postgres.state = "up"
    assert await checker.check() == SERVING
    assert await _statuses(servicer) == {SERVING}
    assert checker.down == {}


async def test_a_slow_answer_takes_several_in_a_row_a_refusal_one() -> None:
    servicer = health.aio.HealthServicer()
    postgres = Dependency()
    checker = DependencyHealth(
        servicer, NAMES, {"postgresql": postgres.probe}, timeout=0.05, timeouts_before_down=3
    )
    assert await checker.check() == SERVING
    postgres.state = "hanging"
    assert await checker.check() == SERVING  # busy, perhaps
    assert await checker.check() == SERVING
    assert await checker.check() == NOT_SERVING  # three in a row: down
    postgres.state = "up"
    assert await checker.check() == SERVING
    postgres.state = "hanging"
    assert await checker.check() == SERVING  # the count starts again
    postgres.state = "refusing"
    assert await checker.check() == NOT_SERVING  # a refusal is an outage at once
