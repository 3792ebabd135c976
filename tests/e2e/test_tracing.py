"""One purchase is one trace: from the learner's checkout request through the signed
webhook, payments, the outbox relay, JetStream and enrollment to the issued credential."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from services.devstack.demo import demo_program, run_journey
from services.devstack.stack import Stack
from tests.otlp_collector import OtlpCollector, ReceivedSpan
from tests.polling import eventually


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as client:
        yield client


def bearer(http: httpx.Client, **claims: str) -> dict[str, str]:
    token = http.post("/api/v1/dev/tokens", json=claims).json()["token"]
    return {"authorization": f"Bearer {token}"}


def test_checkout_to_credential_is_one_trace_across_every_service(
    stack: Stack, http: httpx.Client, collector: OtlpCollector
) -> None:
    run = uuid.uuid4().hex[:8]
    provider_id = http.post(
        "/api/v1/providers",
        json={"name": f"Traced {run}"},
        headers=bearer(http, role="admin", sub="a"),
    ).json()["id"]
    provider = bearer(http, role="provider", sub="p", provider_id=provider_id)
    body = demo_program()
    body["credential"]["issuance"] = "ON_PAYMENT"  # the credential follows the payment
    program = http.post("/api/v1/programs", json=body, headers=provider).json()
    http.post(f"/api/v1/programs/{program['id']}/publish", headers=provider).raise_for_status()
    learner = bearer(http, role="learner", sub=f"traced-{run}")
    enrollment = http.post(
        "/api/v1/enrollments", json={"program_id": program["id"]}, headers=learner
    ).json()

    paid = http.post(
        enrollment["checkout_url"].replace(stack.gateway_url, ""),
        data={"card_number": "4242424242424242"},
        follow_redirects=False,
    )
    assert paid.status_code == 303, paid.text

    def pay_trace() -> list[ReceivedSpan]:
        checkout = [
            s
            for s in collector.spans()
            if s.service == "gateway" and s.name == "POST /checkout/{session_id}"
        ]
        if not checkout:
            return []
        trace_id = checkout[-1].trace_id
        return [s for s in collector.spans() if s.trace_id == trace_id]

    expected = {
        ("gateway", "POST /checkout/{session_id}"),
        ("gateway", "POST /webhooks/stripe"),
        ("payments", "publish upskill.payments.payment_succeeded"),
        ("enrollment", "process upskill.payments.payment_succeeded"),
        ("enrollment", "publish upskill.enrollment.enrollment_activated"),
        ("credentials", "process upskill.enrollment.enrollment_activated"),
        ("credentials", "publish upskill.credentials.credential_issued"),
        ("enrollment", "process upskill.credentials.credential_issued"),
    }
    # Each process exports on its own schedule: wait until every hop has reported.
    eventually(
        lambda: {(s.service, s.name) for s in pay_trace()},
        until=expected.issubset,
        what=f"every hop in the trace: {sorted(expected)}",
        interval=0.1,
    )
    assert {s.service for s in pay_trace()} == {"gateway", "payments", "enrollment", "credentials"}


def test_services_export_their_metrics(
    stack: Stack, http: httpx.Client, collector: OtlpCollector
) -> None:
    """RPC latency, events published and consumed, and outbox lag reach the collector."""
    run_journey(stack.gateway_url, say=lambda _: None)
    expected = {
        ("catalog", "rpc.server.call.duration"),
        ("payments", "upskill.events.published"),
        ("payments", "upskill.outbox.lag"),
        ("enrollment", "upskill.events.consumed"),
        ("credentials", "upskill.events.consumed"),
        ("credentials", "upskill.events.published"),
    }
    eventually(
        collector.metric_names,
        until=expected.issubset,
        what=f"every metric: {sorted(expected)}",
        interval=0.1,
    )
