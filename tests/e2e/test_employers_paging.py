"""The employer listings walked to their last page over HTTP while rows are added between
pages (tests/e2e/test_paging.py's walk): a person's employers, an employer's seat packs,
and a pack's invitations with their status; nothing lost or repeated, nothing added
behind the walk shown. Each listing shows only its own scope, and a page token works only
on the listing and the scope that issued it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.devstack.stack import Stack
from tests.e2e.test_employers import employer, invite, paid_pack, person, redeem
from tests.e2e.test_paging import (
    assert_walk_sees_what_existed,
    first_token,
    garbage_tokens,
    problem_names_page_token,
    snapshot,
    walk,
)
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

    def create_employer(self) -> str:
        return str(employer(self.market, self.manager)["id"])

    def invitations_url(self, pack: dict[str, Any]) -> str:
        return f"/api/v1/employers/{self.id}/seat-packs/{pack['id']}/invitations"

    def invite_someone(self, pack: dict[str, Any]) -> str:
        email = f"walk-{uuid.uuid4().hex[:8]}@example.com"
        made = self.market.http.post(
            self.invitations_url(pack), json={"emails": [email]}, headers=self.manager
        )
        assert made.status_code == 201, made.text
        return str(made.json()["invitations"][0]["id"])


@pytest.fixture
def market(stack: Stack) -> Iterator[Market]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as http:
        yield Market(http)


@pytest.fixture
def company(market: Market) -> Company:
    _, manager = person(market, "walker")
    program = market.program(title="Walked seats", price=FREE, capacity=500)
    made = Company(market, manager, employer(market, manager)["id"], program["id"], [])
    for _ in range(4):
        made.create_employer()
        made.buy()
    return made


def test_my_employers_walk_every_page_and_show_only_mine(market: Market, company: Company) -> None:
    _, stranger = person(market, "stranger")
    theirs = employer(market, stranger)["id"]
    before = snapshot(market.http, "/api/v1/employers", "employers", {}, company.manager)
    assert len(before) == 5
    assert theirs not in before
    inserted: set[str] = set()
    result = walk(
        market.http,
        "/api/v1/employers",
        "employers",
        {},
        company.manager,
        page_size=2,
        between=company.create_employer,
        inserted=inserted,
    )
    assert result.pages >= 3
    assert len(inserted) == 2
    assert_walk_sees_what_existed(result, before, inserted)
    # A manager who accepted an invitation lists it too, with their role.
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
    assert market.http.get("/api/v1/employers").status_code == 401


def test_seat_packs_walk_every_page(market: Market, company: Company) -> None:
    url = f"/api/v1/employers/{company.id}/seat-packs"
    before = snapshot(market.http, url, "seat_packs", {}, company.manager)
    assert before == {p["id"] for p in company.packs}
    inserted: set[str] = set()
    result = walk(
        market.http,
        url,
        "seat_packs",
        {},
        company.manager,
        page_size=1,
        between=company.buy,
        inserted=inserted,
    )
    assert result.pages == 4
    assert len(inserted) == 3
    assert_walk_sees_what_existed(result, before, inserted)
    first = market.http.get(url, params={"page_size": 1}, headers=company.manager).json()
    [newest] = first["seat_packs"]
    assert newest["id"] == company.packs[-1]["id"]
    assert (newest["seats"], newest["seats_redeemed"], newest["status"]) == (2, 0, "PAID")
    # Another employer's packs do not exist to the stranger; ids that cannot be one are 404.
    _, stranger = person(market, "stranger")
    assert market.http.get(url, headers=stranger).status_code == 404
    assert market.http.get("/api/v1/employers/nope/seat-packs", headers=stranger).status_code == 404
    for bad in ({"page_size": 101}, {"page_size": -1}, {"page_token": "x" * 201}):
        answer = market.http.get(url, params=bad, headers=company.manager)
        assert answer.status_code == 422, (bad, answer.text)


def test_a_packs_invitations_walk_every_page_with_their_status(
    market: Market, company: Company
) -> None:
    pack = company.packs[0]
    url = company.invitations_url(pack)
    people = [person(market, f"inv{i}") for i in range(5)]
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

    before = snapshot(market.http, url, "invitations", {}, company.manager)
    assert before == set(ids.values())
    inserted: set[str] = set()
    result = walk(
        market.http,
        url,
        "invitations",
        {},
        company.manager,
        page_size=2,
        between=lambda: company.invite_someone(pack),
        inserted=inserted,
    )
    assert result.pages == 3
    assert len(inserted) == 2
    assert_walk_sees_what_existed(result, before, inserted)

    listed = market.http.get(url, params={"page_size": 100}, headers=company.manager).json()
    status = {i["email"]: i for i in listed["invitations"]}
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


def test_a_token_works_only_on_the_listing_and_scope_that_issued_it(
    market: Market, company: Company
) -> None:
    packs = f"/api/v1/employers/{company.id}/seat-packs"
    for pack in company.packs[:2]:
        invite(
            market,
            company.manager,
            pack,
            [f"t{i}-{uuid.uuid4().hex[:6]}@example.com" for i in range(2)],
        )
    first, second = (company.invitations_url(p) for p in company.packs[:2])
    tokens = {
        "/api/v1/employers": first_token(
            market.http, "/api/v1/employers", "employers", {}, company.manager
        ),
        packs: first_token(market.http, packs, "seat_packs", {}, company.manager),
        first: first_token(market.http, first, "invitations", {}, company.manager),
    }
    for issued_by, token in tokens.items():
        for path in tokens:
            if path != issued_by:
                answer = market.http.get(
                    path, params={"page_token": token}, headers=company.manager
                )
                problem_names_page_token(answer)
    # The same listing, another scope: another pack, another employer's packs.
    problem_names_page_token(
        market.http.get(second, params={"page_token": tokens[first]}, headers=company.manager)
    )
    another = company.create_employer()
    problem_names_page_token(
        market.http.get(
            f"/api/v1/employers/{another}/seat-packs",
            params={"page_token": tokens[packs]},
            headers=company.manager,
        )
    )
    for token in garbage_tokens(tokens[packs])[:20]:
        answer = market.http.get(packs, params={"page_token": token}, headers=company.manager)
        assert 400 <= answer.status_code < 500, (token[:60], answer.text[:200])
