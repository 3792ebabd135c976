"""Editing a DRAFT pathway (PATCH /api/v1/pathways/{id}), end to end on the real services:
title and k change under If-Match; another provider's program added asks its consent,
which that provider then sees; taken out again, the request is CANCELLED on both sides and
publishing no longer needs it; a published pathway is not edited (409); a stale version
is 412, a missing one 428; hostile input is 422; concurrent edits have one winner; only
the pathway's provider (or an admin) edits."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from services.devstack.stack import Stack
from tests.e2e.test_pathway_consents import consents, draft, publish, the_consent
from tests.e2e.test_pathways import FREE
from tests.e2e.test_saga_paths import Market


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as client:
        yield client


def edit(
    market: Market,
    pathway_id: str,
    body: Any,
    version: int | str | None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = dict(headers if headers is not None else market.provider)
    if version is not None:
        sent["If-Match"] = f'"{version}"' if isinstance(version, int) else version
    return market.http.patch(f"/api/v1/pathways/{pathway_id}", json=body, headers=sent)


def test_a_draft_takes_a_new_title_and_k_under_its_version(http: httpx.Client) -> None:
    a = Market(http)
    ids = [a.program(price=FREE)["id"] for _ in range(3)]
    pathway = draft(a, ids)
    read = a.http.get(f"/api/v1/pathways/{pathway['id']}", headers=a.provider)
    assert read.headers["ETag"] == f'"{pathway["version"]}"'

    changed = edit(a, pathway["id"], {"title": "Data engineer", "required_count": 2}, 1)

    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["title"], body["required_count"], body["version"]) == ("Data engineer", 2, 2)
    assert changed.headers["ETag"] == '"2"'
    # Untouched fields stay; a null k means all of them again.
    assert body["achievement"] == pathway["achievement"]
    assert body["program_ids"] == ids
    all_of = edit(a, pathway["id"], {"required_count": None, "achievement": {"name": "X"}}, 2)
    assert all_of.status_code == 200, all_of.text
    assert (all_of.json()["required_count"], all_of.json()["achievement"]["name"]) == (3, "X")
    assert all_of.json()["achievement"]["criteria"] == pathway["achievement"]["criteria"]
    again = a.http.get(f"/api/v1/pathways/{pathway['id']}", headers=a.provider).json()
    assert (again["title"], again["version"]) == ("Data engineer", 3)

    # A stale version is 412, a missing one 428; nothing changes.
    stale = edit(a, pathway["id"], {"title": "Lost update"}, 2)
    assert stale.status_code == 412, stale.text
    assert edit(a, pathway["id"], {"title": "No version"}, None).status_code == 428
    # k within 1..n: more than n is refused, naming the field.
    too_many = edit(a, pathway["id"], {"required_count": 4}, 3)
    assert too_many.status_code == 422, too_many.text
    assert [e["field"] for e in too_many.json()["errors"]] == ["required_count"]
    # Fewer programs than k: refused as well.
    k3 = edit(a, pathway["id"], {"required_count": 3}, 3)
    assert k3.status_code == 200, k3.text
    shrunk = edit(a, pathway["id"], {"program_ids": ids[:2]}, 4)
    assert shrunk.status_code == 422, shrunk.text
    assert [e["field"] for e in shrunk.json()["errors"]] == ["required_count"]
    final = a.http.get(f"/api/v1/pathways/{pathway['id']}", headers=a.provider).json()
    assert (final["title"], final["version"], final["program_ids"]) == ("Data engineer", 4, ids)


def test_a_foreign_program_added_asks_consent_and_removed_cancels_it(
    http: httpx.Client,
) -> None:
    a, b = Market(http), Market(http)
    own = [a.program(price=FREE)["id"] for _ in range(2)]
    theirs = b.program(price=FREE)
    pathway = draft(a, own)
    a_id, b_id = pathway["provider_id"], theirs["provider_id"]
    assert consents(b, b_id, direction="incoming").json()["consents"] == []

    added = edit(a, pathway["id"], {"program_ids": [*own, theirs["id"]]}, 1)
    assert added.status_code == 200, added.text
    assert [p["consent"] for p in added.json()["programs"]] == [None, None, "PENDING"]
    request = the_consent(b, b_id, pathway["id"])
    assert (request["status"], request["program_id"]) == ("PENDING", theirs["id"])
    blocked = publish(a, pathway["id"])
    assert blocked.status_code == 409, blocked.text
    assert theirs["id"] in blocked.json()["detail"]

    removed = edit(a, pathway["id"], {"program_ids": own}, 2)
    assert removed.status_code == 200, removed.text
    assert [p["program_id"] for p in removed.json()["programs"]] == own
    # Closed on both sides alike, and B can no longer decide it.
    incoming = the_consent(b, b_id, pathway["id"])
    assert (incoming["id"], incoming["status"]) == (request["id"], "CANCELLED")
    outgoing = consents(a, a_id, direction="outgoing", status="CANCELLED").json()["consents"]
    assert [(c["id"], c["status"]) for c in outgoing] == [(request["id"], "CANCELLED")]
    assert consents(b, b_id, direction="incoming", status="PENDING").json()["consents"] == []
    granted = b.http.post(f"/api/v1/pathway-consents/{request['id']}/grant", headers=b.provider)
    assert granted.status_code == 409, granted.text

    # Named again: the same request asks again.
    readded = edit(a, pathway["id"], {"program_ids": [*own, theirs["id"]]}, 3)
    assert readded.status_code == 200, readded.text
    assert the_consent(b, b_id, pathway["id"])["status"] == "PENDING"
    assert edit(a, pathway["id"], {"program_ids": own}, 4).status_code == 200

    published = publish(a, pathway["id"])
    assert published.status_code == 200, published.text

    # A published pathway is not edited.
    refused = edit(a, pathway["id"], {"title": "Too late"}, published.json()["version"])
    assert refused.status_code == 409, refused.text
    assert "DRAFT" in refused.json()["detail"]


def test_only_the_pathways_provider_or_an_admin_edits(http: httpx.Client) -> None:
    a, c = Market(http), Market(http)
    ids = [a.program(price=FREE)["id"] for _ in range(2)]
    pathway = draft(a, ids)
    body = {"title": "Taken over"}
    assert edit(c, pathway["id"], body, 1).status_code == 404  # another's draft: unseen
    assert edit(a, pathway["id"], body, 1, headers=a.learner()).status_code == 403
    assert edit(a, pathway["id"], body, 1, headers={}).status_code == 401
    admin = a.token(role="admin", sub=f"admin-{uuid.uuid4().hex[:6]}")
    by_admin = edit(a, pathway["id"], {"title": "By admin"}, 1, headers=admin)
    assert by_admin.status_code == 200, by_admin.text
    assert by_admin.json()["title"] == "By admin"


@pytest.mark.parametrize(
    ("body", "version", "field"),
    [
        ({"title": "a\x00b"}, 1, "title"),
        ({"title": ""}, 1, "title"),
        ({"title": "   "}, 1, "title"),
        ({"title": "x" * 201}, 1, "title"),
        ({"title": None}, 1, "title"),
        ({"description": "x" * 4001}, 1, "description"),
        ({"program_ids": ["not-a-uuid", "x"]}, 1, "program_ids"),
        ({"program_ids": [str(uuid.uuid4())]}, 1, "program_ids"),
        ({"program_ids": [str(uuid.uuid4()), str(uuid.uuid4())]}, 1, "program_ids[0]"),
        ({"program_ids": None}, 1, "program_ids"),
        ({"required_count": -1}, 1, "required_count"),
        ({"required_count": 21}, 1, "required_count"),
        ({"required_count": 2**40}, 1, "required_count"),
        ({"achievement": {"name": "\x00"}}, 1, "achievement.name"),
        ({"achievement": {"criteria": None}}, 1, "achievement.criteria"),
        ({"achievement": {"image_url": "http://plain.example/x.png"}}, 1, "achievement.image_url"),
        ({"achievement": {"skills": ["a", "a"]}}, 1, "achievement.skills"),
        ({"unknown": 1}, 1, "unknown"),
        ({"title": "ok"}, "nope", "If-Match"),
        ({"title": "ok"}, '"0"', "If-Match"),
        ({"title": "ok"}, "9" * 30, "If-Match"),
    ],
)
def test_hostile_edits_are_refused(
    http: httpx.Client, body: dict[str, Any], version: int | str, field: str
) -> None:
    a = Market(http)
    ids = [a.program(price=FREE)["id"] for _ in range(2)]
    pathway = draft(a, ids)
    refused = edit(a, pathway["id"], body, version)
    assert refused.status_code == 422, refused.text
    assert field in [e["field"] for e in refused.json()["errors"]], refused.text
    unchanged = a.http.get(f"/api/v1/pathways/{pathway['id']}", headers=a.provider).json()
    assert unchanged["version"] == 1


def test_an_empty_body_is_400_and_an_id_that_names_nothing_404(http: httpx.Client) -> None:
    a = Market(http)
    pathway = draft(a, [a.program(price=FREE)["id"] for _ in range(2)])
    # As for programs' PATCH: a body naming no field is a bad request.
    empty = edit(a, pathway["id"], {}, 1)
    assert empty.status_code == 400, empty.text
    assert empty.json()["errors"] == [{"field": "body", "message": "empty"}]
    # As for every resource id (dependencies.uuid_path): anything but a UUID names nothing.
    for bad in ("not-a-uuid", "a%00b", "9" * 300, str(uuid.uuid4())):
        missing = edit(a, bad, {"title": "x"}, 1)
        assert missing.status_code == 404, (bad, missing.text)


def test_concurrent_edits_of_one_version_have_one_winner(http: httpx.Client) -> None:
    a, b = Market(http), Market(http)
    own = [a.program(price=FREE)["id"] for _ in range(2)]
    theirs = b.program(price=FREE)
    pathway = draft(a, own)

    def attempt(i: int) -> httpx.Response:
        return edit(a, pathway["id"], {"title": f"T{i}", "program_ids": [*own, theirs["id"]]}, 1)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(attempt, range(6)))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [412] * 5, [r.text for r in answers]
    [winner] = [r.json() for r in answers if r.status_code == 200]
    now = a.http.get(f"/api/v1/pathways/{pathway['id']}", headers=a.provider).json()
    assert (now["title"], now["version"]) == (winner["title"], 2)
    # One request, not six.
    listed = consents(b, theirs["provider_id"], direction="incoming").json()["consents"]
    assert [c["status"] for c in listed if c["pathway_id"] == pathway["id"]] == ["PENDING"]
