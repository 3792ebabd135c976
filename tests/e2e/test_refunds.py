"""Refunds from every source, end to end on real services (invariants 2, 3, 5, 7).

A refund asked through POST /api/v1/enrollments/{id}/refund, made in the gateway's
dashboard (a signed charge.refunded only), or a lost dispute: each ends with the enrollment
REFUNDED, its seat free and its credential REVOKED with reason `refunded`, in whatever
order the events arrive; a partial refund is booked and revokes nothing. Who may ask when
is services/enrollment/seats.py `decide_refund`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import httpx
import pytest

from services.devstack.stack import Stack
from services.payments.stripe_events import build_event, signature_header, stripe_id
from tests.e2e.test_saga_paths import Market
from tests.polling import eventually

CARD = "4242424242424242"


@pytest.fixture
def market(stack: Stack) -> Iterator[Market]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as http:
        yield Market(http)


# ---------------------------------------------------------------- helpers


def paid_enrollment(
    market: Market, *, issuance: str = "ON_PAYMENT", **program: Any
) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """(learner, program, enrollment) for an enrollment that is paid and ACTIVE (with its
    credential, for ON_PAYMENT programs)."""
    made = market.program(issuance=issuance, **program)
    learner = market.learner()
    enrollment = market.enroll(learner, made["id"]).json()
    assert market.pay(enrollment, CARD).status_code == 303
    if issuance == "ON_PAYMENT":
        done = eventually(
            lambda: (e := market.get(learner, enrollment["id"]))["credential_id"] and e,
            what="the credential issued on payment",
        )
    else:
        done = eventually(
            lambda: (e := market.get(learner, enrollment["id"]))["status"] == "ACTIVE" and e,
            what="the enrollment to turn ACTIVE",
        )
    return learner, made, done


def refund(
    market: Market,
    who: dict[str, str],
    enrollment_id: str,
    body: dict[str, Any] | None = None,
    key: str = "",
) -> httpx.Response:
    headers = who | ({"Idempotency-Key": key} if key else {})
    return market.http.post(
        f"/api/v1/enrollments/{enrollment_id}/refund", json=body, headers=headers
    )


def admin(market: Market) -> dict[str, str]:
    return market.token(role="admin", sub="finance")


def refunds_of(market: Market, enrollment_id: str) -> list[dict[str, Any]]:
    listed = market.http.get(
        "/api/v1/refunds", params={"enrollment_id": enrollment_id}, headers=admin(market)
    )
    assert listed.status_code == 200, listed.text
    return list(listed.json()["refunds"])


def credential(market: Market, credential_id: str) -> dict[str, Any]:
    found = market.http.get(f"/api/v1/credentials/{credential_id}")
    assert found.status_code == 200, found.text
    return dict(found.json())


def assert_refunded_and_revoked(
    market: Market, learner: dict[str, str], enrolled: dict[str, Any]
) -> None:
    """Invariant 3: REFUNDED, and the credential REVOKED for `refunded`, on its page and in
    the public status list (the verifier reads the list)."""
    eventually(
        lambda: market.get(learner, enrolled["id"])["status"] == "REFUNDED",
        what="the enrollment to turn REFUNDED",
    )
    if not enrolled.get("credential_id"):
        return
    revoked = eventually(
        lambda: (c := credential(market, enrolled["credential_id"]))["status"] == "REVOKED" and c,
        what="the credential to be revoked",
    )
    assert revoked["revocation_reason"] == "refunded"
    page = market.http.get(f"/credentials/{revoked['id']}")
    assert page.status_code == 200, page.text
    assert "Revoked" in page.text
    assert "refunded" in page.text
    verified = market.http.post("/api/v1/credentials/verify", json={"credential": revoked["jwt"]})
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified"] is False
    assert verified.json()["status"] == "REVOKED"


def db_value(stack: Stack, service: str, sql: str, *args: Any) -> Any:
    async def run() -> Any:
        conn = await asyncpg.connect(stack.database_urls[service])
        try:
            return await conn.fetchval(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def db_row(stack: Stack, service: str, sql: str, *args: Any) -> Any:
    async def run() -> Any:
        conn = await asyncpg.connect(stack.database_urls[service])
        try:
            return await conn.fetchrow(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def send_webhook(market: Market, stack: Stack, event_type: str, obj: dict[str, Any]) -> str:
    """Sign and post a Stripe event as Stripe itself would (what a dashboard refund or a
    dispute looks like to us); returns its body, to send again verbatim."""
    event = build_event(event_type, obj)
    post_webhook(market, stack, event.payload)
    return event.payload


def post_webhook(market: Market, stack: Stack, payload: str) -> httpx.Response:
    assert stack.secrets is not None
    sent = market.http.post(
        "/webhooks/stripe",
        content=payload.encode(),
        headers={
            "Stripe-Signature": signature_header(payload, stack.secrets.stripe_webhook_secret),
            "content-type": "application/json",
        },
    )
    assert sent.status_code == 200, sent.text
    return sent


def charge(
    enrollment: dict[str, Any], intent: str, amount: int, refunded: int, refund_ids: list[str]
) -> dict[str, Any]:
    """A charge.refunded object as a dashboard refund sends it: no metadata of ours on the
    refunds, the PaymentIntent's metadata on the charge."""
    charge_id = "ch_" + intent.removeprefix("pi_")
    per = refunded // max(1, len(refund_ids))
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": refunded,
        "currency": "usd",
        "metadata": {"payment_id": enrollment["payment_id"], "enrollment_id": enrollment["id"]},
        "paid": True,
        "payment_intent": intent,
        "refunded": refunded >= amount,
        "refunds": {
            "object": "list",
            "data": [
                {
                    "id": rid,
                    "object": "refund",
                    "amount": per,
                    "charge": charge_id,
                    "currency": "usd",
                    "metadata": {},
                    "payment_intent": intent,
                    "status": "succeeded",
                }
                for rid in refund_ids
            ],
            "has_more": False,
        },
        "status": "succeeded",
    }


