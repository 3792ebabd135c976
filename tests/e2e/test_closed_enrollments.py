"""Invariant 7 over the public API: a closed enrollment's checkout cannot take a seat.

Cancelling (or expiring) an enrollment closes its checkout; money that still arrives for
it is refunded, listed for operators, and never re-opens the enrollment or oversells the
program. The rule is services/enrollment/seats.py `decide_payment`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import nats
import pytest

from services.cli.dlq import list_dead_letters
from services.cli.main import main as cli_main
from services.devstack.stack import Stack
from tests.e2e.test_saga_paths import Market, eventually

CARD = "4242424242424242"
RACE_RUNS = 6


@pytest.fixture
def market(stack: Stack) -> Iterator[Market]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as http:
        yield Market(http)


def cancel(market: Market, learner: dict[str, str], enrollment_id: str) -> httpx.Response:
    return market.http.post(f"/api/v1/enrollments/{enrollment_id}/cancel", headers=learner)


def refunds(market: Market, enrollment_id: str) -> list[dict[str, Any]]:
    admin = market.token(role="admin", sub="operator")
    response = market.http.get(
        "/api/v1/refunds", params={"enrollment_id": enrollment_id}, headers=admin
    )
    assert response.status_code == 200, response.text
    return list(response.json()["refunds"])


def refunded(market: Market, enrollment_id: str) -> dict[str, Any] | None:
    """The enrollment's refund once the gateway made it."""
    done = [r for r in refunds(market, enrollment_id) if r["status"] == "SUCCEEDED"]
    return done[0] if done else None


def statuses(market: Market, program_id: str) -> list[str]:
    listed = market.http.get(
        "/api/v1/enrollments",
        params={"program_id": program_id, "page_size": 100},
        headers=market.provider,
    )
    assert listed.status_code == 200, listed.text
    return [e["status"] for e in listed.json()["enrollments"]]


def assert_money_returned_if_taken(
    market: Market, paid: httpx.Response, enrollment_id: str
) -> None:
    """A paid checkout of a closed enrollment is refunded in full; a refused one took nothing."""
    if paid.status_code == 303:
        refund = eventually(lambda: refunded(market, enrollment_id))
        assert refund is not None
        assert refund["full_refund"] is True
        assert refund["reason"] == "enrollment_cancelled"
        assert refund["amount"]["amount_minor"] > 0
        assert refund["gateway_refund_id"].startswith("re_")
    else:
        assert paid.status_code == 409, paid.text  # the checkout was closed first
        assert refunds(market, enrollment_id) == []


def test_a_cancelled_checkout_never_takes_the_seat_someone_else_holds(market: Market) -> None:
    program = market.program(capacity=1)
    alice, bob = market.learner(), market.learner()
    first = market.enroll(alice, program["id"]).json()
    assert cancel(market, alice, first["id"]).status_code == 200
    second = market.enroll(bob, program["id"])
    assert second.status_code == 201, second.text  # the seat was freed...
    late = market.pay(first, CARD)  # ...and Alice pays her old checkout anyway
    assert market.pay(second.json(), CARD).status_code == 303

    eventually(lambda: market.get(bob, second.json()["id"])["status"] == "ACTIVE")
    assert_money_returned_if_taken(market, late, first["id"])
    assert market.get(alice, first["id"])["status"] == "CANCELLED"
    assert sorted(statuses(market, program["id"])) == ["ACTIVE", "CANCELLED"]


def test_a_closed_checkout_page_refuses_the_card(market: Market) -> None:
    program = market.program()
    learner = market.learner()
    enrollment = market.enroll(learner, program["id"]).json()
    assert cancel(market, learner, enrollment["id"]).status_code == 200
    page = "/" + enrollment["checkout_url"].split("/", 3)[3]
    eventually(lambda: "expired" in market.http.get(page).text.lower())
    refused = market.pay(enrollment, CARD)
    assert refused.status_code == 409, refused.text
    assert market.get(learner, enrollment["id"])["status"] == "CANCELLED"
    assert refunds(market, enrollment["id"]) == []


def dead_letters_about(nats_url: str, ids: list[str]) -> list[str]:
    async def scan() -> list[str]:
        nc = await nats.connect(nats_url)
        try:
            letters = await list_dead_letters(nc.jetstream(), None)
        finally:
            await nc.close()
        return [
            f"{letter.consumer}: {letter.reason}"
            for letter in letters
            if any(i.encode() in letter.data for i in ids)
        ]

    return asyncio.run(scan())


def test_paying_the_first_checkout_after_enrolling_again_is_refunded_not_dead_lettered(
    market: Market, stack: Stack
) -> None:
    program = market.program()
    learner = market.learner()
    first = market.enroll(learner, program["id"]).json()
    assert cancel(market, learner, first["id"]).status_code == 200
    again = market.enroll(learner, program["id"])
    assert again.status_code == 201, again.text
    second = again.json()
    assert second["id"] != first["id"]
    late = market.pay(first, CARD)
    print("late payment of the first checkout:", late.status_code)

    assert_money_returned_if_taken(market, late, first["id"])
    assert market.get(learner, first["id"])["status"] == "CANCELLED"
    # The second enrollment is untouched and still payable.
    assert market.get(learner, second["id"])["status"] == "PENDING_PAYMENT"
    assert market.pay(second, CARD).status_code == 303
    eventually(lambda: market.get(learner, second["id"])["status"] == "ACTIVE")
    assert dead_letters_about(stack.nats_url, [first["id"], second["id"]]) == []


