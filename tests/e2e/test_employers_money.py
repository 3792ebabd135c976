"""Seat pack money end to end on the real services: a provider's volume tier prices a
pack (seats x the tier's price per seat), the checkout page and the buyer's receipt name
the employer and the seats, the refund of unassigned seats lands in the provider's ledger
and earnings at the tier price, and `upskill reconcile` accounts for packs as for single
purchases: clean on healthy packs, each drift found with its ids, the lost payment event
re-published by --repair. Plus hostile tiers at the HTTP edge."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from upskill.enrollment.v1 import events_pb2

from services.devstack.stack import Stack
from tests.e2e.test_earnings import statement
from tests.e2e.test_employers import CARD, employer, invite, paid_pack, person, redeem
from tests.e2e.test_reconcile import reconcile
from tests.e2e.test_refunds import charge, db_value, intent_of, refunds_of, send_webhook
from tests.e2e.test_saga_paths import Market
from tests.polling import eventually

TIERS = [
    {"min_seats": 3, "unit_amount_minor": 4000},
    {"min_seats": 10, "unit_amount_minor": 3500},
]


@pytest.fixture
def market(stack: Stack) -> Iterator[Market]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as http:
        yield Market(http)


def buy(market: Market, manager: dict[str, str], company: str, program: str, seats: int) -> Any:
    made = market.http.post(
        f"/api/v1/employers/{company}/seat-packs",
        json={"program_id": program, "seats": seats},
        headers=manager,
    )
    assert made.status_code == 201, made.text
    return made.json()


def staged(stack: Stack, name: str, pack_id: str) -> bytes:
    """The one event of that name staged for the pack in enrollment's outbox."""
    payloads = db_value(
        stack,
        "enrollment",
        "SELECT array_agg(payload) FROM outbox WHERE type = $1 AND ce_subject = $2",
        f"upskill.enrollment.v1.{name}",
        pack_id,
    )
    assert payloads is not None, name
    assert len(payloads) == 1, (name, payloads)
    return bytes(payloads[0])


def page(market: Market, who: dict[str, str], path: str) -> httpx.Response:
    """A page as the signed-in person sees it (dev mode: their token in the session cookie)."""
    token = who["authorization"].removeprefix("Bearer ")
    return market.http.get(path, cookies={"upskill_token": token})


def test_a_volume_tier_prices_the_pack_and_checkout_and_receipt_name_the_employer(
    market: Market,
) -> None:
    program = market.program(capacity=20, volume_tiers=TIERS)
    assert program["volume_tiers"] == TIERS
    _, manager = person(market, "buyer")
    company = employer(market, manager)

    below = buy(market, manager, company["id"], program["id"], 2)  # under every tier
    assert below["price_per_seat"] == {"amount_minor": 4900, "currency": "USD"}
    assert below["total"] == {"amount_minor": 2 * 4900, "currency": "USD"}
    pack = buy(market, manager, company["id"], program["id"], 3)
    assert pack["price_per_seat"] == {"amount_minor": 4000, "currency": "USD"}
    assert pack["total"] == {"amount_minor": 3 * 4000, "currency": "USD"}

    checkout = market.http.get("/" + pack["checkout_url"].split("/", 3)[3])
    assert checkout.status_code == 200, checkout.text
    for shown in ("Initech", "Price per seat", "40.00 USD", "120.00 USD", "3 seats"):
        assert shown in checkout.text, shown
    assert "Billed to" in checkout.text

    assert market.pay(pack, CARD).status_code == 303
    url = f"/api/v1/employers/{company['id']}/seat-packs/{pack['id']}"
    paid = eventually(
        lambda: (p := market.http.get(url, headers=manager).json())["status"] == "PAID" and p,
        what="the tier-priced pack to be paid",
    )
    assert pack["receipt_url"] is None  # nothing paid yet
    assert paid["receipt_url"] == f"/learning/receipts/{paid['payment_id']}"
    receipt = page(market, manager, paid["receipt_url"])
    assert receipt.status_code == 200, receipt.text
    for shown in ("Billed to", "Initech", "Seats", "Price per seat", "40.00 USD", "120.00 USD"):
        assert shown in receipt.text, shown
    assert program["title"] in receipt.text
    # Someone else's pack receipt does not exist for them.
    _, stranger = person(market, "stranger")
    assert page(market, stranger, f"/learning/receipts/{paid['payment_id']}").status_code == 404

    # A single purchase's checkout and receipt name no employer.
    learner = market.learner()
    single = market.enroll(learner, program["id"]).json()
    assert "Billed to" not in market.http.get("/" + single["checkout_url"].split("/", 3)[3]).text
    assert market.pay(single, CARD).status_code == 303
    done = eventually(
        lambda: (e := market.get(learner, single["id"]))["status"] == "ACTIVE" and e,
        what="the single purchase to be paid",
    )
    alone = page(market, learner, f"/learning/receipts/{done['payment_id']}")
    assert alone.status_code == 200, alone.text
    assert "Billed to" not in alone.text
    assert "49.00 USD" in alone.text


