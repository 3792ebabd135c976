"""Pathways across providers, end to end on the real services: provider A names provider
B's program in its pathway, which asks B's consent; A cannot publish until B grants it;
a learner who completes the programs of both, in any order, gets one pathway credential;
a refusal or a withdrawal blocks publishing (a withdrawal archives a published pathway,
leaving issued pathway credentials valid); only B's staff (or an admin) decide; concurrent
duplicate requests yield one; hostile input is refused. The consent listings are walked
page by page in tests/e2e/test_paging.py (WALKERS)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from services.devstack.stack import Stack
from services.gateway.security import SESSION_COOKIE
from tests.e2e.test_paging import OTHER_FILTERS, first_token, problem_names_page_token
from tests.e2e.test_pathways import (
    CARD,
    FREE,
    credential,
    pathway_body,
    pathway_credential,
)
from tests.e2e.test_saga_paths import Market
from tests.polling import eventually


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as client:
        yield client


def draft(a: Market, program_ids: list[str], **changes: Any) -> dict[str, Any]:
    made = a.http.post(
        "/api/v1/pathways", json=pathway_body(program_ids, **changes), headers=a.provider
    )
    assert made.status_code == 201, made.text
    return dict(made.json())


def consents(market: Market, provider: str, **params: Any) -> httpx.Response:
    return market.http.get(
        f"/api/v1/providers/{provider}/pathway-consents", params=params, headers=market.provider
    )


def the_consent(market: Market, provider: str, pathway_id: str) -> dict[str, Any]:
    listed = consents(market, provider, direction="incoming", page_size=100)
    assert listed.status_code == 200, listed.text
    [found] = [c for c in listed.json()["consents"] if c["pathway_id"] == pathway_id]
    return dict(found)


def decide(market: Market, consent_id: str, action: str) -> httpx.Response:
    return market.http.post(
        f"/api/v1/pathway-consents/{consent_id}/{action}", headers=market.provider
    )


def publish(market: Market, pathway_id: str) -> httpx.Response:
    return market.http.post(f"/api/v1/pathways/{pathway_id}/publish", headers=market.provider)


def complete(owner: Market, learner: dict[str, str], program: dict[str, Any]) -> dict[str, Any]:
    """Enroll (paying when not free), have the program's own provider complete it, wait
    for the credential."""
    enrollment = owner.enroll(learner, program["id"])
    assert enrollment.status_code == 201, enrollment.text
    enrolled = enrollment.json()
    if enrolled["status"] == "PENDING_PAYMENT":
        assert owner.pay(enrolled, CARD).status_code == 303
        eventually(
            lambda: owner.get(learner, enrolled["id"])["status"] == "ACTIVE",
            what="the paid enrollment to turn ACTIVE",
        )
    done = owner.http.post(
        f"/api/v1/enrollments/{enrolled['id']}/complete", json={}, headers=owner.provider
    )
    assert done.status_code == 200, done.text
    return eventually(
        lambda: (e := owner.get(learner, enrolled["id"]))["credential_id"] and e,
        what="the component credential",
    )


@pytest.mark.parametrize("order", ["a-first", "b-first"])
def test_a_cross_provider_pathway_needs_consent_then_awards_once(
    http: httpx.Client, order: str
) -> None:
    a, b = Market(http), Market(http)
    a_program = a.program(title="Data basics", price=FREE)
    b_program = b.program(title="Statistics")  # paid, in USD like a_program's price
    b_id = b_program["provider_id"]
    a_id = a_program["provider_id"]

    pathway = draft(a, [a_program["id"], b_program["id"]])
    assert [p["consent"] for p in pathway["programs"]] == [None, "PENDING"]
    assert [p["provider_name"] for p in pathway["programs"]] == [
        a_program["provider_name"],
        b_program["provider_name"],
    ]
    # Not before consent.
    refused = publish(a, pathway["id"])
    assert refused.status_code == 409, refused.text
    assert b_program["id"] in refused.json()["detail"]
    assert "PENDING" in refused.json()["detail"]

    # A sees its outgoing request, B its incoming one; neither sees it on the other side.
    outgoing = consents(a, a_id, direction="outgoing").json()["consents"]
    assert [(c["pathway_id"], c["status"]) for c in outgoing] == [(pathway["id"], "PENDING")]
    assert consents(a, a_id, direction="incoming").json()["consents"] == []
    consent = the_consent(b, b_id, pathway["id"])
    assert consent["requester_provider_id"] == a_id
    assert consent["provider_id"] == b_id
    assert consent["program_title"] == "Statistics"

    # The requester cannot grant its own request (403); B can.
    assert decide(a, consent["id"], "grant").status_code == 403
    granted = decide(b, consent["id"], "grant")
    assert granted.status_code == 200, granted.text
    assert granted.json()["status"] == "GRANTED"
    assert granted.json()["decided_by"]
    assert decide(b, consent["id"], "grant").status_code == 409  # not PENDING any more

    published = publish(a, pathway["id"])
    assert published.status_code == 200, published.text
    assert [p["consent"] for p in published.json()["programs"]] == [None, "GRANTED"]
    assert published.json()["total_price"] == [
        {"amount_minor": b_program["price"]["amount_minor"], "currency": "USD"}
    ]

    # The storefront names each program's provider and the total.
    page = http.get(f"/pathways/{pathway['id']}", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert b_program["provider_name"] in page.text
    assert a_program["provider_name"] in page.text
    assert "Total" in page.text

    learner = a.learner()
    owners = {a_program["id"]: a, b_program["id"]: b}
    steps = [a_program, b_program] if order == "a-first" else [b_program, a_program]
    done = [complete(owners[p["id"]], learner, p) for p in steps]
    issued = pathway_credential(a, learner, pathway["id"])
    found = credential(a, issued)
    assert sorted(found["component_credential_ids"]) == sorted(e["credential_id"] for e in done)
    # Once: exactly one pathway credential, and it stays one.
    mine = http.get("/api/v1/credentials", headers=learner).json()["credentials"]
    assert [c["id"] for c in mine if c["pathway_id"]] == [issued]

    # B withdraws: the pathway is archived, the credential already issued stays valid.
    withdrawn = decide(b, consent["id"], "withdraw")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["status"] == "WITHDRAWN"
    assert withdrawn.json()["pathway_status"] == "ARCHIVED"
    archived = http.get(f"/api/v1/pathways/{pathway['id']}", headers=a.provider)
    assert archived.json()["status"] == "ARCHIVED"
    assert http.get(f"/api/v1/pathways/{pathway['id']}").status_code == 404  # off the store
    assert publish(a, pathway["id"]).status_code == 409
    # The credentials service hears PathwayArchived: the learner's /learning says so.
    session = {SESSION_COOKIE: learner["authorization"].removeprefix("Bearer ")}

    def learning() -> str:
        with httpx.Client(base_url=str(http.base_url), cookies=session, trust_env=False) as page:
            return page.get("/learning", headers={"accept": "text/html"}).text

    eventually(
        lambda: "no longer awarded" in learning(),
        what="the credentials service to close the pathway",
    )
    assert credential(a, issued)["status"] == "ISSUED"
    # Asking again for an archived pathway is refused.
    again = a.http.post(
        f"/api/v1/pathways/{pathway['id']}/consents",
        json={"program_id": b_program["id"]},
        headers=a.provider,
    )
    assert again.status_code == 409, again.text


def test_a_refusal_or_a_withdrawal_blocks_publishing_until_granted_again(
    http: httpx.Client,
) -> None:
    a, b = Market(http), Market(http)
    mine = a.program(price={"amount_minor": 4900, "currency": "USD"})
    theirs = b.program(price={"amount_minor": 3000, "currency": "EUR"})
    pathway = draft(a, [mine["id"], theirs["id"]])
    # Mixed currencies: a total per currency, never converted.
    assert pathway["total_price"] == [
        {"amount_minor": 3000, "currency": "EUR"},
        {"amount_minor": 4900, "currency": "USD"},
    ]
    consent = the_consent(b, theirs["provider_id"], pathway["id"])

    refused = decide(b, consent["id"], "refuse")
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "REFUSED"
    blocked = publish(a, pathway["id"])
    assert blocked.status_code == 409
    assert "REFUSED" in blocked.json()["detail"]
    assert decide(b, consent["id"], "grant").status_code == 409  # needs a new request

    url = f"/api/v1/pathways/{pathway['id']}/consents"
    asked = a.http.post(url, json={"program_id": theirs["id"]}, headers=a.provider)
    assert asked.status_code == 200, asked.text
    assert (asked.json()["id"], asked.json()["status"]) == (consent["id"], "PENDING")
    assert decide(b, consent["id"], "grant").status_code == 200
    assert decide(b, consent["id"], "withdraw").json()["status"] == "WITHDRAWN"
    blocked = publish(a, pathway["id"])
    assert blocked.status_code == 409
    assert "WITHDRAWN" in blocked.json()["detail"]
    # A draft is not archived by a withdrawal.
    assert (
        a.http.get(f"/api/v1/pathways/{pathway['id']}", headers=a.provider).json()["status"]
        == "DRAFT"
    )

    # Asked and granted once more, it publishes; the page shows both totals.
    assert (
        a.http.post(url, json={"program_id": theirs["id"]}, headers=a.provider).json()["status"]
        == "PENDING"
    )
    assert decide(b, consent["id"], "grant").status_code == 200
    assert publish(a, pathway["id"]).status_code == 200
    page = http.get(f"/pathways/{pathway['id']}", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "30.00 EUR" in page.text
    assert "49.00 USD" in page.text
    assert "not converted" in page.text


def test_only_the_programs_provider_or_an_admin_decides(http: httpx.Client) -> None:
    a, b, c = Market(http), Market(http), Market(http)
    mine, theirs = a.program(price=FREE), b.program(price=FREE)
    pathway = draft(a, [mine["id"], theirs["id"]])
    consent = the_consent(b, theirs["provider_id"], pathway["id"])

    # A third provider learns nothing of it: 404 for every decision, 403 on B's listing.
    for action in ("grant", "refuse", "withdraw"):
        assert decide(c, consent["id"], action).status_code == 404
    assert consents(c, theirs["provider_id"]).status_code == 403
    # A learner cannot decide at all.
    learner = a.learner()
    assert (
        http.post(f"/api/v1/pathway-consents/{consent['id']}/grant", headers=learner).status_code
        == 403
    )
    assert http.post(f"/api/v1/pathway-consents/{consent['id']}/grant").status_code == 401
    # The requester cannot decide, nor can it ask about programs the pathway does not name.
    assert decide(a, consent["id"], "refuse").status_code == 403
    other = b.program(price=FREE)
    unnamed = a.http.post(
        f"/api/v1/pathways/{pathway['id']}/consents",
        json={"program_id": other["id"]},
        headers=a.provider,
    )
    assert unnamed.status_code == 409, unnamed.text
    own = a.http.post(
        f"/api/v1/pathways/{pathway['id']}/consents",
        json={"program_id": mine["id"]},
        headers=a.provider,
    )
    assert own.status_code == 409, own.text
    # Nor may C ask on A's draft (404: drafts are A's business).
    assert (
        c.http.post(
            f"/api/v1/pathways/{pathway['id']}/consents",
            json={"program_id": theirs["id"]},
            headers=c.provider,
        ).status_code
        == 404
    )
    still = the_consent(b, theirs["provider_id"], pathway["id"])
    assert still["status"] == "PENDING"
    assert publish(a, pathway["id"]).status_code == 409

    # An admin may decide for B.
    admin = a.token(role="admin", sub=f"admin-{uuid.uuid4().hex[:6]}")
    by_admin = http.post(f"/api/v1/pathway-consents/{consent['id']}/grant", headers=admin)
    assert by_admin.status_code == 200, by_admin.text
    assert publish(a, pathway["id"]).status_code == 200


def test_another_providers_draft_program_cannot_be_named(http: httpx.Client) -> None:
    a, b = Market(http), Market(http)
    mine = a.program(price=FREE)
    from services.devstack.demo import demo_program

    hidden = b.http.post("/api/v1/programs", json=demo_program(), headers=b.provider).json()
    refused = a.http.post(
        "/api/v1/pathways", json=pathway_body([mine["id"], hidden["id"]]), headers=a.provider
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0] == {"field": "program_ids[1]", "message": "no such program"}


def test_concurrent_duplicate_requests_yield_one(http: httpx.Client) -> None:
    a, b = Market(http), Market(http)
    mine, theirs = a.program(price=FREE), b.program(price=FREE)
    pathway = draft(a, [mine["id"], theirs["id"]])
    consent = the_consent(b, theirs["provider_id"], pathway["id"])
    assert decide(b, consent["id"], "refuse").status_code == 200
    url = f"/api/v1/pathways/{pathway['id']}/consents"

    def ask(_: int) -> httpx.Response:
        return a.http.post(url, json={"program_id": theirs["id"]}, headers=a.provider)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(ask, range(6)))
    assert [r.status_code for r in answers] == [200] * 6, [r.text for r in answers]
    assert {(r.json()["id"], r.json()["status"]) for r in answers} == {(consent["id"], "PENDING")}
    # The version moved once: one reopening, not six.
    assert {r.json()["version"] for r in answers} == {consent["version"] + 2}
    listed = consents(b, theirs["provider_id"], direction="incoming").json()["consents"]
    assert [c["id"] for c in listed if c["pathway_id"] == pathway["id"]] == [consent["id"]]

    # Concurrent grants: one wins, the rest find it no longer pending.
    def grant(_: int) -> int:
        return decide(b, consent["id"], "grant").status_code

    with ThreadPoolExecutor(4) as pool:
        assert sorted(pool.map(grant, range(4))) == [200, 409, 409, 409]


def test_a_token_of_one_providers_listing_is_refused_on_anothers(http: httpx.Client) -> None:
    """The walks of tests/e2e/test_paging.py (WALKERS) page a provider's consents under each
    filter and refuse a token under other filters; the provider is one more: an admin sees
    every provider's listing, with a token good for the provider that issued it alone."""
    a, b = Market(http), Market(http)
    mine, theirs = a.program(price=FREE), b.program(price=FREE)
    for i in range(2):
        draft(a, [mine["id"], theirs["id"]], title=f"Pathway {i}")
    admin = a.token(role="admin", sub=f"admin-{uuid.uuid4().hex[:6]}")
    listing = "/api/v1/providers/{}/pathway-consents"
    issued = first_token(http, listing.format(theirs["provider_id"]), "consents", {}, admin)
    refused = http.get(
        listing.format(mine["provider_id"]), params={"page_token": issued}, headers=admin
    )
    problem_names_page_token(refused, OTHER_FILTERS)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"direction": "sideways"}, "direction"),
        ({"status": "MAYBE"}, "status"),
        ({"status": "pending"}, "status"),
        ({"direction": "\x00"}, "direction"),
        # page_size and page_token: tests/e2e/test_paging.py, on every paged operation.
    ],
)
def test_hostile_listing_parameters_are_422(
    http: httpx.Client, params: dict[str, Any], field: str
) -> None:
    b = Market(http)
    theirs = b.program(price=FREE)
    refused = consents(b, theirs["provider_id"], **params)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"].endswith(field) for e in refused.json()["errors"]), refused.text