def intent_of(stack: Stack, payment_id: str) -> str:
    intent = eventually(
        lambda: db_value(
            stack, "payments", "SELECT gateway_payment_id FROM payments WHERE id = $1", payment_id
        ),
        what="the payment's PaymentIntent",
    )
    return str(intent)


# ---------------------------------------------------------------- through the API


def test_an_admin_refund_frees_the_seat_and_revokes_the_credential(market: Market) -> None:
    learner, program, enrolled = paid_enrollment(market, capacity=1)
    asked = refund(market, admin(market), enrolled["id"], {"reason": "course cancelled"})
    assert asked.status_code == 202, asked.text
    made = asked.json()
    assert made["full_refund"] is True
    assert made["reason"] == "requested_by_admin"
    assert made["amount"] == enrolled["price"]

    assert_refunded_and_revoked(market, learner, enrolled)
    done = eventually(
        lambda: [r for r in refunds_of(market, enrolled["id"]) if r["status"] == "SUCCEEDED"]
    )
    assert [r["id"] for r in done] == [made["id"]]
    assert done[0]["gateway_refund_id"].startswith("re_")
    # The seat is free again: someone else may take the only one.
    assert market.enroll(market.learner(), program["id"]).status_code == 201
    # Asking again is the same refund, not a second one.
    again = refund(market, admin(market), enrolled["id"])
    assert again.status_code == 202, again.text
    assert again.json()["id"] == made["id"]
    assert len(refunds_of(market, enrolled["id"])) == 1


def test_the_learner_may_refund_within_the_window_only(market: Market, stack: Stack) -> None:
    learner, _, enrolled = paid_enrollment(market)
    assert refund(market, learner, enrolled["id"]).status_code == 202
    assert_refunded_and_revoked(market, learner, enrolled)

    late_learner, _, late = paid_enrollment(market)
    db_value(
        stack,
        "enrollment",
        "UPDATE enrollments SET created_at = now() - interval '15 days' WHERE id = $1",
        late["id"],
    )
    refused = refund(market, late_learner, late["id"])
    assert refused.status_code == 403, refused.text
    assert "refund window" in refused.json()["detail"]
    assert refunds_of(market, late["id"]) == []
    # Staff still may.
    assert refund(market, market.provider, late["id"]).status_code == 202


