"""Employers end to end on the real services: an employer buys a 3-seat pack through the
same checkout as a single purchase, invites four people, three redeem (the fourth is told
the pack is sold out), two complete and get credentials, and the team view and skills
matrix show exactly that. Seats are never oversold (invariant 7): a code redeemed twice
at once, and two people racing for the last seat, give one enrollment; pack seats count
against the program's capacity at purchase. Plus hostile input on the new routes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from services.devstack.stack import Stack
from tests.e2e.test_saga_paths import Market
from tests.polling import eventually

CARD = "4242424242424242"


@pytest.fixture
def market(stack: Stack) -> Iterator[Market]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as http:
        yield Market(http)


def person(market: Market, name: str) -> tuple[str, dict[str, str]]:
    """(email, headers) of a signed-in person with that (verified) email."""
    email = f"{name}-{uuid.uuid4().hex[:6]}@example.com"
    return email, market.token(role="learner", sub=f"u-{uuid.uuid4().hex[:8]}", email=email)


def employer(market: Market, manager: dict[str, str]) -> dict[str, Any]:
    made = market.http.post("/api/v1/employers", json={"name": "Initech"}, headers=manager)
    assert made.status_code == 201, made.text
    assert made.json()["role"] == "OWNER"
    return dict(made.json())


def paid_pack(
    market: Market, manager: dict[str, str], employer_id: str, program_id: str, seats: int
) -> dict[str, Any]:
    made = market.http.post(
        f"/api/v1/employers/{employer_id}/seat-packs",
        json={"program_id": program_id, "seats": seats},
        headers=manager,
    )
    assert made.status_code == 201, made.text
    pack = made.json()
    if pack["status"] == "PENDING_PAYMENT":
        assert market.pay(pack, CARD).status_code == 303
    url = f"/api/v1/employers/{employer_id}/seat-packs/{pack['id']}"
    return dict(
        eventually(
            lambda: (p := market.http.get(url, headers=manager).json())["status"] == "PAID" and p,
            what="the seat pack to be paid",
        )
    )


def invite(
    market: Market, manager: dict[str, str], pack: dict[str, Any], emails: list[str]
) -> dict[str, str]:
    made = market.http.post(
        f"/api/v1/employers/{pack['employer_id']}/seat-packs/{pack['id']}/invitations",
        json={"emails": emails},
        headers=manager,
    )
    assert made.status_code == 201, made.text
    return {i["email"]: i["code"] for i in made.json()["invitations"]}


def redeem(market: Market, who: dict[str, str], code: str) -> httpx.Response:
    return market.http.post("/api/v1/redemptions", json={"code": code}, headers=who)


def test_a_three_seat_pack_four_invited_three_redeem_two_complete(market: Market) -> None:
    program = market.program(title="Kubernetes for teams", capacity=10)
    manager_email, manager = person(market, "manager")
    company = employer(market, manager)

    made = market.http.post(
        f"/api/v1/employers/{company['id']}/seat-packs",
        json={"program_id": program["id"], "seats": 3},
        headers=manager,
    ).json()
    assert made["status"] == "PENDING_PAYMENT"
    assert made["total"] == {"amount_minor": 3 * 4900, "currency": "USD"}
    assert made["checkout_url"]
    assert market.pay(made, CARD).status_code == 303
    pack_url = f"/api/v1/employers/{company['id']}/seat-packs/{made['id']}"
    pack = eventually(
        lambda: (p := market.http.get(pack_url, headers=manager).json())["status"] == "PAID" and p,
        what="the seat pack to be paid",
    )
    assert pack["payment_id"]

    people = [person(market, name) for name in ("ann", "bob", "cat", "dan")]
    codes = invite(market, manager, pack, [email for email, _ in people])
    assert len(set(codes.values())) == 4

    enrolled = []
    for email, who in people[:3]:
        redeemed = redeem(market, who, codes[email])
        assert redeemed.status_code == 201, redeemed.text
        assert redeemed.json()["status"] == "ACTIVE"
        assert redeemed.json()["checkout_url"] in (None, "")
        enrolled.append((who, redeemed.json()))
    email, who = people[3]
    sold_out = redeem(market, who, codes[email])
    assert sold_out.status_code == 409, sold_out.text
    assert "sold out" in sold_out.json()["detail"]
    assert market.http.get(pack_url, headers=manager).json()["seats_redeemed"] == 3

    # Two of the three complete; their credentials are issued as for any enrollment.
    for _, enrollment in enrolled[:2]:
        done = market.http.post(
            f"/api/v1/enrollments/{enrollment['id']}/complete", json={}, headers=market.provider
        )
        assert done.status_code == 200, done.text
    for who, enrollment in enrolled[:2]:
        eventually(
            lambda: market.get(who, enrollment["id"])["credential_id"],  # noqa: B023
            what="the sponsored learner's credential",
        )

    team = market.http.get(f"/api/v1/employers/{company['id']}/team", headers=manager)
    assert team.status_code == 200, team.text
    shown = {p["email"]: p for p in team.json()["people"]}
    assert set(shown) == {email for email, _ in people[:3]}
    skills = sorted(program["skills"])
    assert team.json()["skills"] == skills
    for email, _ in people[:2]:
        [row] = shown[email]["enrollments"]
        assert row["status"] == "COMPLETED"
        assert row["credential_id"]
        assert sorted(shown[email]["skills"]) == skills
    third = shown[people[2][0]]
    assert third["enrollments"][0]["status"] == "ACTIVE"
    assert third["enrollments"][0]["credential_id"] is None
    assert third["skills"] == []
    # Nobody else sees the team.
    outsider = person(market, "eve")[1]
    assert (
        market.http.get(f"/api/v1/employers/{company['id']}/team", headers=outsider).status_code
        == 404
    )
    assert manager_email not in shown


def test_a_code_redeemed_twice_at_once_gives_one_enrollment(market: Market) -> None:
    program = market.program(capacity=10)
    _, manager = person(market, "manager")
    pack = paid_pack(market, manager, employer(market, manager)["id"], program["id"], 2)
    email, who = person(market, "twice")
    code = invite(market, manager, pack, [email])[email]

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: redeem(market, who, code), range(4)))

    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    mine = market.http.get("/api/v1/enrollments", headers=who).json()["enrollments"]
    assert len(mine) == 1


def test_two_people_racing_for_the_last_seat_give_one_enrollment(market: Market) -> None:
    program = market.program(capacity=10)
    _, manager = person(market, "manager")
    pack = paid_pack(market, manager, employer(market, manager)["id"], program["id"], 1)
    racers = [person(market, f"racer{i}") for i in range(4)]
    codes = invite(market, manager, pack, [email for email, _ in racers])

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda r: redeem(market, r[1], codes[r[0]]), racers))

    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]


def test_pack_seats_are_reserved_against_the_programs_capacity(market: Market) -> None:
    program = market.program(capacity=3)
    _, manager = person(market, "manager")
    company = employer(market, manager)["id"]
    too_many = market.http.post(
        f"/api/v1/employers/{company}/seat-packs",
        json={"program_id": program["id"], "seats": 4},
        headers=manager,
    )
    assert too_many.status_code == 409
    assert "3 seats" in too_many.json()["detail"]
    market.http.post(
        f"/api/v1/employers/{company}/seat-packs",
        json={"program_id": program["id"], "seats": 2},
        headers=manager,
    ).raise_for_status()
    assert market.enroll(market.learner(), program["id"]).status_code == 201
    # 2 (pack, even unpaid) + 1 (single purchase) = 3: nothing left for anyone.
    assert market.enroll(market.learner(), program["id"]).status_code == 409
    last = market.http.post(
        f"/api/v1/employers/{company}/seat-packs",
        json={"program_id": program["id"], "seats": 1},
        headers=manager,
    )
    assert last.status_code == 409


def test_codes_belong_to_their_person_and_an_unpaid_pack_redeems_nothing(
    market: Market,
) -> None:
    program = market.program(capacity=10)
    _, manager = person(market, "manager")
    company = employer(market, manager)["id"]
    unpaid = market.http.post(
        f"/api/v1/employers/{company}/seat-packs",
        json={"program_id": program["id"], "seats": 2},
        headers=manager,
    ).json()
    email, who = person(market, "early")
    code = invite(market, manager, unpaid, [email])[email]
    assert redeem(market, who, code).status_code == 409  # not paid yet
    _, stranger = person(market, "stranger")
    assert redeem(market, stranger, code).status_code == 403
    assert redeem(market, who, "not-a-code").status_code == 404
    assert redeem(market, who, "x\x00y").status_code == 422
    assert market.http.post("/api/v1/redemptions", json={"code": code}).status_code == 401


def test_a_manager_joins_by_invitation(market: Market) -> None:
    _, owner = person(market, "owner")
    company = employer(market, owner)["id"]
    email, manager = person(market, "newmgr")
    assert market.http.get(f"/api/v1/employers/{company}/team", headers=manager).status_code == 404
    invited = market.http.post(
        f"/api/v1/employers/{company}/invitations", json={"email": email}, headers=owner
    )
    assert invited.status_code == 201, invited.text
    # Only an owner invites; only the invited email accepts.
    assert (
        market.http.post(
            f"/api/v1/employers/{company}/invitations", json={"email": email}, headers=manager
        ).status_code
        == 404
    )
    _, other = person(market, "other")
    accept = f"/api/v1/employer-invitations/{invited.json()['id']}/accept"
    assert market.http.post(accept, headers=other).status_code == 404
    joined = market.http.post(accept, headers=manager)
    assert joined.status_code == 200, joined.text
    assert joined.json()["role"] == "MANAGER"
    assert market.http.get(f"/api/v1/employers/{company}/team", headers=manager).status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/employers", {"name": "Ini\x00tech"}),
        ("/api/v1/employers", {"name": ""}),
        ("/api/v1/employers", {"name": "x" * 201}),
        ("/api/v1/employers", {"name": "ok", "extra": 1}),
        ("/api/v1/redemptions", {"code": ""}),
        ("/api/v1/redemptions", {"code": "x" * 101}),
    ],
)
def test_hostile_bodies_are_422(market: Market, path: str, body: dict[str, Any]) -> None:
    _, who = person(market, "hostile")
    response = market.http.post(path, json=body, headers=who)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("seats", [0, 1001, "3", None])
def test_hostile_seat_counts_are_422(market: Market, seats: Any) -> None:
    program = market.program()
    _, manager = person(market, "manager")
    company = employer(market, manager)["id"]
    response = market.http.post(
        f"/api/v1/employers/{company}/seat-packs",
        json={"program_id": program["id"], "seats": seats},
        headers=manager,
    )
    assert response.status_code == 422, response.text


def test_seat_invitations_refuse_bad_emails_and_too_many(market: Market) -> None:
    program = market.program(capacity=10)
    _, manager = person(market, "manager")
    pack = paid_pack(market, manager, employer(market, manager)["id"], program["id"], 1)
    url = f"/api/v1/employers/{pack['employer_id']}/seat-packs/{pack['id']}/invitations"
    for emails in ([], ["not-an-email"], [f"p{i}@example.com" for i in range(101)]):
        answer = market.http.post(url, json={"emails": emails}, headers=manager)
        assert answer.status_code == 422, (emails[:2], answer.text)
    assert market.http.get(f"/api/v1/employers/{uuid.uuid4()}", headers=manager).status_code == 404
    assert market.http.get("/api/v1/employers/nope", headers=manager).status_code == 404


def test_unassigned_seats_are_refunded_and_go_back_to_the_program(market: Market) -> None:
    program = market.program(capacity=3)
    _, manager = person(market, "manager")
    pack = paid_pack(market, manager, employer(market, manager)["id"], program["id"], 3)
    people = [person(market, name) for name in ("first", "late")]
    codes = invite(market, manager, pack, [email for email, _ in people])
    assert redeem(market, people[0][1], codes[people[0][0]]).status_code == 201
    assert market.enroll(market.learner(), program["id"]).status_code == 409  # all 3 held

    url = f"/api/v1/employers/{pack['employer_id']}/seat-packs/{pack['id']}/refund-unassigned"
    refunded = market.http.post(url, headers=manager)
    assert refunded.status_code == 202, refunded.text
    assert refunded.json()["seats_refunded"] == 2
    assert refunded.json()["seat_pack"]["seats"] == 1
    assert refunded.json()["seat_pack"]["seats_refunded"] == 2
    # Nothing left to give back: a second request is refused and refunds nothing more.
    assert market.http.post(url, headers=manager).status_code == 409

    admin = market.token(role="admin", sub="finance")
    refunds = eventually(
        lambda: [
            r
            for r in market.http.get(
                "/api/v1/refunds", params={"enrollment_id": pack["id"]}, headers=admin
            ).json()["refunds"]
            if r["status"] == "SUCCEEDED"
        ],
        what="the refund of two seats",
    )
    assert [r["amount"] for r in refunds] == [{"amount_minor": 2 * 4900, "currency": "USD"}]
    # The late invitee finds the pack sold out; the two seats are the program's again.
    late = redeem(market, people[1][1], codes[people[1][0]])
    assert late.status_code == 409
    assert market.enroll(market.learner(), program["id"]).status_code == 201
    assert market.enroll(market.learner(), program["id"]).status_code == 201
    assert market.enroll(market.learner(), program["id"]).status_code == 409


def test_a_pack_nobody_redeemed_is_refunded_whole(market: Market) -> None:
    program = market.program(capacity=2)
    _, manager = person(market, "manager")
    pack = paid_pack(market, manager, employer(market, manager)["id"], program["id"], 2)
    url = f"/api/v1/employers/{pack['employer_id']}/seat-packs/{pack['id']}/refund-unassigned"
    refunded = market.http.post(url, headers=manager)
    assert refunded.status_code == 202, refunded.text
    assert refunded.json()["seat_pack"]["seats"] == 0
    assert market.enroll(market.learner(), program["id"]).status_code == 201


def test_a_revoked_code_no_longer_works_and_a_new_invitation_replaces_it(market: Market) -> None:
    program = market.program(capacity=10)
    _, manager = person(market, "manager")
    pack = paid_pack(market, manager, employer(market, manager)["id"], program["id"], 1)
    email, who = person(market, "revoked")
    made = market.http.post(
        f"/api/v1/employers/{pack['employer_id']}/seat-packs/{pack['id']}/invitations",
        json={"emails": [email]},
        headers=manager,
    ).json()["invitations"][0]
    url = (
        f"/api/v1/employers/{pack['employer_id']}/seat-packs/{pack['id']}"
        f"/invitations/{made['id']}/revoke"
    )
    revoked = market.http.post(url, headers=manager)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"]
    refused = redeem(market, who, made["code"])
    assert refused.status_code == 409
    assert "revoked" in refused.json()["detail"]
    # Invited again: a new code, and the one seat is still there for it.
    code = invite(market, manager, pack, [email])[email]
    assert redeem(market, who, made["code"]).status_code == 404  # the old code is gone
    assert redeem(market, who, code).status_code == 201
    assert market.http.post(url, headers=manager).status_code == 409  # redeemed: too late
