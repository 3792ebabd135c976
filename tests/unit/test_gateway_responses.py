"""The purchase's enrollment routes return their JSON ready-made (enrollment_response)
instead of a model for FastAPI to validate and serialize: the response must be what
FastAPI made of the model under `response_model=Enrollment`, byte for byte, headers too."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI, Response, status
from fastapi.testclient import TestClient

from services.gateway.routes_enrollments import enrollment_response
from services.gateway.routes_webhooks import webhook_ack
from services.gateway.schemas import Enrollment, Money, WebhookAck

FULL = Enrollment(
    id="0b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d",
    program_id="1b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d",
    provider_id="2b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d",
    program_title='SQL "in a week" \u00e9t\u00e9 \U0001f600 </script>',
    learner_id="learner-1",
    status="PENDING_PAYMENT",
    price=Money(amount_minor=4900, currency="USD"),
    payment_id="3b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d",
    checkout_url="http://testserver/checkout/cs_abc",
    credential_id=None,
    grade="A\n+",
    evidence_url=None,
    created_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    updated_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
)
EMPTY = Enrollment(
    id="e",
    program_id="",
    provider_id="",
    program_title="",
    learner_id="",
    status="ACTIVE",
    price=None,
    payment_id=None,
    checkout_url=None,
    credential_id=None,
    grade=None,
    evidence_url=None,
    created_at=None,
    updated_at=None,
)


def _app(enrollment: Enrollment) -> FastAPI:
    app = FastAPI()

    @app.get("/former", response_model=Enrollment)
    async def former() -> Enrollment:
        return enrollment

    @app.post("/former", status_code=status.HTTP_201_CREATED, response_model=Enrollment)
    async def former_created(response: Response) -> Enrollment:
        response.headers["Location"] = f"/api/v1/enrollments/{enrollment.id}"
        return enrollment

    @app.get("/now", response_model=Enrollment)
    async def now() -> Response:
        return enrollment_response(enrollment)

    @app.post("/now", status_code=status.HTTP_201_CREATED, response_model=Enrollment)
    async def now_created() -> Response:
        response = enrollment_response(enrollment, status.HTTP_201_CREATED)
        response.headers["Location"] = f"/api/v1/enrollments/{enrollment.id}"
        return response

    return app


def _seen(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    return response.status_code, list(response.headers.multi_items()), response.content


@pytest.mark.parametrize("enrollment", [FULL, EMPTY])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_the_response_is_the_one_fastapi_made_of_the_model(
    enrollment: Enrollment, method: str
) -> None:
    with TestClient(_app(enrollment)) as client:
        former = client.request(method, "/former")
        now = client.request(method, "/now")
    assert _seen(now) == _seen(former)
    assert former.status_code == (201 if method == "POST" else 200)


def test_the_webhooks_ack_is_the_one_fastapi_made_of_the_model() -> None:
    app = FastAPI()

    @app.post("/former", response_model=WebhookAck)
    async def former() -> WebhookAck:
        return WebhookAck()

    @app.post("/now", response_model=WebhookAck)
    async def now() -> Response:
        return webhook_ack()

    with TestClient(app) as client:
        before, after = client.post("/former"), client.post("/now")
    assert _seen(after) == _seen(before)
    assert after.json() == {"received": True}
