"""Public profiles end to end on real services: a learner picks a handle, turns the profile
on and chooses credentials; anyone reads /api/v1/profiles/{handle} (grouped by skill, each
credential verified live) and verifies all of them in one call. Handle rules, a race for one
handle, hostile input, private = unknown (404), revoked shows REVOKED, and nobody edits or
shows what is not theirs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from services.devstack.stack import Stack
from services.gateway.security import SESSION_COOKIE
from tests.e2e.test_saga_paths import Market
from tests.polling import eventually

FREE = {"amount_minor": 0, "currency": "USD"}


@pytest.fixture
def market(stack: Stack) -> Iterator[Market]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30, trust_env=False) as http:
        yield Market(http)


def learner(market: Market) -> dict[str, str]:
    sub = f"pp-{uuid.uuid4().hex[:10]}"
    return market.token(role="learner", sub=sub, email=f"{sub}@example.com")


def earn(market: Market, who: dict[str, str], skills: list[str]) -> dict[str, Any]:
    """A credential for ``who``: a free program issuing on payment, enrolled (ACTIVE at
    once), until its credential is issued."""
    program = market.program(price=FREE, issuance="ON_PAYMENT", skills=skills)
    assert program["credential"]["name"]
    enrolled = market.enroll(who, program["id"])
    assert enrolled.status_code == 201, enrolled.text
    done = eventually(
        lambda: (e := market.get(who, enrolled.json()["id"]))["credential_id"] and e,
        what="the credential issued on enrollment",
    )
    found = market.http.get(f"/api/v1/credentials/{done['credential_id']}")
    assert found.status_code == 200, found.text
    return dict(found.json())


def put_profile(market: Market, who: dict[str, str], **body: Any) -> httpx.Response:
    return market.http.put("/api/v1/me/profile", json=body, headers=who)


def handle() -> str:
    return f"ada-{uuid.uuid4().hex[:10]}"


def test_a_learner_shows_chosen_credentials_grouped_by_skill_each_verified(
    market: Market,
) -> None:
    ada = learner(market)
    k8s = earn(market, ada, ["kubernetes", "devops"])
    py = earn(market, ada, ["python", "devops"])
    hidden = earn(market, ada, ["secret-skill"])
    mine = handle()

    saved = put_profile(
        market,
        ada,
        handle=mine.upper(),  # folded: a handle is lowercase
        public=True,
        credential_ids=[py["id"], k8s["id"], py["id"]],
        display_name="Ada Lovelace",
        show_name=True,
    )
    assert saved.status_code == 200, saved.text
    settings = saved.json()
    assert settings["handle"] == mine
    assert settings["public"] is True
    assert settings["credential_ids"] == [py["id"], k8s["id"]]  # duplicates count once
    assert settings["profile_url"].endswith(f"/u/{mine}")
    assert market.http.get("/api/v1/me/profile", headers=ada).json() == settings

    public = market.http.get(f"/api/v1/profiles/{mine.upper()}")  # any case finds it
    assert public.status_code == 200, public.text
    body = public.json()
    assert body["handle"] == mine
    assert body["name"] == "Ada Lovelace"
    assert [c["id"] for c in body["credentials"]] == [py["id"], k8s["id"]]
    assert hidden["id"] not in public.text  # only what the learner chose
    assert all("learner_id" not in c for c in body["credentials"])
    groups = {g["skill"]: g["credential_ids"] for g in body["skills"]}
    assert groups == {
        "python": [py["id"]],
        "devops": [py["id"], k8s["id"]],
        "kubernetes": [k8s["id"]],
    }
    for shown in body["credentials"]:
        assert shown["verification"]["status"] == "VALID"
        assert shown["verification"]["verified"] is True
        # The same verdict the public verify route gives for the same VC-JWT.
        again = market.http.post("/api/v1/credentials/verify", json={"credential": shown["jwt"]})
        assert again.json()["status"] == "VALID"
        assert again.json()["checks"] == shown["verification"]["checks"]

    verification = market.http.get(urlparse(body["verification_url"]).path)
    assert verification.status_code == 200, verification.text
    verdicts = verification.json()
    assert verdicts["all_valid"] is True
    assert verdicts["counts"] == {"VALID": 2}
    assert [(v["id"], v["status"]) for v in verdicts["credentials"]] == [
        (py["id"], "VALID"),
        (k8s["id"], "VALID"),
    ]
    assert verification.headers["cache-control"] == "no-store"

    page = market.http.get(f"/u/{mine}")
    assert page.status_code == 200
    assert 'property="og:title" content="Ada Lovelace on Upskill"' in page.text
    assert "2 of 2 credentials valid" in page.text


def test_a_revoked_credential_stays_on_the_profile_as_revoked(market: Market) -> None:
    ada = learner(market)
    kept = earn(market, ada, ["sql"])
    revoked = earn(market, ada, ["sql"])
    mine = handle()
    assert (
        put_profile(
            market, ada, handle=mine, public=True, credential_ids=[kept["id"], revoked["id"]]
        ).status_code
        == 200
    )
    revoking = market.http.post(
        f"/api/v1/credentials/{revoked['id']}/revoke",
        json={"reason": "misconduct"},
        headers=market.provider,
    )
    assert revoking.status_code == 200, revoking.text

    body = market.http.get(f"/api/v1/profiles/{mine}").json()
    by_id = {c["id"]: c for c in body["credentials"]}
    assert set(by_id) == {kept["id"], revoked["id"]}  # never hidden silently
    assert by_id[revoked["id"]]["verification"]["status"] == "REVOKED"
    assert by_id[revoked["id"]]["verification"]["verified"] is False
    assert by_id[revoked["id"]]["revocation_reason"] == "misconduct"
    assert by_id[kept["id"]]["verification"]["status"] == "VALID"
    verdicts = market.http.get(f"/api/v1/profiles/{mine}/verification").json()
    assert verdicts["all_valid"] is False
    assert verdicts["counts"] == {"VALID": 1, "REVOKED": 1}
    page = market.http.get(f"/u/{mine}")
    assert "REVOKED" in page.text
    assert "1 of 2 credentials valid" in page.text


def test_a_private_profile_and_an_unknown_handle_are_the_same_404(market: Market) -> None:
    ada = learner(market)
    mine = handle()
    assert put_profile(market, ada, handle=mine, public=False).status_code == 200
    for path in (f"/api/v1/profiles/{mine}", f"/api/v1/profiles/{mine}/verification"):
        private = market.http.get(path)
        unknown = market.http.get(path.replace(mine, handle()))
        assert private.status_code == unknown.status_code == 404
        assert private.json()["detail"] == unknown.json()["detail"]
    assert market.http.get(f"/u/{mine}").status_code == 404

    # Turned on, then off again: gone at once.
    assert put_profile(market, ada, handle=mine, public=True).status_code == 200
    assert market.http.get(f"/api/v1/profiles/{mine}").status_code == 200
    assert put_profile(market, ada, handle=mine, public=False).status_code == 200
    assert market.http.get(f"/api/v1/profiles/{mine}").status_code == 404


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("ab", "3 to 30"),
        ("a" * 31, "3 to 30"),
        ("-ada", "single hyphens"),
        ("ada-", "single hyphens"),
        ("ada--lovelace", "single hyphens"),
        ("ada_lovelace", "single hyphens"),
        ("ada lovelace", "single hyphens"),
        ("adà", "a-z"),
        ("\u212ada", "a-z"),  # the Kelvin sign lowercases to "k"
        ("\u0430da", "a-z"),  # Cyrillic a
        ("admin", "reserved"),
        ("Support", "reserved"),
    ],
)
def test_handle_rules_are_refused_with_the_rule_named(
    market: Market, value: str, rule: str
) -> None:
    response = put_profile(market, learner(market), handle=value, public=True)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == ["handle"]
    assert rule in errors[0]["message"]


def test_a_public_profile_needs_a_handle(market: Market) -> None:
    response = put_profile(market, learner(market), handle="", public=True)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "handle"


def test_a_taken_handle_is_409_however_it_is_cased(market: Market) -> None:
    mine = handle()
    assert put_profile(market, learner(market), handle=mine).status_code == 200
    taken = put_profile(market, learner(market), handle=mine.upper(), public=True)
    assert taken.status_code == 409, taken.text
    assert taken.json()["errors"] == [
        {"field": "handle", "message": "this handle is taken; choose another"}
    ]


def test_learners_racing_for_one_handle_exactly_one_wins(market: Market) -> None:
    contested = handle()
    racers = [learner(market) for _ in range(8)]
    with ThreadPoolExecutor(len(racers)) as pool:
        statuses = list(
            pool.map(lambda who: put_profile(market, who, handle=contested).status_code, racers)
        )
    assert sorted(statuses) == [200] + [409] * (len(racers) - 1), statuses
    owners = [
        who
        for who in racers
        if market.http.get("/api/v1/me/profile", headers=who).json()["handle"] == contested
    ]
    assert len(owners) == 1


def test_nobody_shows_or_edits_what_is_not_theirs(market: Market) -> None:
    ada, eve = learner(market), learner(market)
    adas = earn(market, ada, ["rust"])
    mine = handle()
    assert (
        put_profile(market, ada, handle=mine, public=True, credential_ids=[adas["id"]]).status_code
        == 200
    )

    # Eve cannot show Ada's credential, nor one that does not exist.
    stolen = put_profile(
        market, eve, handle=handle(), public=True, credential_ids=[str(uuid.uuid4()), adas["id"]]
    )
    assert stolen.status_code == 422, stolen.text
    assert {e["field"] for e in stolen.json()["errors"]} == {
        "credential_ids[0]",
        "credential_ids[1]",
    }
    # Eve's PUT edits Eve's profile only: Ada's is untouched, and her handle stays hers.
    assert put_profile(market, eve, handle=mine).status_code == 409
    assert put_profile(market, eve, handle=handle(), public=False).status_code == 200
    body = market.http.get(f"/api/v1/profiles/{mine}").json()
    assert [c["id"] for c in body["credentials"]] == [adas["id"]]
    # No token, or a provider's: not a learner's profile to edit.
    assert market.http.put("/api/v1/me/profile", json={"handle": handle()}).status_code == 401
    assert put_profile(market, market.provider, handle=handle()).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"handle": "ada\x00lovelace"},
        {"handle": "a" * 100_000},
        {"handle": "ada", "credential_ids": ["not-a-uuid"]},
        {"handle": "ada", "credential_ids": [str(uuid.uuid4()) for _ in range(51)]},
        {"handle": "ada", "display_name": "x" * 101},
        {"handle": 5},
        {"handle": "ada", "public": "yes"},
        {"handle": "ada", "surprise": True},
        {"handle": "ada\u202e"},  # a bidi override
    ],
)
def test_hostile_profile_updates_are_422(market: Market, body: dict[str, Any]) -> None:
    response = put_profile(market, learner(market), **body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_huge_body_is_413(market: Market) -> None:
    response = market.http.put(
        "/api/v1/me/profile",
        content=b'{"handle": "' + b"a" * 2_000_000 + b'"}',
        headers=learner(market) | {"content-type": "application/json"},
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "path",
    ["ada%00", "%E2%80%AE", "a" * 5000, "ada%2Flovelace", "%F0%9F%98%80"],
)
def test_hostile_handles_in_the_address_are_404(market: Market, path: str) -> None:
    for route in (f"/api/v1/profiles/{path}", f"/u/{path}"):
        response = market.http.get(route)
        assert response.status_code == 404, (route, response.status_code, response.text[:300])


def _session(who: dict[str, str]) -> dict[str, str]:
    return {SESSION_COOKIE: who["authorization"].removeprefix("Bearer ")}


def test_the_learning_form_curates_the_profile_and_refuses_what_the_api_refuses(
    market: Market,
) -> None:
    ada, eve = learner(market), learner(market)
    first, second = earn(market, ada, ["go"]), earn(market, ada, ["go"])
    evesown = earn(market, eve, ["go"])
    mine = handle()
    form = market.http.get("/learning", cookies=_session(ada))
    assert form.status_code == 200
    assert 'action="/learning/public-profile"' in form.text
    assert first["id"] in form.text
    assert second["id"] in form.text

    saved = market.http.post(
        "/learning/public-profile",
        data={"handle": mine, "public": "on", "credential_ids": [second["id"], first["id"]]},
        cookies=_session(ada),
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"].startswith("/learning?message=public-profile-saved")
    settings = market.http.get("/api/v1/me/profile", headers=ada).json()
    assert (settings["handle"], settings["public"]) == (mine, True)
    assert settings["credential_ids"] == [second["id"], first["id"]]
    # Unticking one keeps the other in its place; the learner's order is kept.
    market.http.post(
        "/learning/public-profile",
        data={"handle": mine, "public": "on", "credential_ids": [first["id"]]},
        cookies=_session(ada),
    )
    assert market.http.get("/api/v1/me/profile", headers=ada).json()["credential_ids"] == [
        first["id"]
    ]

    for data, status in (
        ({"handle": mine, "public": "on"}, 409),  # Ada's handle
        ({"handle": "x" * 201}, 422),
        ({"handle": "ada\x00x"}, 422),
        ({"handle": "admin", "public": "on"}, 422),
        ({"handle": handle(), "credential_ids": [first["id"]]}, 422),  # Ada's credential
        ({"handle": handle(), "credential_ids": ["nope"]}, 422),
    ):
        refused = market.http.post(
            "/learning/public-profile",
            data=data,
            cookies=_session(eve),
            headers={"accept": "text/html"},
            follow_redirects=False,
        )
        assert refused.status_code == status, (data, refused.status_code, refused.text[:300])
        assert "My learning" in refused.text  # the error page keeps the signed-in header
    assert market.http.get("/api/v1/me/profile", headers=eve).json()["handle"] is None
    assert evesown["id"] not in market.http.get(f"/api/v1/profiles/{mine}").text
    anonymous = market.http.post(
        "/learning/public-profile", data={"handle": handle()}, follow_redirects=False
    )
    assert anonymous.status_code == 401
