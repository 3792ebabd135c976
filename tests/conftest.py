"""Shared fixtures: one PostgreSQL and one NATS (JetStream) for the whole session.

Both are embedded servers on free ports under the session's tmp dir, unless DATABASE_URL /
NATS_URL point at servers to use instead (nothing here touches a server otherwise).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from services.common.embedded import (
    EmbeddedNats,
    EmbeddedPostgres,
    ExternalNats,
    ExternalPostgres,
    PostgresServer,
)


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