def test_refunded_unassigned_seats_are_in_the_ledger_at_the_tier_price_and_reconcile_clean(
    market: Market, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    program = market.program(capacity=20, volume_tiers=TIERS)
    provider = program["provider_id"]
    _, manager = person(market, "ledger")
    pack = paid_pack(market, manager, employer(market, manager)["id"], program["id"], 3)
    assert pack["total"]["amount_minor"] == 12000
    email, who = person(market, "seated")
    assert redeem(market, who, invite(market, manager, pack, [email])[email]).status_code == 201
    refunded = market.http.post(
        f"/api/v1/employers/{pack['employer_id']}/seat-packs/{pack['id']}/refund-unassigned",
        headers=manager,
    )
    assert refunded.status_code == 202, refunded.text
    eventually(
        lambda: [r for r in refunds_of(market, pack["id"]) if r["status"] == "SUCCEEDED"],
        what="the refund of two unassigned seats",
    )

    earned = market.http.get(f"/api/v1/providers/{provider}/earnings", headers=market.provider)
    assert earned.status_code == 200, earned.text
    [usd] = [t for t in earned.json()["programs"] if t["program_id"] == program["id"]]
    assert (usd["charges"], usd["gross_minor"], usd["refunds_minor"]) == (1, 12000, 2 * 4000)
    fee_and_net = usd["platform_fee_minor"] + usd["net_minor"]
    assert fee_and_net == 12000 - 8000
    lines = [
        (line["kind"], int(line["gross_minor"]))
        for line in statement(market, provider)
        if line["program_id"] == program["id"]
    ]
    assert sorted(lines) == sorted([("charge", 12000), ("refund", -8000)])
    # The pack announced both changes through enrollment's outbox, once each.
    paid_event = events_pb2.SeatPackPaid.FromString(staged(stack, "SeatPackPaid", pack["id"]))
    assert (paid_event.seats, paid_event.total.amount_minor) == (3, 12000)
    assert paid_event.price_per_seat.amount_minor == 4000
    assert paid_event.payment_id == pack["payment_id"]
    released = events_pb2.SeatPackSeatsReleased.FromString(
        staged(stack, "SeatPackSeatsReleased", pack["id"])
    )
    assert (released.seats_released, released.seats_left) == (2, 1)
    assert released.refund.amount_minor == 8000
    # The pack's payment (its order id is the pack's) and its partial refund agree.
    assert reconcile(stack, capsys, provider) == (0, [])


def test_reconcile_finds_drifted_packs_and_repair_re_publishes_the_lost_payment(
    market: Market, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    program = market.program(capacity=20)
    provider = program["provider_id"]
    _, manager = person(market, "drift")
    company = employer(market, manager)["id"]
    lost_payment, refund_lost, overredeemed, unpaid = (
        paid_pack(market, manager, company, program["id"], 2) for _ in range(4)
    )
    email, who = person(market, "seat")
    assert (
        redeem(market, who, invite(market, manager, overredeemed, [email])[email]).status_code
        == 201
    )
    assert reconcile(stack, capsys, provider) == (0, [])

    # Drift, one database at a time.
    db_value(
        stack,
        "enrollment",
        "UPDATE seat_packs SET status = 'PENDING_PAYMENT' WHERE id = $1",
        lost_payment["id"],
    )
    db_value(  # seats given back whose refund payments never heard of
        stack,
        "enrollment",
        """WITH p AS (UPDATE seat_packs SET seats = 1, seats_refunded = 1 WHERE id = $1
                      RETURNING id)
           INSERT INTO seat_pack_refunds (id, seat_pack_id, seats, amount_minor)
           SELECT $2, id, 1, 4900 FROM p""",
        refund_lost["id"],
        str(uuid.uuid4()),
    )
    db_value(
        stack, "enrollment", "UPDATE seat_packs SET seats = 0 WHERE id = $1", overredeemed["id"]
    )
    db_value(
        stack,
        "payments",
        "UPDATE payments SET status = 'FAILED' WHERE id = $1",
        unpaid["payment_id"],
    )

    status, drifts = reconcile(stack, capsys, provider)
    assert status == 3
    found = {(d["kind"], d["enrollment_id"], d["payment_id"]) for d in drifts}
    assert found == {
        ("pack_paid_not_paid", lost_payment["id"], lost_payment["payment_id"]),
        ("pack_seat_refund_not_booked", refund_lost["id"], refund_lost["payment_id"]),
        ("pack_overredeemed", overredeemed["id"], overredeemed["payment_id"]),
        ("pack_paid_without_payment", unpaid["id"], unpaid["payment_id"]),
    }
    assert [d["repair"] for d in drifts if d["kind"] == "pack_paid_not_paid"] == [
        "republish PaymentSucceeded"
    ]

    reconcile(stack, capsys, provider, "--repair")
    url = f"/api/v1/employers/{company}/seat-packs/{lost_payment['id']}"
    eventually(
        lambda: market.http.get(url, headers=manager).json()["status"] == "PAID",
        what="the re-published payment to pay the pack again",
    )
    status, drifts = reconcile(stack, capsys, provider)
    assert {d["kind"] for d in drifts} == {
        "pack_seat_refund_not_booked",
        "pack_overredeemed",
        "pack_paid_without_payment",
    }  # only reported: no event can fix them


def test_reconcile_finds_a_pack_refund_payments_made_beyond_its_seats(
    market: Market, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    program = market.program(capacity=20)
    provider = program["provider_id"]
    _, manager = person(market, "over")
    pack = paid_pack(market, manager, employer(market, manager)["id"], program["id"], 2)
    # 1.00 USD returned from Stripe's dashboard: money back, no seat given back.
    intent = intent_of(stack, pack["payment_id"])
    send_webhook(market, stack, "charge.refunded", charge(pack, intent, 9800, 100, ["re_x"]))
    eventually(
        lambda: [r for r in refunds_of(market, pack["id"]) if r["status"] == "SUCCEEDED"],
        what="the dashboard refund to be booked",
    )
    status, drifts = reconcile(stack, capsys, provider)
    assert status == 3
    assert [(d["kind"], d["enrollment_id"]) for d in drifts] == [
        ("pack_refund_seats_not_returned", pack["id"])
    ]


@pytest.mark.parametrize(
    "tiers",
    [
        [{"min_seats": 1, "unit_amount_minor": 4000}],
        [{"min_seats": 1001, "unit_amount_minor": 4000}],
        [{"min_seats": 3, "unit_amount_minor": -1}],
        [{"min_seats": 3, "unit_amount_minor": 2**63}],
        [{"min_seats": 3, "unit_amount_minor": 4900}],  # not below the price
        [{"min_seats": 5, "unit_amount_minor": 4000}, {"min_seats": 3, "unit_amount_minor": 3000}],
        [{"min_seats": 3, "unit_amount_minor": 3000}, {"min_seats": 5, "unit_amount_minor": 4000}],
        [{"min_seats": 2 + i, "unit_amount_minor": 4000 - i} for i in range(11)],
        [{"min_seats": "3", "unit_amount_minor": 4000}],
        [{"min_seats": 3, "unit_amount_minor": 4000, "currency": "EUR"}],
        [{"min_seats": 3}],
        None,
    ],
)
def test_hostile_volume_tiers_are_422_on_create_and_patch(
    market: Market, tiers: list[dict[str, Any]] | None
) -> None:
    program = market.program()
    created = market.http.post(
        "/api/v1/programs",
        json={**_body(program), "volume_tiers": tiers},
        headers=market.provider,
    )
    assert created.status_code == 422, created.text
    patched = market.http.patch(
        f"/api/v1/programs/{program['id']}",
        json={"volume_tiers": tiers},
        headers=market.provider | {"If-Match": f'"{program["version"]}"'},
    )
    assert patched.status_code == 422, patched.text
    assert patched.headers["content-type"].startswith("application/problem+json")


def test_tiers_are_patched_whole_and_a_price_below_a_tier_is_refused(market: Market) -> None:
    program = market.program()
    path = f"/api/v1/programs/{program['id']}"

    def patch(body: dict[str, Any], version: int) -> httpx.Response:
        return market.http.patch(
            path, json=body, headers=market.provider | {"If-Match": f'"{version}"'}
        )

    set_ = patch({"volume_tiers": TIERS}, program["version"])
    assert set_.status_code == 200, set_.text
    assert set_.json()["volume_tiers"] == TIERS
    assert market.http.get(path).json()["volume_tiers"] == TIERS
    cheaper = patch({"price": {"amount_minor": 3900, "currency": "USD"}}, set_.json()["version"])
    assert cheaper.status_code == 422, cheaper.text
    assert "volume_tiers" in cheaper.text
    cleared = patch({"volume_tiers": []}, set_.json()["version"])
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["volume_tiers"] == []


def _body(program: dict[str, Any]) -> dict[str, Any]:
    credential = {k: program["credential"][k] for k in ("name", "description", "criteria")}
    return {
        "title": program["title"],
        "skills": program["skills"],
        "price": program["price"],
        "credential": credential,
    }
