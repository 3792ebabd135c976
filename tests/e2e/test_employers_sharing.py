"""What an employer sees of its people, end to end on the real services: a sponsored
learner sees each employer that sponsors them and exactly what it sees (the same rows as
its team view); a credential they earned on their own reaches an employer's team view and
skills matrix, marked as shared, only while they share it with that employer, and never
another's; only a person the employer sponsors can share with it, and only their own,
self-earned, valid credentials."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from services.devstack.stack import Stack
from services.gateway.security import SESSION_COOKIE
from tests.e2e.test_employers import employer, invite, paid_pack, person, redeem
from tests.e2e.test_saga_paths import Market
from tests.polling import eventually

FREE = {"amount_minor": 0, "currency": "USD"}


@pytest.fixture
def market(stack: Stack) -> Iterator[Market]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as http:
        yield Market(http)


def credential_of(market: Market, who: dict[str, str], enrollment_id: str) -> str:
    done = market.http.post(
        f"/api/v1/enrollments/{enrollment_id}/complete", json={}, headers=market.provider
    )
    assert done.status_code == 200, done.text
    return str(
        eventually(
            lambda: market.get(who, enrollment_id)["credential_id"],
            what="the credential",
        )
    )


def own_credential(market: Market, who: dict[str, str], skill: str) -> str:
    """A credential the learner earned on their own: a free program they enrolled in."""
    program = market.program(title=f"Solo {skill}", skills=[skill], price=FREE)
    enrolled = market.enroll(who, program["id"])
    assert enrolled.status_code == 201, enrolled.text
    return credential_of(market, who, enrolled.json()["id"])


def team(market: Market, manager: dict[str, str], employer_id: str) -> dict[str, Any]:
    answer = market.http.get(f"/api/v1/employers/{employer_id}/team", headers=manager)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def row_of(team_view: dict[str, Any], learner_email: str) -> dict[str, Any]:
    [person_row] = [p for p in team_view["people"] if p["email"] == learner_email]
    return dict(person_row)


def sponsors(market: Market, who: dict[str, str]) -> dict[str, dict[str, Any]]:
    answer = market.http.get("/api/v1/me/sponsors", headers=who)
    assert answer.status_code == 200, answer.text
    return {s["employer"]["id"]: s for s in answer.json()["sponsors"]}


def share_url(employer_id: str, credential_id: str) -> str:
    return f"/api/v1/me/sponsors/{employer_id}/shared-credentials/{credential_id}"


@pytest.fixture
def sponsored(market: Market) -> dict[str, Any]:
    """A learner sponsored by two employers (a seat of each), plus a credential they earned
    on their own with a skill nobody else has."""
    email, learner = person(market, "sharer")
    companies = []
    for n in range(2):
        seat_program = market.program(title=f"Team seat {n}", price=FREE, capacity=50)
        _, manager = person(market, "manager")
        company = employer(market, manager)
        pack = paid_pack(market, manager, company["id"], seat_program["id"], 2)
        code = invite(market, manager, pack, [email])[email]
        seat = redeem(market, learner, code)
        assert seat.status_code == 201, seat.text
        companies.append((company["id"], manager, seat.json()["id"]))
    skill = f"solo-{uuid.uuid4().hex[:8]}"
    return {
        "email": email,
        "learner": learner,
        "companies": companies,
        "skill": skill,
        "credential": own_credential(market, learner, skill),
    }


def test_a_shared_credential_appears_for_that_employer_only_until_unshared(
    market: Market, sponsored: dict[str, Any]
) -> None:
    email, learner, skill = sponsored["email"], sponsored["learner"], sponsored["skill"]
    credential = sponsored["credential"]
    (chosen, chosen_manager, _), (other, other_manager, _) = sponsored["companies"]

    # Not shared: neither employer sees the self-earned credential.
    for company, manager in ((chosen, chosen_manager), (other, other_manager)):
        view = team(market, manager, company)
        assert [e["shared"] for e in row_of(view, email)["enrollments"]] == [False]
        assert skill not in view["skills"]
    mine = sponsors(market, learner)
    assert set(mine) == {chosen, other}
    assert [(c["credential_id"], c["shared"]) for c in mine[chosen]["credentials"]] == [
        (credential, False)
    ]

    # Shared with one, four times at once: one share, shown to that employer only.
    with ThreadPoolExecutor(4) as pool:
        answers = list(
            pool.map(
                lambda _: market.http.put(share_url(chosen, credential), headers=learner),
                range(4),
            )
        )
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
    assert answers[0].json()["shared"] is True
    assert answers[0].json()["skills"] == [skill]

    view = team(market, chosen_manager, chosen)
    row = row_of(view, email)
    shared_rows = [e for e in row["enrollments"] if e["shared"]]
    assert [(e["credential_id"], e["status"]) for e in shared_rows] == [(credential, "COMPLETED")]
    assert skill in row["skills"]
    assert row["shared_skills"] == [skill]  # the matrix marks it as shared
    assert skill in view["skills"]
    other_view = team(market, other_manager, other)
    assert all(not e["shared"] for e in row_of(other_view, email)["enrollments"])
    assert skill not in other_view["skills"]
    assert skill not in row_of(other_view, email)["skills"]

    # The learner sees exactly what each employer sees.
    mine = sponsors(market, learner)
    assert mine[chosen]["seen"] == row
    assert mine[other]["seen"] == row_of(other_view, email)
    assert [c["shared"] for c in mine[chosen]["credentials"]] == [True]
    assert [c["shared"] for c in mine[other]["credentials"]] == [False]

    # Unshared (twice: no change): gone from the team view and the matrix.
    for _ in range(2):
        gone = market.http.delete(share_url(chosen, credential), headers=learner)
        assert gone.status_code == 204, gone.text
    view = team(market, chosen_manager, chosen)
    assert all(not e["shared"] for e in row_of(view, email)["enrollments"])
    assert skill not in view["skills"]
    assert skill not in row_of(view, email)["skills"]
    assert row_of(view, email)["shared_skills"] == []
    assert [c["shared"] for c in sponsors(market, learner)[chosen]["credentials"]] == [False]


def test_only_a_sponsored_person_shares_and_only_their_own_self_earned_credentials(
    market: Market, sponsored: dict[str, Any]
) -> None:
    learner, credential = sponsored["learner"], sponsored["credential"]
    (company, manager, seat_enrollment), _ = sponsored["companies"]

    # Someone the employer does not sponsor: it does not exist to them.
    _, outsider = person(market, "outsider")
    outsiders_own = own_credential(market, outsider, f"out-{uuid.uuid4().hex[:6]}")
    refused = market.http.put(share_url(company, outsiders_own), headers=outsider)
    assert refused.status_code == 404, refused.text
    assert market.http.get("/api/v1/me/sponsors", headers=outsider).json() == {"sponsors": []}
    # Its manager is a member, not a sponsored person: no sharing either.
    managers_own = own_credential(market, manager, f"mgr-{uuid.uuid4().hex[:6]}")
    assert market.http.put(share_url(company, managers_own), headers=manager).status_code == 404
    # An employer that does not exist, or a stranger's credential, or garbage ids.
    assert (
        market.http.put(share_url(str(uuid.uuid4()), credential), headers=learner).status_code
        == 404
    )
    assert market.http.put(share_url(company, outsiders_own), headers=learner).status_code == 404
    assert market.http.put(share_url(company, "nope"), headers=learner).status_code == 404
    assert market.http.put(share_url("nope", credential), headers=learner).status_code == 404
    assert market.http.put(share_url(company, credential)).status_code == 401
    # The credential of the employer's own seat is not the learner's to share.
    seat_credential = credential_of(market, learner, seat_enrollment)
    came_with_seat = market.http.put(share_url(company, seat_credential), headers=learner)
    assert came_with_seat.status_code == 409, came_with_seat.text
    assert "on your own" in came_with_seat.json()["detail"]
    # None of it reached the team view.
    view = team(market, manager, company)
    assert not [e for p in view["people"] for e in p["enrollments"] if e["shared"]]
    # An outsider's unshare touches nothing of anyone else's.
    assert market.http.put(share_url(company, credential), headers=learner).status_code == 200
    assert market.http.delete(share_url(company, credential), headers=outsider).status_code == 204
    view = team(market, manager, company)
    assert [
        e["credential_id"] for p in view["people"] for e in p["enrollments"] if e["shared"]
    ] == [credential]


def admin_revokes(market: Market, credential_id: str, reason: str) -> None:
    admin = market.token(role="admin", sub=f"admin-{uuid.uuid4().hex[:8]}")
    revoked = market.http.post(
        f"/api/v1/credentials/{credential_id}/revoke", json={"reason": reason}, headers=admin
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["status"] == "REVOKED"


def test_a_revoked_credential_leaves_the_matrix_and_a_shared_one_the_employers_view(
    market: Market, sponsored: dict[str, Any]
) -> None:
    """An admin revokes (for misconduct, no refund) the credential of a seat and a shared
    self-earned one: the team view shows the first revoked, with the reason, and neither
    counts in the skills matrix; the shared one leaves the employer's view; sharing a
    revoked one again is 409."""
    email, learner, skill = sponsored["email"], sponsored["learner"], sponsored["skill"]
    own = sponsored["credential"]
    (company, manager, _), (other, other_manager, _) = sponsored["companies"]
    # A seat of a program with a skill only it gives, completed: its credential counts.
    seat_skill = f"seat-{uuid.uuid4().hex[:8]}"
    program = market.program(title="Seat skill", skills=[seat_skill], price=FREE, capacity=5)
    pack = paid_pack(market, manager, company, program["id"], 1)
    seat = redeem(market, learner, invite(market, manager, pack, [email])[email])
    assert seat.status_code == 201, seat.text
    seat_credential = credential_of(market, learner, seat.json()["id"])
    assert market.http.put(share_url(company, own), headers=learner).status_code == 200
    view = team(market, manager, company)
    assert {seat_skill, skill} <= set(view["skills"])
    assert {seat_skill, skill} <= set(row_of(view, email)["skills"])

    admin_revokes(market, seat_credential, "exam misconduct")
    admin_revokes(market, own, "plagiarism")

    view = eventually(
        lambda: team(market, manager, company),
        until=lambda v: seat_skill not in v["skills"] and skill not in v["skills"],
        what="the revoked credentials' skills leaving the matrix",
    )
    row = row_of(view, email)
    assert seat_skill not in row["skills"]
    assert skill not in row["skills"]
    assert row["shared_skills"] == []
    # The seat's credential is still listed, as revoked, with the reason.
    [seat_row] = [e for e in row["enrollments"] if e["credential_id"] == seat_credential]
    assert seat_row["credential_revoked"] is True
    assert seat_row["revocation_reason"] == "exam misconduct"
    assert seat_row["shared"] is False
    # The shared one is gone from the employer's view; the other seats' rows still hold.
    assert own not in [e["credential_id"] for e in row["enrollments"]]
    assert not [e for e in row["enrollments"] if e["shared"]]
    assert [e["credential_revoked"] for e in row["enrollments"] if e["credential_id"] is None] == [
        False
    ]
    # The learner sees exactly that, and no longer has it to share.
    mine = sponsors(market, learner)
    assert mine[company]["seen"] == row
    assert own not in [c["credential_id"] for c in mine[company]["credentials"]]
    # Sharing the revoked credential, with this employer or the other, is refused.
    for employer_id in (company, other):
        refused = market.http.put(share_url(employer_id, own), headers=learner)
        assert refused.status_code == 409, refused.text
        assert refused.json()["detail"] == "this credential was revoked, so it cannot be shared"
    other_view = team(market, other_manager, other)
    assert skill not in other_view["skills"]
    # The team page shows it revoked, with the reason.
    token = manager["authorization"].removeprefix("Bearer ")
    page = market.http.get(f"/team/{company}", headers={"cookie": f"{SESSION_COOKIE}={token}"})
    assert page.status_code == 200, page.text
    assert '<span class="badge">revoked</span>' in page.text
    assert "(exam misconduct)" in page.text
