"""Finding 17 on the whole stack: with NATS gone every service reports NOT_SERVING, which
operators see in the gateway's /health/dependencies, while the gateway itself stays live
and ready (one backend's outage takes no gateway out of rotation); all SERVING again once
NATS is back, with no restart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.devstack.stack import Stack
from tests.polling import eventually


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as client:
        yield client


def test_a_broker_outage_shows_in_dependency_health_not_in_readiness(
    stack: Stack, http: httpx.Client
) -> None:
    if stack.nats is None:
        pytest.skip("NATS is external (NATS_URL): this test stops the embedded one")

    def report() -> dict[str, Any]:
        response = http.get("/health/dependencies")
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    services = {"catalog", "enrollment", "payments", "credentials"}
    assert report() == {"status": "ok", "dependencies": dict.fromkeys(services, "SERVING")}

    stack.nats.kill()
    try:
        down = eventually(
            report,
            until=lambda r: set(r["dependencies"].values()) == {"NOT_SERVING"},
            what="every service NOT_SERVING without NATS",
        )
        assert down["status"] == "degraded"
        assert http.get("/readyz").status_code == 200
        assert http.get("/healthz").status_code == 200
    finally:
        stack.nats.start()
    eventually(
        report,
        until=lambda r: r["status"] == "ok",
        within=60,
        what="every service SERVING once NATS is back",
    )