def test_a_learner_cannot_refund_a_completed_enrollment_nor_in_part(market: Market) -> None:
    learner, _, enrolled = paid_enrollment(market, issuance="ON_COMPLETION")
    partial = refund(market, learner, enrolled["id"], {"amount_minor": 100}, key="p1")
    assert partial.status_code == 403, partial.text
    done = market.http.post(
        f"/api/v1/enrollments/{enrolled['id']}/complete", json={}, headers=market.provider
    )
    assert done.status_code == 200, done.text
    refused = refund(market, learner, enrolled["id"])
    assert refused.status_code == 403, refused.text
    assert "completed" in refused.json()["detail"]


def test_providers_refund_their_own_programs_only(market: Market, stack: Stack) -> None:
    learner, _, enrolled = paid_enrollment(market)
    other = Market(market.http)  # another provider, with programs of its own
    refused = refund(market, other.provider, enrolled["id"])
    assert refused.status_code == 404, refused.text  # another's enrollment does not exist
    stranger = refund(market, market.learner(), enrolled["id"])
    assert stranger.status_code == 404, stranger.text
    assert refunds_of(market, enrolled["id"]) == []
    asked = refund(market, market.provider, enrolled["id"])
    assert asked.status_code == 202, asked.text
    assert asked.json()["reason"] == "requested_by_provider"
    assert_refunded_and_revoked(market, learner, enrolled)


def test_a_free_or_unpaid_enrollment_has_nothing_to_refund(market: Market) -> None:
    free = market.program(price={"amount_minor": 0, "currency": "USD"})
    learner = market.learner()
    enrolled = market.enroll(learner, free["id"]).json()
    refused = refund(market, admin(market), enrolled["id"])
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert "free enrollment" in refused.json()["detail"]

    pending = market.enroll(market.learner(), market.program()["id"]).json()
    unpaid = refund(market, admin(market), pending["id"])
    assert unpaid.status_code == 409, unpaid.text
    assert "PENDING_PAYMENT" in unpaid.json()["detail"]


@pytest.mark.parametrize(
    "path_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "%00", "é"]
)
def test_refund_of_unknown_ids_is_404(market: Market, path_id: str) -> None:
    response = refund(market, admin(market), path_id)
    assert response.status_code == 404, response.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "x" * 501}, "reason"),
        ({"reason": "bad\x00reason"}, "reason"),
        ({"amount_minor": 0}, "amount_minor"),
        ({"amount_minor": -5}, "amount_minor"),
        ({"amount_minor": 10**20}, "amount_minor"),
        ({"amount_minor": "100"}, "amount_minor"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_refund_bodies_out_of_bounds_are_422(
    market: Market, body: dict[str, Any], field: str
) -> None:
    response = refund(market, admin(market), "00000000-0000-0000-0000-000000000000", body, key="k")
    assert response.status_code == 422, response.text
    assert field in json.dumps(response.json()["errors"])


def test_a_partial_refund_is_booked_and_revokes_nothing(market: Market) -> None:
    learner, _, enrolled = paid_enrollment(market)
    price = enrolled["price"]["amount_minor"]
    no_key = refund(market, admin(market), enrolled["id"], {"amount_minor": 100})
    assert no_key.status_code == 422, no_key.text
    too_much = refund(market, admin(market), enrolled["id"], {"amount_minor": price + 1}, key="a")
    assert too_much.status_code == 409, too_much.text

    first = refund(market, admin(market), enrolled["id"], {"amount_minor": 100}, key="a")
    assert first.status_code == 202, first.text
    assert first.json()["full_refund"] is False
    same = refund(market, admin(market), enrolled["id"], {"amount_minor": 100}, key="a")
    assert same.json()["id"] == first.json()["id"]
    other_amount = refund(market, admin(market), enrolled["id"], {"amount_minor": 200}, key="a")
    assert other_amount.status_code == 409, other_amount.text
    eventually(
        lambda: [r for r in refunds_of(market, enrolled["id"]) if r["status"] == "SUCCEEDED"]
    )
    assert market.get(learner, enrolled["id"])["status"] == "ACTIVE"
    assert credential(market, enrolled["credential_id"])["status"] == "ISSUED"

    # The rest, in full: now it revokes, and the refund is "full" (nothing is left).
    rest = refund(market, admin(market), enrolled["id"])
    assert rest.status_code == 202, rest.text
    assert rest.json()["amount"]["amount_minor"] == price - 100
    assert_refunded_and_revoked(market, learner, enrolled)


def test_concurrent_refund_requests_make_one_refund(market: Market) -> None:
    learner, _, enrolled = paid_enrollment(market)
    headers = admin(market)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: refund(market, headers, enrolled["id"]), range(8)))
    assert {a.status_code for a in answers} == {202}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert_refunded_and_revoked(market, learner, enrolled)
    assert len(refunds_of(market, enrolled["id"])) == 1


