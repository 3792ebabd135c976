"""A NATS server of a test module's own, for modules whose tests delete and recreate streams
(which must not pull the rug from under the session's running stack)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from services.devstack.embedded import EmbeddedNats


@contextmanager
def own_nats(data_dir: Path) -> Iterator[str]:
    """A NATS of the caller's own, its data under `data_dir`; its URL. With NATS_URL set (the
    external-servers CI leg, where no stack runs) that server instead."""
    external = os.environ.get("NATS_URL", "").strip()
    if external:
        yield external
        return
    server = EmbeddedNats(data_dir)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()