@pytest.mark.parametrize(
    "body",
    [
        {"program_id": "not-a-uuid"},
        {"program_id": "\x00"},
        {"program_id": str(uuid.uuid4()) + "\x00"},
        {"program_id": ""},
        {"program_id": 7},
        {},
        {"program_id": str(uuid.uuid4()), "extra": 1},
    ],
)
def test_hostile_request_bodies_are_422(http: httpx.Client, body: dict[str, Any]) -> None:
    a, b = Market(http), Market(http)
    mine, theirs = a.program(price=FREE), b.program(price=FREE)
    pathway = draft(a, [mine["id"], theirs["id"]])
    refused = a.http.post(
        f"/api/v1/pathways/{pathway['id']}/consents", json=body, headers=a.provider
    )
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")


def test_bad_ids_in_paths_are_404(http: httpx.Client) -> None:
    b = Market(http)
    for path in (
        "/api/v1/pathway-consents/nope/grant",
        "/api/v1/pathway-consents/%00/grant",
        f"/api/v1/pathway-consents/{uuid.uuid4()}/withdraw",
    ):
        assert http.post(path, headers=b.provider).status_code == 404, path
    for path in (
        "/api/v1/providers/nope/pathway-consents",
        "/api/v1/providers/%00/pathway-consents",
    ):
        assert http.get(path, headers=b.provider).status_code == 404, path


