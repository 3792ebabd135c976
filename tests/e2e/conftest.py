"""End-to-end fixtures: the whole system as real processes (four services and the
gateway) on the session's PostgreSQL and NATS (embedded, or DATABASE_URL/NATS_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.cli.stack import Stack, StackOptions
from services.common.embedded import PostgresServer


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, embedded_pg: PostgresServer, nats_url: str
) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("stack")
    with Stack(
        Path(base),
        database_url=embedded_pg.dsn,
        nats_url=nats_url,
        options=StackOptions(durable=False, database_prefix=f"e2e{os.getpid()}"),
    ) as running:
        running.start()
        running.wait_ready(120)
        yield running