# ---------------------------------------------------------------- from the gateway only


def test_a_dashboard_refund_arrives_by_webhook_only_and_applies_once(
    market: Market, stack: Stack
) -> None:
    learner, _, enrolled = paid_enrollment(market)
    price = enrolled["price"]["amount_minor"]
    intent = intent_of(stack, enrolled["payment_id"])
    payload = build_event(
        "charge.refunded", charge(enrolled, intent, price, price, [stripe_id("re_")])
    ).payload
    # The same delivery five times at once: one refund, one effect.
    with ThreadPoolExecutor(5) as pool:
        list(pool.map(lambda _: post_webhook(market, stack, payload), range(5)))
    assert_refunded_and_revoked(market, learner, enrolled)
    listed = refunds_of(market, enrolled["id"])
    assert len(listed) == 1, listed
    assert listed[0]["reason"] == "gateway_refund"
    assert listed[0]["status"] == "SUCCEEDED"
    assert listed[0]["full_refund"] is True
    # Its refund.updated afterwards is the same refund: nothing more happens.
    refund_object = json.loads(payload)["data"]["object"]["refunds"]["data"][0]
    send_webhook(market, stack, "refund.updated", refund_object)
    assert len(refunds_of(market, enrolled["id"])) == 1


def test_a_partial_dashboard_refund_revokes_nothing(market: Market, stack: Stack) -> None:
    learner, _, enrolled = paid_enrollment(market)
    price = enrolled["price"]["amount_minor"]
    intent = intent_of(stack, enrolled["payment_id"])
    send_webhook(market, stack, "charge.refunded", charge(enrolled, intent, price, 300, []))
    booked = eventually(lambda: refunds_of(market, enrolled["id"]))
    assert [(r["amount"]["amount_minor"], r["full_refund"]) for r in booked] == [(300, False)]
    assert market.get(learner, enrolled["id"])["status"] == "ACTIVE"
    assert credential(market, enrolled["credential_id"])["status"] == "ISSUED"


def test_a_refund_delivered_before_the_payment_ends_the_same(market: Market, stack: Stack) -> None:
    program = market.program(issuance="ON_PAYMENT")
    learner = market.learner()
    enrolled = market.enroll(learner, program["id"]).json()
    price = enrolled["price"]["amount_minor"]
    # The refund's webhook outruns checkout.session.completed (intent not known yet).
    send_webhook(
        market,
        stack,
        "charge.refunded",
        charge(enrolled, stripe_id("pi_"), price, price, [stripe_id("re_")]),
    )
    assert market.get(learner, enrolled["id"])["status"] == "PENDING_PAYMENT"
    assert market.pay(enrolled, CARD).status_code == 303
    eventually(
        lambda: market.get(learner, enrolled["id"])["status"] == "REFUNDED",
        what="the enrollment to end REFUNDED",
    )
    assert [r["status"] for r in refunds_of(market, enrolled["id"])] == ["SUCCEEDED"]

    # A credential, if its issuing event was handled first, is revoked (asynchronously,
    # like every revocation); none stays valid.
    def mine() -> list[dict[str, Any]]:
        listed = market.http.get("/api/v1/credentials", headers=learner).json()["credentials"]
        return [c for c in listed if c["enrollment_id"] == enrolled["id"]]

    eventually(
        mine,
        until=lambda found: all(c["status"] == "REVOKED" for c in found),
        what="no valid credential of the refunded enrollment",
    )


