"""End-to-end fixtures: the whole system as real processes (four services and the
gateway) on the session's PostgreSQL and NATS (embedded, or DATABASE_URL/NATS_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli.stack import SERVICES, Stack, StackOptions
from services.common.embedded import PostgresServer
from tests.e2e.otlp_collector import OtlpCollector


@pytest.fixture(scope="session")
def collector() -> Iterator[OtlpCollector]:
    receiver = OtlpCollector()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
    embedded_pg: PostgresServer,
    nats_url: str,
    collector: OtlpCollector,
) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("stack")
    with Stack(
        Path(base),
        database_url=embedded_pg.dsn,
        nats_url=nats_url,
        options=StackOptions(
            durable=False,
            database_prefix=f"e2e{os.getpid()}",
            # Every process exports its spans to the test's collector, promptly.
            otel_endpoint=collector.endpoint,
            env_overrides={name: {"OTEL_BSP_SCHEDULE_DELAY": "100"} for name in SERVICES},
        ),
    ) as running:
        running.start()
        running.wait_ready(120)
        yield running
