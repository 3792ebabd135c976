"""Provider earnings over the public API: after a scripted mix of purchases, refunds (full,
partial, from the dashboard) and a lost dispute, the totals per currency and per program
equal the sum of the ledger lines, and the CSV statement lists exactly those lines."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import httpx
import pytest

from services.devstack.stack import PLATFORM_FEE_BPS, Stack
from services.gateway.schemas import INVALID_INSTANT_MESSAGE
from services.payments.stripe_events import stripe_id
from tests.e2e.test_refunds import (
    admin,
    charge,
    db_row,
    intent_of,
    paid_enrollment,
    refund,
    refunds_of,
    send_webhook,
)
from tests.e2e.test_saga_paths import Market
from tests.polling import eventually


@pytest.fixture
def market(stack: Stack) -> Iterator[Market]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as http:
        yield Market(http)


def statement(market: Market, provider: str, **params: str) -> list[dict[str, str]]:
    answer = market.http.get(
        f"/api/v1/providers/{provider}/earnings.csv", params=params, headers=market.provider
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(answer.text)))


def test_earnings_add_up_to_the_ledger_and_the_statement(market: Market, stack: Stack) -> None:
    learners = [
        paid_enrollment(market, price={"amount_minor": p, "currency": "USD"}) for p in (4999, 1234)
    ]
    euro = paid_enrollment(market, price={"amount_minor": 777, "currency": "EUR"})
    disputed = paid_enrollment(market, price={"amount_minor": 2500, "currency": "USD"})
    provider = learners[0][1]["provider_id"]
    finance = admin(market)
    # Full refund, a partial one, a dashboard partial refund, a lost dispute.
    full = learners[0][2]
    assert refund(market, finance, full["id"]).status_code == 202
    part = learners[1][2]
    assert refund(market, finance, part["id"], {"amount_minor": 234}, key="p").status_code == 202
    send_webhook(
        market,
        stack,
        "charge.refunded",
        charge(euro[2], intent_of(stack, euro[2]["payment_id"]), 777, 77, []),
    )
    intent = intent_of(stack, disputed[2]["payment_id"])
    send_webhook(
        market,
        stack,
        "charge.dispute.closed",
        {
            "id": stripe_id("dp_"),
            "object": "dispute",
            "amount": 2500,
            "currency": "usd",
            "payment_intent": intent,
            "reason": "fraudulent",
            "status": "lost",
        },
    )

    def booked(enrollment_id: str) -> list[dict[str, Any]]:
        return [r for r in refunds_of(market, enrollment_id) if r["status"] == "SUCCEEDED"]

    for enrolled in (full, part, euro[2], disputed[2]):
        eventually(partial(booked, enrolled["id"]), what="every refund booked")

    answer = market.http.get(f"/api/v1/providers/{provider}/earnings", headers=market.provider)
    assert answer.status_code == 200, answer.text
    earned = answer.json()
    lines = statement(market, provider)
    assert len(lines) == 4 + 4  # four charges, four reversals

    expected: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line in lines:
        gross, fee, net = (
            int(line[k]) for k in ("gross_minor", "platform_fee_minor", "provider_net_minor")
        )
        assert fee + net == gross
        for key in ((line["currency"], ""), (line["currency"], line["program_id"])):
            bucket = expected[key]
            bucket["net_minor"] += net
            bucket["platform_fee_minor"] += fee
            if line["kind"] == "charge":
                bucket["gross_minor"] += gross
                bucket["charges"] += 1
                assert int(line["fee_bps"]) == PLATFORM_FEE_BPS
            else:
                bucket[f"{line['kind']}s_minor"] += -gross
    got = {(t["currency"], t["program_id"] or ""): t for t in earned["totals"] + earned["programs"]}
    assert set(got) == set(expected)
    for key, sums in expected.items():
        for field in (
            "gross_minor",
            "platform_fee_minor",
            "refunds_minor",
            "disputes_minor",
            "net_minor",
            "charges",
        ):
            assert got[key][field] == sums.get(field, 0), (key, field)
        # Everything is new: inside the refund window, so pending, none available yet.
        assert got[key]["available_minor"] == 0
        assert got[key]["pending_minor"] == got[key]["net_minor"]

    usd = got[("USD", "")]
    assert usd["refunds_minor"] == 4999 + 234
    assert usd["disputes_minor"] == 2500
    assert got[("EUR", "")]["refunds_minor"] == 77
    # A period that ends before anything was booked is empty; one around now holds all.
    before = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    empty = market.http.get(
        f"/api/v1/providers/{provider}/earnings", params={"to": before}, headers=finance
    ).json()
    assert empty["totals"] == []
    assert empty["programs"] == []
    assert statement(market, provider, to=before) == []
    assert len(statement(market, provider, **{"from": before})) == len(lines)


def test_earnings_are_for_their_provider_and_admins_only(market: Market) -> None:
    program = market.program()
    provider = program["provider_id"]
    path = f"/api/v1/providers/{provider}/earnings"
    other = Market(market.http)
    for who, status in (
        (market.provider, 200),
        (admin(market), 200),
        (other.provider, 403),
        (market.learner(), 403),
        ({}, 401),
    ):
        assert market.http.get(path, headers=who).status_code == status, who
        assert market.http.get(path + ".csv", headers=who).status_code == status, who


@pytest.mark.parametrize(
    ("path_id", "params", "status"),
    [
        ("not-a-uuid", {}, 404),
        ("%00", {}, 404),
        (None, {"from": "yesterday"}, 422),
        (None, {"to": "2026-13-40T00:00:00Z"}, 422),
        (None, {"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, 422),
        (None, {"from": "\x00"}, 422),
        (None, {"from": "0001-01-01T00:00:00+05:00"}, 422),
        (None, {"to": "9999-12-31T23:59:59-05:00"}, 422),
        (None, {"from": "0001-01-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"}, 200),
        # Only RFC 3339 date-times: pydantic alone read a number as Unix seconds and took a
        # bare date (found by schemathesis' negative data with more examples than CI runs).
        (None, {"to": "0.5"}, 422),
        (None, {"from": "1700000000"}, 422),
        (None, {"from": "2026-01-31"}, 422),
        (None, {"to": "2026-01-31T00:00Z"}, 422),
        (None, {"to": "2026-01-31T00:00:00Z\n"}, 422),
        (None, {"from": "2026-01-31T00:00:00"}, 200),  # no offset: read as UTC
        (None, {"from": "2026-01-31 00:00:00.123456+02:00"}, 200),
    ],
)
def test_earnings_hostile_input(
    market: Market, path_id: str | None, params: dict[str, str], status: int
) -> None:
    provider = path_id or market.program()["provider_id"]
    for suffix in ("", ".csv"):
        answer = market.http.get(
            f"/api/v1/providers/{provider}/earnings{suffix}", params=params, headers=admin(market)
        )
        assert answer.status_code == status, (suffix, answer.text)
        if status >= 400:
            assert answer.headers["content-type"].startswith("application/problem+json")


def test_a_number_for_an_instant_says_what_an_instant_is(market: Market) -> None:
    provider = market.program()["provider_id"]
    answer = market.http.get(
        f"/api/v1/providers/{provider}/earnings", params={"to": "0.5"}, headers=admin(market)
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [{"field": "to", "message": INVALID_INSTANT_MESSAGE}]


def test_an_unknown_provider_has_no_earnings(market: Market) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    answer = market.http.get(f"/api/v1/providers/{unknown}/earnings", headers=admin(market))
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body["totals"] == []
    assert body["programs"] == []


# ---------------------------------------------------------------- payouts (Connect)


def test_a_payout_account_makes_checkouts_destination_charges(market: Market, stack: Stack) -> None:
    provider = market.program()["provider_id"]
    path = f"/api/v1/providers/{provider}/payout-account"
    made = market.http.post(path, headers=market.provider)
    assert made.status_code == 200, made.text
    account = made.json()["account_id"]
    assert account.startswith("acct_")
    assert "onboarding=complete" in made.json()["url"]  # the local provider onboards at once
    assert market.http.post(path, headers=admin(market)).json()["account_id"] == account
    assert market.http.post(path, headers=Market(market.http).provider).status_code == 403
    assert market.http.post(path, headers=market.learner()).status_code == 403
    assert market.http.post(path).status_code == 401
    for bad in ("not-a-uuid", "%00"):
        answer = market.http.post(f"/api/v1/providers/{bad}/payout-account", headers=admin(market))
        assert answer.status_code == 404, answer.text

    learner, _, enrolled = paid_enrollment(market)
    price = enrolled["price"]["amount_minor"]
    row = db_row(
        stack,
        "payments",
        "SELECT destination_account, application_fee_minor FROM payments WHERE id = $1",
        enrolled["payment_id"],
    )
    assert (row["destination_account"], row["application_fee_minor"]) == (
        account,
        (price * PLATFORM_FEE_BPS + 5_000) // 10_000,
    )
    assert refund(market, admin(market), enrolled["id"]).status_code == 202
    eventually(lambda: market.get(learner, enrolled["id"])["status"] == "REFUNDED")
    # The local provider's refund reversed the transfer and the fee, as Stripe's would.
    metadata = db_row(
        stack,
        "payments",
        """SELECT r.metadata FROM local_refunds r JOIN payments p
             ON p.gateway_payment_id = r.payment_intent WHERE p.id = $1""",
        enrolled["payment_id"],
    )["metadata"]
    assert json.loads(metadata)["reverse_transfer"] == "true"