def test_a_refund_before_the_credential_is_earned_means_it_is_never_issued(market: Market) -> None:
    learner, _, enrolled = paid_enrollment(market, issuance="ON_COMPLETION")
    assert refund(market, admin(market), enrolled["id"]).status_code == 202
    assert_refunded_and_revoked(market, learner, enrolled)
    late = market.http.post(
        f"/api/v1/enrollments/{enrolled['id']}/complete", json={}, headers=market.provider
    )
    assert late.status_code == 409, late.text
    assert market.get(learner, enrolled["id"])["credential_id"] in (None, "")


def test_a_lost_dispute_behaves_like_a_refund(market: Market, stack: Stack) -> None:
    learner, _, enrolled = paid_enrollment(market)
    price = enrolled["price"]["amount_minor"]
    intent = intent_of(stack, enrolled["payment_id"])
    dispute = {
        "id": stripe_id("dp_"),
        "object": "dispute",
        "amount": price,
        "charge": "ch_" + intent.removeprefix("pi_"),
        "currency": "usd",
        "metadata": {},
        "payment_intent": intent,
        "reason": "fraudulent",
        "status": "needs_response",
    }
    send_webhook(market, stack, "charge.dispute.created", dispute)
    shown = market.http.get("/api/v1/disputes", headers=admin(market))
    assert shown.status_code == 200, shown.text
    mine = [d for d in shown.json()["disputes"] if d["gateway_dispute_id"] == dispute["id"]]
    assert [(d["status"], d["enrollment_id"]) for d in mine] == [("needs_response", enrolled["id"])]
    assert market.get(learner, enrolled["id"])["status"] == "ACTIVE"

    send_webhook(market, stack, "charge.dispute.closed", dispute | {"status": "lost"})
    assert_refunded_and_revoked(market, learner, enrolled)
    listed = refunds_of(market, enrolled["id"])
    assert [(r["reason"], r["full_refund"]) for r in listed] == [("dispute_lost", True)]
    # Disputes are for operators only.
    assert market.http.get("/api/v1/disputes", headers=learner).status_code == 403


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"page_size": "101"}, 422),
        ({"page_size": "-1"}, 422),
        ({"page_size": "x"}, 422),
        ({"page_token": "x" * 201}, 422),
        ({"page_token": "not-a-token"}, 422),
        ({"page_token": "a\x00b"}, 422),
    ],
)
def test_the_dispute_listing_refuses_bad_input(
    market: Market, params: dict[str, str], status: int
) -> None:
    response = market.http.get("/api/v1/disputes", params=params, headers=admin(market))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_only_operators_list_disputes(market: Market) -> None:
    assert market.http.get("/api/v1/disputes").status_code == 401
    assert market.http.get("/api/v1/disputes", headers=market.provider).status_code == 403
    page = market.http.get("/api/v1/disputes", params={"page_size": 1}, headers=admin(market))
    assert page.status_code == 200, page.text


def test_the_dispute_listing_walks_every_page_once(market: Market, stack: Stack) -> None:
    opened = []
    for _ in range(2):
        _, _, enrolled = paid_enrollment(market)
        intent = intent_of(stack, enrolled["payment_id"])
        dispute_id = stripe_id("dp_")
        send_webhook(
            market,
            stack,
            "charge.dispute.created",
            {
                "id": dispute_id,
                "object": "dispute",
                "amount": 100,
                "currency": "usd",
                "payment_intent": intent,
                "reason": "general",
                "status": "needs_response",
            },
        )
        opened.append(dispute_id)
    seen: list[str] = []
    params: dict[str, Any] = {"page_size": 1}
    while True:
        page = market.http.get("/api/v1/disputes", params=params, headers=admin(market)).json()
        assert len(page["disputes"]) <= 1
        seen += [d["gateway_dispute_id"] for d in page["disputes"]]
        if not page["next_page_token"]:
            break
        params["page_token"] = page["next_page_token"]
    assert len(seen) == len(set(seen))
    assert set(opened) <= set(seen)
