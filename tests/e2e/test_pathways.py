"""Pathways end to end on the real services (DESIGN invariant 8): a provider defines a
pathway of three of its programs; a learner who completes them, in any order, receives
one pathway credential (OB 3.0, citing the three) without anyone doing anything; refunding
a component revokes it with the reason; earning the component again issues a new one.
Plus the routes' hostile input: bounds, NUL, foreign programs, second pages, races."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import jwt
import pytest

from services.devstack.stack import Stack
from tests.e2e.test_saga_paths import Market
from tests.polling import eventually
from tests.standards import describe, schema_errors

CARD = "4242424242424242"
FREE = {"amount_minor": 0, "currency": "USD"}


@pytest.fixture
def market(stack: Stack) -> Iterator[Market]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as http:
        yield Market(http)


def pathway_body(program_ids: list[str], /, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Cloud engineer",
        "description": "Three programs, one credential.",
        "program_ids": program_ids,
        "achievement": {
            "name": "Cloud Engineer Pathway",
            "description": "Builds, ships and runs cloud software.",
            "criteria": "Earned the credentials of all three programs.",
            "skills": ["cloud", "devops"],
            "image_url": "https://upskill.example/badges/cloud.png",
        },
    }
    body.update(changes)
    return body


def published_pathway(market: Market, program_ids: list[str], **changes: Any) -> dict[str, Any]:
    made = market.http.post(
        "/api/v1/pathways", json=pathway_body(program_ids, **changes), headers=market.provider
    )
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "DRAFT"
    published = market.http.post(
        f"/api/v1/pathways/{made.json()['id']}/publish", headers=market.provider
    )
    assert published.status_code == 200, published.text
    return dict(published.json())


def complete(market: Market, learner: dict[str, str], program: dict[str, Any]) -> dict[str, Any]:
    """Enroll (paying when the program is not free), complete, and wait for the credential."""
    enrollment = market.enroll(learner, program["id"])
    assert enrollment.status_code == 201, enrollment.text
    enrolled = enrollment.json()
    if enrolled["status"] == "PENDING_PAYMENT":
        assert market.pay(enrolled, CARD).status_code == 303
        eventually(
            lambda: market.get(learner, enrolled["id"])["status"] == "ACTIVE",
            what="the paid enrollment to turn ACTIVE",
        )
    done = market.http.post(
        f"/api/v1/enrollments/{enrolled['id']}/complete", json={}, headers=market.provider
    )
    assert done.status_code == 200, done.text
    return eventually(
        lambda: (e := market.get(learner, enrolled["id"]))["credential_id"] and e,
        what="the component credential",
    )


def progress(market: Market, learner: dict[str, str], pathway_id: str) -> httpx.Response:
    return market.http.get(f"/api/v1/pathways/{pathway_id}/progress", headers=learner)


def pathway_credential(market: Market, learner: dict[str, str], pathway_id: str) -> str:
    return str(
        eventually(
            lambda: (
                (r := progress(market, learner, pathway_id)).status_code == 200
                and r.json()["pathway_credential_id"]
            ),
            what="the pathway credential",
        )
    )


def credential(market: Market, credential_id: str) -> dict[str, Any]:
    found = market.http.get(f"/api/v1/credentials/{credential_id}")
    assert found.status_code == 200, found.text
    return dict(found.json())


def test_a_pathway_of_three_completed_in_any_order_revoked_with_a_component_and_reissued(
    market: Market,
) -> None:
    sql = market.program(title="SQL", price=FREE)
    docker = market.program(title="Docker")  # paid: refundable
    k8s = market.program(title="Kubernetes", price=FREE)
    pathway = published_pathway(market, [sql["id"], docker["id"], k8s["id"]])
    assert pathway["status"] == "PUBLISHED"
    assert pathway["required_count"] == 3
    assert [p["title"] for p in pathway["programs"]] == ["SQL", "Docker", "Kubernetes"]
    assert pathway["total_price"] == [{"amount_minor": 4900, "currency": "USD"}]
    learner = market.learner()

    # Not the pathway's order: the last one listed first.
    done = {p["id"]: complete(market, learner, p) for p in (k8s, docker)}
    halfway = eventually(
        lambda: (
            (r := progress(market, learner, pathway["id"])).status_code == 200
            and r.json()["earned_count"] == 2
            and r.json()
        ),
        what="progress to show two of three",
    )
    assert isinstance(halfway, dict)
    assert halfway["complete"] is False
    assert halfway["pathway_credential_id"] is None
    done[sql["id"]] = complete(market, learner, sql)

    first_id = pathway_credential(market, learner, pathway["id"])
    first = credential(market, first_id)
    assert first["pathway_id"] == pathway["id"]
    assert first["enrollment_id"] in ("", None)
    assert sorted(first["component_credential_ids"]) == sorted(
        e["credential_id"] for e in done.values()
    )
    claims = jwt.decode(first["jwt"], options={"verify_signature": False})
    assert describe(schema_errors(claims)) == []
    assert len(claims["evidence"]) == 3
    verified = market.http.post("/api/v1/credentials/verify", json={"credential": first["jwt"]})
    assert verified.json()["status"] == "VALID", verified.text
    # Once: the learner's listing holds exactly one pathway credential.
    mine = market.http.get("/api/v1/credentials", headers=learner).json()["credentials"]
    assert [c["id"] for c in mine if c["pathway_id"]] == [first_id]
    page = market.http.get(f"/pathways/{pathway['id']}", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert "Cloud Engineer Pathway" in page.text
    shown = market.http.get(f"/credentials/{first_id}", headers={"accept": "text/html"})
    assert shown.status_code == 200
    assert "Cloud Engineer Pathway" in shown.text

    # Refund a component: the pathway credential goes with it, saying why.
    admin = market.token(role="admin", sub="finance")
    refunded = market.http.post(
        f"/api/v1/enrollments/{done[docker['id']]['id']}/refund", json={}, headers=admin
    )
    assert refunded.status_code == 202, refunded.text
    revoked = eventually(
        lambda: (c := credential(market, first_id))["status"] == "REVOKED" and c,
        what="the pathway credential to be revoked",
    )
    assert revoked["revocation_reason"] == (
        "component credential 'Kubernetes Practitioner' revoked: refunded"
    )
    verified = market.http.post("/api/v1/credentials/verify", json={"credential": first["jwt"]})
    assert verified.json()["status"] == "REVOKED"
    after = progress(market, learner, pathway["id"]).json()
    assert after["pathway_credential_id"] is None
    assert after["earned_count"] == 2

    # Earned again: a new pathway credential, citing the new component.
    again = complete(market, learner, docker)
    second_id = str(
        eventually(
            lambda: (i := pathway_credential(market, learner, pathway["id"])) != first_id and i,
            what="a new pathway credential",
        )
    )
    second = credential(market, second_id)
    assert second["status"] == "ISSUED"
    assert again["credential_id"] in second["component_credential_ids"]
    assert credential(market, first_id)["status"] == "REVOKED"


def test_drafts_are_the_providers_business_and_progress_needs_a_learner(market: Market) -> None:
    a, b = market.program(price=FREE), market.program(price=FREE)
    draft = market.http.post(
        "/api/v1/pathways", json=pathway_body([a["id"], b["id"]]), headers=market.provider
    ).json()
    learner = market.learner()
    assert market.http.get(f"/api/v1/pathways/{draft['id']}").status_code == 404
    assert market.http.get(f"/api/v1/pathways/{draft['id']}", headers=learner).status_code == 404
    owner = market.http.get(f"/api/v1/pathways/{draft['id']}", headers=market.provider)
    assert owner.status_code == 200
    assert progress(market, learner, draft["id"]).status_code == 404
    assert market.http.get(f"/api/v1/pathways/{draft['id']}/progress").status_code == 401
    # Another provider may neither publish nor see it.
    other = Market(market.http)
    assert (
        market.http.post(
            f"/api/v1/pathways/{draft['id']}/publish", headers=other.provider
        ).status_code
        == 404
    )
    # A learner cannot define one.
    refused = market.http.post(
        "/api/v1/pathways", json=pathway_body([a["id"], b["id"]]), headers=learner
    )
    assert refused.status_code == 403


def test_only_published_programs(market: Market) -> None:
    mine = market.program(price=FREE)
    unknown = market.http.post(
        "/api/v1/pathways",
        json=pathway_body([mine["id"], str(uuid.uuid4())]),
        headers=market.provider,
    )
    assert unknown.status_code == 422, unknown.text

    draft_program = market.http.post(
        "/api/v1/programs", json=market_program_body(), headers=market.provider
    ).json()
    pathway = market.http.post(
        "/api/v1/pathways",
        json=pathway_body([mine["id"], draft_program["id"]]),
        headers=market.provider,
    ).json()
    unpublishable = market.http.post(
        f"/api/v1/pathways/{pathway['id']}/publish", headers=market.provider
    )
    assert unpublishable.status_code == 409
    assert "published first" in unpublishable.json()["detail"]


def market_program_body() -> dict[str, Any]:
    from services.devstack.demo import demo_program

    return demo_program()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "Cloud\x00engineer"}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"description": "x" * 4001}, "description"),
        ({"program_ids": [str(uuid.uuid4())]}, "program_ids"),
        ({"program_ids": [str(uuid.uuid4()) for _ in range(21)]}, "program_ids"),
        ({"program_ids": ["not-a-uuid", str(uuid.uuid4())]}, "program_ids"),
        ({"required_count": 21}, "required_count"),
        ({"required_count": -1}, "required_count"),
        ({"required_count": "2"}, "required_count"),
        ({"achievement": {"name": "x"}}, "achievement.description"),
        ({"unexpected": True}, "unexpected"),
    ],
)
def test_hostile_pathway_bodies_are_422_with_the_field(
    market: Market, changes: dict[str, Any], field: str
) -> None:
    a, b = market.program(price=FREE), market.program(price=FREE)
    response = market.http.post(
        "/api/v1/pathways",
        json=pathway_body([a["id"], b["id"]], **changes),
        headers=market.provider,
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert any(e["field"].startswith(field) for e in response.json()["errors"]), response.text


def test_more_programs_required_than_listed_and_repeats_are_refused(market: Market) -> None:
    a, b = market.program(price=FREE), market.program(price=FREE)
    too_many = market.http.post(
        "/api/v1/pathways",
        json=pathway_body([a["id"], b["id"]], required_count=3),
        headers=market.provider,
    )
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["field"] == "required_count"
    repeated = market.http.post(
        "/api/v1/pathways", json=pathway_body([a["id"], a["id"]]), headers=market.provider
    )
    assert repeated.status_code == 422


def test_a_huge_body_is_413_and_bad_ids_are_404(market: Market) -> None:
    huge = market.http.post(
        "/api/v1/pathways",
        content=b'{"title": "' + b"x" * 300_000 + b'"}',
        headers=market.provider | {"content-type": "application/json"},
    )
    assert huge.status_code == 413
    for path in (
        "/api/v1/pathways/nope",
        "/api/v1/pathways/%00",
        f"/api/v1/pathways/{uuid.uuid4()}",
    ):
        assert market.http.get(path).status_code == 404, path
    learner = market.learner()
    assert progress(market, learner, "nope").status_code == 404


def test_listing_walks_every_page_and_refuses_bad_tokens(market: Market) -> None:
    programs = [market.program(price=FREE)["id"] for _ in range(2)]
    made = [published_pathway(market, programs, title=f"Pathway {i}")["id"] for i in range(5)]
    provider_id = market.http.get(f"/api/v1/pathways/{made[0]}").json()["provider_id"]
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        params = {"provider_id": provider_id, "page_size": 2} | (
            {"page_token": token} if token else {}
        )
        page = market.http.get("/api/v1/pathways", params=params)
        assert page.status_code == 200, page.text
        seen += [p["id"] for p in page.json()["pathways"]]
        pages += 1
        token = page.json()["next_page_token"] or ""
        if not token:
            break
    assert pages == 3
    assert seen == list(reversed(made))  # newest first, each once
    for bad in ("garbage", "x" * 201, "\x00", "eyJ"):
        refused = market.http.get("/api/v1/pathways", params={"page_token": bad})
        assert 400 <= refused.status_code < 500, (bad, refused.text)
    assert market.http.get("/api/v1/pathways", params={"page_size": 101}).status_code == 422
    storefront = market.http.get("/pathways", headers={"accept": "text/html"})
    assert storefront.status_code == 200


def test_concurrent_publishes_publish_once(market: Market) -> None:
    programs = [market.program(price=FREE)["id"] for _ in range(2)]
    draft = market.http.post(
        "/api/v1/pathways", json=pathway_body(programs), headers=market.provider
    ).json()
    url = f"/api/v1/pathways/{draft['id']}/publish"
    with ThreadPoolExecutor(4) as pool:
        codes = sorted(
            pool.map(lambda _: market.http.post(url, headers=market.provider).status_code, range(4))
        )
    assert codes == [200, 409, 409, 409]
    archived = market.http.post(f"/api/v1/pathways/{draft['id']}/archive", headers=market.provider)
    assert archived.status_code == 200
    assert archived.json()["status"] == "ARCHIVED"
    listed = market.http.get("/api/v1/pathways", params={"provider_id": draft["provider_id"]})
    assert draft["id"] not in [p["id"] for p in listed.json()["pathways"]]
