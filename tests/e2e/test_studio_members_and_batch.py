"""The studio's Members page over HTTP and BatchGetPrograms on the real services: hostile
input to the invitation form (NUL, overlong, odd Unicode, huge bodies, strangers, bad
ids, the same address twice at once), and the batch read applying GetProgram's rule to
every id (drafts only for their provider, unknown ids left out, bounds refused)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import httpx
import pytest
from upskill.catalog.v1 import catalog_service_pb2, catalog_service_pb2_grpc

from services.common.auth import mint_dev_token
from services.devstack.demo import demo_program
from services.devstack.stack import Stack
from tests.e2e.test_studio import _token, browser, field_error

INVITE = "/studio/{}/members/invitations"


@pytest.fixture
def gateway(stack: Stack) -> str:
    return stack.gateway_url


@pytest.fixture
def staffed(gateway: str) -> dict[str, Any]:
    """A provider whose one member, `sub` (an owner), is a person signing in."""
    run = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=gateway, timeout=15, trust_env=False) as http:
        admin = _token(http, role="admin", sub=f"admin-{run}")
        provider = http.post("/api/v1/providers", json={"name": f"Members {run}"}, headers=admin)
        assert provider.status_code == 201, provider.text
        sub = f"owner-{run}"
        added = http.post(
            f"/api/v1/providers/{provider.json()['id']}/members",
            json={"subject": sub, "role": "OWNER"},
            headers=admin,
        )
        assert added.status_code == 201, added.text
    return {"provider": provider.json(), "sub": sub, "run": run}


def test_the_members_page_lists_members_and_refuses_hostile_invitations(
    gateway: str, staffed: dict[str, Any]
) -> None:
    provider = staffed["provider"]["id"]
    owner = browser(gateway, staffed["sub"])
    page = owner.get(f"/studio/{provider}/members")
    assert page.status_code == 200
    assert staffed["sub"] in page.text
    assert page.headers["cache-control"] == "no-store"

    for email in ("a\x00b@example.com", "x" * 400 + "@example.com", ""):
        bad = owner.post(INVITE.format(provider), data={"email": email, "role": "STAFF"})
        assert bad.status_code in (400, 422), (email[:20], bad.status_code)
        assert field_error(bad.text, "email") or 'role="alert"' in bad.text
    bad_role = owner.post(INVITE.format(provider), data={"email": "r@example.com", "role": "GOD"})
    assert bad_role.status_code == 422
    assert field_error(bad_role.text, "role")
    huge = owner.post(INVITE.format(provider), data={"email": "h@example.com" + "x" * 2_000_000})
    assert huge.status_code in (413, 422)
    # Odd Unicode (a right-to-left override) is not an address the catalog takes.
    odd = owner.post(INVITE.format(provider), data={"email": "\u202eevil@example.com"})
    assert odd.status_code in (400, 422)

    # The same address twice at once: one invitation, the other a 409 shown on the form.
    email = f"twice-{staffed['run']}@example.com"
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda _: browser(gateway, staffed["sub"]).post(
                    INVITE.format(provider), data={"email": email, "role": "STAFF"}
                ),
                range(2),
            )
        )
    assert sorted(a.status_code for a in answers) == [200, 409]
    listed = owner.get(f"/studio/{provider}/members").text
    assert listed.count(f"<td>{email}</td>") == 1

    # Strangers and bad ids.
    assert httpx.get(f"{gateway}/studio/{provider}/members").status_code == 401
    stranger = browser(gateway, f"stranger-{staffed['run']}")
    assert stranger.get(f"/studio/{provider}/members").status_code in (403, 404)
    refused = stranger.post(INVITE.format(provider), data={"email": "s@example.com"})
    assert refused.status_code in (403, 404)
    assert owner.get("/studio/not-a-uuid/members").status_code in (404, 422)
    assert owner.get(f"/studio/{provider}/members?invited=" + "z" * 5000).status_code in (
        200,
        414,
        431,
    )


def test_batch_get_programs_applies_getprograms_rule_to_each(stack: Stack) -> None:
    secret = stack.env_for("catalog")["AUTH_JWT_SECRET"]
    run = uuid.uuid4().hex[:8]
    provider_id = ""
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as http:
        admin = _token(http, role="admin", sub=f"admin-{run}")
        provider_id = http.post(
            "/api/v1/providers", json={"name": f"Batch {run}"}, headers=admin
        ).json()["id"]
        staff = _token(http, role="provider", sub=f"p-{run}", provider_id=provider_id)
        made = [
            http.post(
                "/api/v1/programs", json=demo_program() | {"title": f"B{i} {run}"}, headers=staff
            ).json()
            for i in range(2)
        ]
        published = http.post(f"/api/v1/programs/{made[0]['id']}/publish", headers=staff)
        assert published.status_code == 200, published.text
    ids = [made[0]["id"], made[1]["id"], str(uuid.uuid4())]
    owner = (
        (
            "authorization",
            f"Bearer {mint_dev_token(secret, role='provider', subject='o', provider_id=provider_id)}",
        ),
    )
    with grpc.insecure_channel(stack.addr("catalog")) as channel:
        stub = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        anyone = stub.BatchGetPrograms(
            catalog_service_pb2.BatchGetProgramsRequest(program_ids=ids), timeout=5
        )
        assert [p.id for p in anyone.programs] == [made[0]["id"]]  # the draft is hidden
        mine = stub.BatchGetPrograms(
            catalog_service_pb2.BatchGetProgramsRequest(program_ids=ids), metadata=owner, timeout=5
        )
        assert {p.spec.title for p in mine.programs} == {f"B0 {run}", f"B1 {run}"}
        empty = stub.BatchGetPrograms(catalog_service_pb2.BatchGetProgramsRequest())
        assert list(empty.programs) == []
        for bad in (
            [str(uuid.uuid4()) for _ in range(201)],
            ["not-a-uuid"],
            [ids[0], ids[0]],
            ["\x00"],
        ):
            with pytest.raises(grpc.RpcError) as caught:
                stub.BatchGetPrograms(
                    catalog_service_pb2.BatchGetProgramsRequest(program_ids=bad), timeout=5
                )
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