def test_operators_list_returned_payments_from_the_command_line(
    market: Market, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    program = market.program()
    learner = market.learner()
    enrollment = market.enroll(learner, program["id"]).json()
    # Paid, then cancelled before the payment reached the enrollment (or, if the payment
    # won, an ordinary purchase: then nothing is returned and nothing is listed).
    paid = market.pay(enrollment, CARD)
    assert paid.status_code == 303
    cancelled = cancel(market, learner, enrollment["id"])
    expected = 1 if cancelled.status_code == 200 else 0
    if expected:
        eventually(lambda: refunded(market, enrollment["id"]))
    admin = market.token(role="admin", sub="operator")["authorization"].removeprefix("Bearer ")
    args = ["refunds", "--url", stack.gateway_url, "--token", admin]
    assert cli_main([*args, "--enrollment-id", enrollment["id"], "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["enrollment_id"], r["status"]) for r in listed] == [
        (enrollment["id"], "SUCCEEDED")
    ] * expected
    assert cli_main(args) == 0
    assert "refund(s)" in capsys.readouterr().out
    learner_token = learner["authorization"].removeprefix("Bearer ")
    assert cli_main(["refunds", "--url", stack.gateway_url, "--token", learner_token]) == 1
    assert "403" in capsys.readouterr().err


def race_cancel_and_pay(market: Market, gateway_url: str) -> str:
    """One learner cancels and pays one enrollment at the same moment; another wants the
    (only) seat afterwards. Returns which way it went."""
    program = market.program(capacity=1)
    alice, bob = market.learner(), market.learner()
    enrollment = market.enroll(alice, program["id"]).json()
    path = "/" + enrollment["checkout_url"].split("/", 3)[3]

    def cancel_it() -> httpx.Response:
        with httpx.Client(base_url=gateway_url, timeout=15, trust_env=False) as h:
            return h.post(f"/api/v1/enrollments/{enrollment['id']}/cancel", headers=alice)

    def pay_it() -> httpx.Response:
        with httpx.Client(base_url=gateway_url, timeout=15, trust_env=False) as h:
            return h.post(path, data={"card_number": CARD}, follow_redirects=False)

    with ThreadPoolExecutor(2) as pool:
        cancelling, paying = pool.submit(cancel_it), pool.submit(pay_it)
        cancelled, paid = cancelling.result(), paying.result()
    assert cancelled.status_code in (200, 409), cancelled.text
    assert paid.status_code in (303, 409), paid.text
    if cancelled.status_code == 200:
        assert_money_returned_if_taken(market, paid, enrollment["id"])
        assert market.get(alice, enrollment["id"])["status"] == "CANCELLED"
        # The seat is free again: Bob takes it, and his is the only live enrollment.
        bobs = market.enroll(bob, program["id"])
        assert bobs.status_code == 201, bobs.text
        assert market.pay(bobs.json(), CARD).status_code == 303
        eventually(lambda: market.get(bob, bobs.json()["id"])["status"] == "ACTIVE")
        outcome = "cancelled+refunded" if paid.status_code == 303 else "cancelled"
    else:  # paid and activated before the cancel arrived: an ordinary purchase
        assert paid.status_code == 303
        eventually(lambda: market.get(alice, enrollment["id"])["status"] == "ACTIVE")
        assert refunds(market, enrollment["id"]) == []
        assert market.enroll(bob, program["id"]).status_code == 409  # sold out
        outcome = "active"
    every = statuses(market, program["id"])
    assert len([s for s in every if s in ("ACTIVE", "COMPLETED")]) == 1, f"{outcome}: {every}"
    return outcome


def test_cancel_and_pay_racing_end_cancelled_and_refunded_or_active_never_both(
    market: Market, stack: Stack
) -> None:
    outcomes = [race_cancel_and_pay(market, stack.gateway_url) for _ in range(RACE_RUNS)]
    print("cancel vs pay outcomes:", outcomes)  # which interleavings this run saw
    assert set(outcomes) <= {"cancelled", "cancelled+refunded", "active"}


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"enrollment_id": "not-a-uuid"}, 422),
        ({"enrollment_id": "a\x00b"}, 422),
        ({"page_size": "101"}, 422),
        ({"page_size": "-1"}, 422),
        ({"page_token": "x" * 201}, 422),
        ({"page_token": "not-a-token"}, 422),
        ({"page_token": "a\x00b"}, 422),
    ],
)
def test_the_refund_listing_refuses_bad_input_precisely(
    market: Market, params: dict[str, str], status: int
) -> None:
    admin = market.token(role="admin", sub="operator")
    response = market.http.get("/api/v1/refunds", params=params, headers=admin)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_only_operators_list_refunds(market: Market) -> None:
    assert market.http.get("/api/v1/refunds").status_code == 401
    learner = market.http.get("/api/v1/refunds", headers=market.learner())
    assert learner.status_code == 403, learner.text
    assert market.http.get("/api/v1/refunds", headers=market.provider).status_code == 403
