"""Shared fixtures: one PostgreSQL and one NATS (JetStream) for the whole session.

Both are embedded servers on free ports under the session's tmp dir, unless DATABASE_URL /
NATS_URL point at servers to use instead (nothing here touches a server otherwise).
"""

from __future__ import annotations

import os

# Before anything imports grpc: the suite forks servers while in-process gRPC threads run
# (see services/cli/__init__.py).
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import metrics as otel_metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from services.devstack.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    ExternalNats,
    ExternalPostgres,
    PostgresServer,
)
from services.devstack.stack import SERVICES, Stack, StackOptions
from tests.otlp_collector import OtlpCollector

# The OpenID provider and the stack in oidc mode, shared by the e2e and browser login tests.
pytest_plugins = ["tests.oidc.fixtures"]


@pytest.fixture(scope="session")
def embedded_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """The session's PostgreSQL: `.dsn`, `.create_database(name)`, `.dsn_for(name)`."""
    external = os.environ.get("DATABASE_URL", "").strip()
    if external:
        yield ExternalPostgres(external)
        return
    server = EmbeddedPostgres(tmp_path_factory.mktemp("postgres"), durable=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats | ExternalNats]:
    """The session's NATS with JetStream: `.url`."""
    external = os.environ.get("NATS_URL", "").strip()
    if external:
        yield ExternalNats(external)
        return
    server = EmbeddedNats(tmp_path_factory.mktemp("nats"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def nats_url(nats_server: EmbeddedNats | ExternalNats) -> str:
    return nats_server.url


@pytest.fixture
def fresh_database(embedded_pg: PostgresServer) -> Iterator[str]:
    """A new, empty, uniquely named database for this test; its DSN. Dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    dsn = embedded_pg.create_database(name)
    yield dsn
    embedded_pg.drop_database(name)


@pytest.fixture(scope="session")
def metric_reader() -> InMemoryMetricReader:
    """This test process's own metrics (services.common.metrics). OpenTelemetry takes one
    global meter provider per process, so it is installed once here for every test that
    reads metrics; counters are cumulative, so tests compare before and after."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    otel_metrics.set_meter_provider(provider)
    # set_meter_provider only warns when one was set before: this fixture must be the one.
    assert otel_metrics.get_meter_provider() is provider, "a meter provider was set earlier"
    return reader


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
    collector: OtlpCollector,
) -> Iterator[Stack]:
    """The whole system as real processes, one per session, on the session's PostgreSQL
    and a NATS of its own (or NATS_URL): integration tests publish stray events to the
    session NATS, and two stacks on one NATS would share their durable consumers."""
    base = tmp_path_factory.mktemp("stack")
    with Stack(
        Path(base),
        database_url=embedded_pg.dsn,
        nats_url=os.environ.get("NATS_URL") or None,
        options=StackOptions(
            durable=False,
            database_prefix=f"e2e{os.getpid()}",
            # Every process exports its spans to the test's collector, promptly.
            otel_endpoint=collector.endpoint,
            env_overrides={
                name: {"OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_METRIC_EXPORT_INTERVAL": "500"}
                for name in SERVICES
            },
        ),
    ) as running:
        running.start()
        running.wait_ready(120)
        yield running