def test_a_member_of_the_programs_provider_decides_by_acting_for_it(http: httpx.Client) -> None:
    """Staff are people: a signed-in member acts for B with X-Upskill-Provider, and the
    catalog checks the membership; a member of another provider cannot act for B."""
    a, b, c = Market(http), Market(http), Market(http)
    mine, theirs, elsewhere = a.program(price=FREE), b.program(price=FREE), c.program(price=FREE)
    pathway = draft(a, [mine["id"], theirs["id"]])
    consent = the_consent(b, theirs["provider_id"], pathway["id"])
    admin = a.token(role="admin", sub=f"admin-{uuid.uuid4().hex[:6]}")
    run = uuid.uuid4().hex[:8]
    for provider, subject in ((theirs, f"bea-{run}"), (elsewhere, f"cal-{run}")):
        added = http.post(
            f"/api/v1/providers/{provider['provider_id']}/members",
            json={"subject": subject, "role": "STAFF"},
            headers=admin,
        )
        assert added.status_code == 201, added.text
    bea = a.token(role="learner", sub=f"bea-{run}") | {"x-upskill-provider": theirs["provider_id"]}
    cal = a.token(role="learner", sub=f"cal-{run}")
    url = f"/api/v1/pathway-consents/{consent['id']}/grant"
    # Cal, acting for B, is refused by the membership check; acting for C, the consent is
    # none of C's business.
    assert (
        http.post(url, headers=cal | {"x-upskill-provider": theirs["provider_id"]}).status_code
        == 403
    )
    assert (
        http.post(url, headers=cal | {"x-upskill-provider": elsewhere["provider_id"]}).status_code
        == 404
    )
    listed = http.get(f"/api/v1/providers/{theirs['provider_id']}/pathway-consents", headers=bea)
    assert [c["id"] for c in listed.json()["consents"]] == [consent["id"]]
    granted = http.post(url, headers=bea)
    assert granted.status_code == 200, granted.text
    assert granted.json()["decided_by"] == f"bea-{run}"
    assert publish(a, pathway["id"]).status_code == 200


def test_a_withdrawal_racing_a_publish_never_leaves_a_published_pathway_without_consent(
    http: httpx.Client,
) -> None:
    a, b = Market(http), Market(http)
    mine, theirs = a.program(price=FREE), b.program(price=FREE)
    for i in range(4):
        pathway = draft(a, [mine["id"], theirs["id"]], title=f"Race {i}")
        consent = the_consent(b, theirs["provider_id"], pathway["id"])
        assert decide(b, consent["id"], "grant").status_code == 200
        with ThreadPoolExecutor(2) as pool:
            published = pool.submit(publish, a, pathway["id"])
            withdrawn = pool.submit(decide, b, consent["id"], "withdraw")
            codes = (published.result().status_code, withdrawn.result().status_code)
        assert withdrawn.result().json()["status"] == "WITHDRAWN"
        final = http.get(f"/api/v1/pathways/{pathway['id']}", headers=a.provider).json()
        # Publish first: the withdrawal archived it. Withdrawal first: publish refused.
        expected = {(200, 200): "ARCHIVED", (409, 200): "DRAFT"}
        assert final["status"] == expected[codes], (codes, final["status"])
