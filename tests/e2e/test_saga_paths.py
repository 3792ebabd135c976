"""The saga's other paths over the public API: free programs, cancellation, sold-out
programs, idempotent retries, declined cards, ON_PAYMENT issuance."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.devstack.demo import demo_program
from services.devstack.stack import Stack
from tests.polling import eventually


class Market:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        run = uuid.uuid4().hex[:8]
        admin = self.token(role="admin", sub=f"admin-{run}")
        provider_id = http.post(
            "/api/v1/providers", json={"name": f"Paths {run}"}, headers=admin
        ).json()["id"]
        self.provider = self.token(role="provider", sub=f"p-{run}", provider_id=provider_id)

    def token(self, **claims: str) -> dict[str, str]:
        response = self.http.post("/api/v1/dev/tokens", json=claims)
        response.raise_for_status()
        return {"authorization": f"Bearer {response.json()['token']}"}

    def learner(self) -> dict[str, str]:
        return self.token(role="learner", sub=f"l-{uuid.uuid4().hex[:8]}", email="l@example.com")

    def program(self, **changes: Any) -> dict[str, Any]:
        body = demo_program()
        for key, value in changes.items():
            if key == "issuance":
                body["credential"]["issuance"] = value
            else:
                body[key] = value
        program = self.http.post("/api/v1/programs", json=body, headers=self.provider).json()
        published = self.http.post(
            f"/api/v1/programs/{program['id']}/publish", headers=self.provider
        )
        assert published.status_code == 200, published.text
        return dict(published.json())

    def enroll(self, learner: dict[str, str], program_id: str, key: str = "") -> httpx.Response:
        headers = learner | ({"Idempotency-Key": key} if key else {})
        return self.http.post(
            "/api/v1/enrollments", json={"program_id": program_id}, headers=headers
        )

    def pay(self, enrollment: dict[str, Any], card: str) -> httpx.Response:
        path = "/" + enrollment["checkout_url"].split("/", 3)[3]
        return self.http.post(path, data={"card_number": card}, follow_redirects=False)

    def get(self, learner: dict[str, str], enrollment_id: str) -> dict[str, Any]:
        return dict(self.http.get(f"/api/v1/enrollments/{enrollment_id}", headers=learner).json())


@pytest.fixture
def market(stack: Stack) -> Iterator[Market]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as http:
        yield Market(http)


def test_a_free_program_is_active_at_once_and_needs_no_checkout(market: Market) -> None:
    program = market.program(price={"amount_minor": 0, "currency": "USD"})
    learner = market.learner()
    enrollment = market.enroll(learner, program["id"]).json()
    assert enrollment["status"] == "ACTIVE"
    assert enrollment["checkout_url"] in (None, "")


def test_on_payment_programs_issue_the_credential_when_paid(market: Market) -> None:
    program = market.program(issuance="ON_PAYMENT")
    learner = market.learner()
    enrollment = market.enroll(learner, program["id"]).json()
    assert market.pay(enrollment, "4242424242424242").status_code == 303
    done = eventually(lambda: (e := market.get(learner, enrollment["id"]))["credential_id"] and e)
    assert done["status"] == "ACTIVE"  # issued without any completion


def test_a_declined_card_leaves_the_enrollment_pending_and_payable(market: Market) -> None:
    program = market.program()
    learner = market.learner()
    enrollment = market.enroll(learner, program["id"]).json()
    declined = market.pay(enrollment, "4000000000009995")
    assert declined.status_code == 402
    assert "insufficient" in declined.text.lower()
    assert market.get(learner, enrollment["id"])["status"] == "PENDING_PAYMENT"
    assert market.pay(enrollment, "4242424242424242").status_code == 303
    eventually(lambda: market.get(learner, enrollment["id"])["status"] == "ACTIVE")


def test_cancel_only_while_pending(market: Market) -> None:
    program = market.program()
    learner = market.learner()
    enrollment = market.enroll(learner, program["id"]).json()
    url = f"/api/v1/enrollments/{enrollment['id']}/cancel"
    cancelled = market.http.post(url, headers=learner)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "CANCELLED"
    assert market.http.post(url, headers=learner).status_code == 409
    # The seat is free again: the same learner may enroll anew.
    assert market.enroll(learner, program["id"]).status_code == 201


def test_retries_with_the_same_idempotency_key_return_the_same_enrollment(market: Market) -> None:
    program = market.program()
    learner = market.learner()
    first = market.enroll(learner, program["id"], key="order-1")
    second = market.enroll(learner, program["id"], key="order-1")
    assert first.status_code == 201
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["checkout_url"] == first.json()["checkout_url"]
    # Without the key, enrolling again resumes the unpaid enrollment...
    assert market.enroll(learner, program["id"]).json()["id"] == first.json()["id"]
    # ...and once it is paid, a second enrollment in the same program is a conflict.
    assert market.pay(first.json(), "4242424242424242").status_code == 303
    eventually(lambda: market.get(learner, first.json()["id"])["status"] == "ACTIVE")
    assert market.enroll(learner, program["id"]).status_code == 409


def test_a_full_program_refuses_the_next_learner(market: Market) -> None:
    program = market.program(capacity=1)
    assert market.enroll(market.learner(), program["id"]).status_code == 201
    refused = market.enroll(market.learner(), program["id"])
    assert refused.status_code == 409
    assert "sold out" in refused.json()["detail"]


def test_drafts_cannot_be_bought(market: Market) -> None:
    draft = market.http.post(
        "/api/v1/programs", json=demo_program(), headers=market.provider
    ).json()
    refused = market.enroll(market.learner(), draft["id"])
    assert refused.status_code in (404, 409), refused.text


def test_listings_show_each_caller_only_their_own(market: Market) -> None:
    program = market.program()
    alice, bob = market.learner(), market.learner()
    mine = market.enroll(alice, program["id"]).json()
    market.enroll(bob, program["id"])
    listed = market.http.get("/api/v1/enrollments", headers=alice).json()["enrollments"]
    assert [e["id"] for e in listed] == [mine["id"]]
    provider_view = market.http.get(
        "/api/v1/enrollments", params={"program_id": program["id"]}, headers=market.provider
    ).json()["enrollments"]
    assert len(provider_view) == 2
    stranger = market.token(role="provider", sub="other", provider_id=str(uuid.uuid4()))
    assert (
        market.http.get(
            "/api/v1/enrollments", params={"program_id": program["id"]}, headers=stranger
        ).json()["enrollments"]
        == []
    )
