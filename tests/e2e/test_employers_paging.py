"""The employer listings beyond their walks: tests/e2e/test_paging.py walks a person's
employers, an employer's seat packs and a pack's invitations to their last page (WALKERS),
and refuses every other listing's token on each. Here: what the rows say (a manager's role,
a pack's seats, an invitation's status), that each listing shows only its own scope, and
that a page token of one employer's or pack's listing is refused on another's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.devstack.stack import Stack
from tests.e2e.test_employers import employer, invite, paid_pack, person, redeem
from tests.e2e.test_paging import OTHER_FILTERS, first_token, problem_names_page_token
from tests.e2e.test_saga_paths import Market

FREE = {"amount_minor": 0, "currency": "USD"}


@dataclass
class Company:
    market: Market
    manager: dict[str, str]
    id: str
    program_id: str
    packs: list[dict[str, Any]]

    def buy(self) -> str:
        pack = paid_pack(self.market, self.manager, self.id, self.program_id, 2)
        self.packs.append(pack)
        return str(pack["id"])

    def invitations_url(self, pack: dict[str, Any]) -> str:
        return f"/api/v1/employers/{self.id}/seat-packs/{pack['id']}/invitations"


@pytest.fixture
def market(stack: Stack) -> Iterator[Market]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as http:
        yield Market(http)


@pytest.fixture
def company(market: Market) -> Company:
    _, manager = person(market, "walker")
    program = market.program(title="Walked seats", price=FREE, capacity=500)
    made = Company(market, manager, employer(market, manager)["id"], program["id"], [])
    for _ in range(2):
        made.buy()
    return made


def test_a_manager_who_joined_lists_the_employer_with_their_role(
    market: Market, company: Company
) -> None:
    email, joined = person(market, "joiner")
    invited = market.http.post(
        f"/api/v1/employers/{company.id}/invitations",
        json={"email": email},
        headers=company.manager,
    ).json()
    market.http.post(
        f"/api/v1/employer-invitations/{invited['id']}/accept", headers=joined
    ).raise_for_status()
    listed = market.http.get("/api/v1/employers", headers=joined).json()
    assert [(e["id"], e["role"]) for e in listed["employers"]] == [(company.id, "MANAGER")]
    assert listed["next_page_token"] is None
    owned = market.http.get("/api/v1/employers", headers=company.manager).json()
    assert [(e["id"], e["role"]) for e in owned["employers"]] == [(company.id, "OWNER")]
    assert market.http.get("/api/v1/employers").status_code == 401


def test_seat_packs_show_their_seats_and_only_to_members(market: Market, company: Company) -> None:
    url = f"/api/v1/employers/{company.id}/seat-packs"
    first = market.http.get(url, params={"page_size": 1}, headers=company.manager).json()
    [newest] = first["seat_packs"]
    assert newest["id"] == company.packs[-1]["id"]
    assert (newest["seats"], newest["seats_redeemed"], newest["status"]) == (2, 0, "PAID")
    # Another employer's packs do not exist to the stranger; ids that cannot be one are 404.
    _, stranger = person(market, "stranger")
    assert market.http.get(url, headers=stranger).status_code == 404
    assert market.http.get("/api/v1/employers/nope/seat-packs", headers=stranger).status_code == 404


def test_a_packs_invitations_show_their_status(market: Market, company: Company) -> None:
    pack = company.packs[0]
    url = company.invitations_url(pack)
    people = [person(market, f"inv{i}") for i in range(4)]
    codes = invite(market, company.manager, pack, [email for email, _ in people])
    assert redeem(market, people[0][1], codes[people[0][0]]).status_code == 201
    ids = {
        i["email"]: i["id"]
        for i in market.http.get(url, params={"page_size": 100}, headers=company.manager).json()[
            "invitations"
        ]
    }
    revoke = f"{url}/{ids[people[1][0]]}/revoke"
    assert market.http.post(revoke, headers=company.manager).status_code == 200

    listed = market.http.get(url, params={"page_size": 100}, headers=company.manager).json()
    status = {i["email"]: i for i in listed["invitations"]}
    assert set(status) == {email for email, _ in people}
    assert status[people[0][0]]["status"] == "REDEEMED"
    assert status[people[0][0]]["enrollment_id"]
    assert status[people[1][0]]["status"] == "REVOKED"
    assert status[people[1][0]]["revoked_at"]
    assert {status[email]["status"] for email, _ in people[2:]} == {"PENDING"}
    assert all("code" not in i for i in listed["invitations"])  # shown once, when issued
    # Another pack's invitations are not this one's; a pack of another employer is 404.
    assert (
        market.http.get(company.invitations_url(company.packs[1]), headers=company.manager).json()[
            "invitations"
        ]
        == []
    )
    _, stranger = person(market, "stranger")
    assert market.http.get(url, headers=stranger).status_code == 404
    other = Company(market, stranger, employer(market, stranger)["id"], company.program_id, [])
    foreign = f"/api/v1/employers/{other.id}/seat-packs/{pack['id']}/invitations"
    assert market.http.get(foreign, headers=stranger).status_code == 404


def test_a_token_works_only_in_the_scope_that_issued_it(market: Market, company: Company) -> None:
    """The same listing of another pack, or of another employer's packs, refuses it."""
    for pack in company.packs:
        invite(
            market,
            company.manager,
            pack,
            [f"t{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(2)],
        )
    first, second = (company.invitations_url(p) for p in company.packs)
    issued = first_token(market.http, first, "invitations", {}, company.manager)
    problem_names_page_token(
        market.http.get(second, params={"page_token": issued}, headers=company.manager),
        OTHER_FILTERS,
    )
    packs = f"/api/v1/employers/{company.id}/seat-packs"
    issued = first_token(market.http, packs, "seat_packs", {}, company.manager)
    another = employer(market, company.manager)["id"]
    problem_names_page_token(
        market.http.get(
            f"/api/v1/employers/{another}/seat-packs",
            params={"page_token": issued},
            headers=company.manager,
        ),
        OTHER_FILTERS,
    )
