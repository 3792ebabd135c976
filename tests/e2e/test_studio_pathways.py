"""The studio's Pathways pages over HTTP, as a browser's forms use them, against the real
system: a member lists their provider's pathways (drafts and archived ones too, page by
page), searches other providers' programs, defines a pathway (the API's errors beside the
inputs, what was typed kept), publishes (the catalog's refusal shown), asks a refused
consent again and archives; hostile input (NUL, overlong, odd ids, forged program ids,
page tokens) is an error shown, never a 5xx; strangers see nothing; the catalog lists
unpublished pathways only to the provider's own staff."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
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


@pytest.fixture
def gateway(stack: Stack) -> str:
    return stack.gateway_url


def _published(http: httpx.Client, headers: dict[str, str], title: str) -> dict[str, Any]:
    spec = demo_program() | {"title": title}
    created = http.post("/api/v1/programs", json=spec, headers=headers)
    assert created.status_code == 201, created.text
    published = http.post(f"/api/v1/programs/{created.json()['id']}/publish", headers=headers)
    assert published.status_code == 200, published.text
    return dict(published.json())


@pytest.fixture
def world(gateway: str) -> Iterator[dict[str, Any]]:
    """Provider A (one member, `sub`) with two published programs; provider B with one."""
    run = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=gateway, timeout=15, trust_env=False) as http:
        admin = _token(http, role="admin", sub=f"admin-{run}")
        a = http.post("/api/v1/providers", json={"name": f"Path A {run}"}, headers=admin).json()
        b = http.post("/api/v1/providers", json={"name": f"Path B {run}"}, headers=admin).json()
        a_token = _token(http, role="provider", sub=f"a-{run}", provider_id=a["id"])
        b_token = _token(http, role="provider", sub=f"b-{run}", provider_id=b["id"])
        sub = f"pathway-staff-{run}"
        added = http.post(
            f"/api/v1/providers/{a['id']}/members",
            json={"subject": sub, "role": "STAFF"},
            headers=admin,
        )
        assert added.status_code == 201, added.text
        yield {
            "run": run,
            "a": a,
            "b": b,
            "sub": sub,
            "admin": admin,
            "a_token": a_token,
            "b_token": b_token,
            "own": [_published(http, a_token, f"Own {i} {run}") for i in (1, 2)],
            "foreign": _published(http, b_token, f"Zebrafish genetics {run}"),
            "http": http,
        }


def _form(title: str, program_ids: list[str], **changes: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "title": title,
        "description": "Three programs, one credential.",
        "required_count": "",
        "achievement.name": "Data Practitioner",
        "achievement.description": "Holds all of the pathway's credentials.",
        "achievement.criteria": "Earned every program's credential.",
        "achievement.skills": "SQL, Python",
        "achievement.image_url": "",
        "q": "",
        "action": "create",
        "program_ids": program_ids,
    }
    values.update(changes)
    return values


def _checked(page: str) -> set[str]:
    return set(re.findall(r'name="program_ids" value="([^"]+)" checked', page))


def _alert(page: str) -> str:
    found = re.search(r'<div class="alert" role="alert"><p>([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else ""


def test_a_member_defines_publishes_and_archives_a_pathway(world: dict[str, Any]) -> None:
    gateway = str(world["http"].base_url)
    a, b, run = world["a"]["id"], world["b"]["id"], world["run"]
    own = [p["id"] for p in world["own"]]
    foreign = world["foreign"]["id"]
    studio = browser(gateway, world["sub"])

    empty = studio.get(f"/studio/{a}/pathways")
    assert empty.status_code == 200
    assert "No pathways yet" in empty.text
    assert f'href="/studio/{a}/pathways"' in studio.get(f"/studio/{a}").text

    # The form offers A's own published programs; search finds B's, keeping what was typed.
    form = studio.get(f"/studio/{a}/pathways/new")
    assert all(f'value="{i}"' in form.text for i in own)
    assert f'value="{foreign}"' not in form.text
    title = f"Data path {run}"
    searched = studio.post(
        f"/studio/{a}/pathways/new",
        data=_form(title, own[:1], q=f"Zebrafish {run}", action="search"),
    )
    assert searched.status_code == 200, searched.text
    assert f'value="{foreign}"' in searched.text
    assert f'value="{title}"' in searched.text
    assert _checked(searched.text) == {own[0]}
    nothing = studio.post(
        f"/studio/{a}/pathways/new", data=_form(title, [], q=f"nomatch{run}", action="search")
    )
    assert "No other published program matches." in nothing.text

    # The API's errors, each beside its input, with what was typed.
    bad = studio.post(
        f"/studio/{a}/pathways/new",
        data=_form("  ", own, required_count="5", **{"achievement.image_url": "http://x"}),
    )
    assert bad.status_code == 422, bad.text
    assert field_error(bad.text, "title") == "must not be empty or only whitespace"
    assert "cannot exceed" in field_error(bad.text, "required_count")
    assert field_error(bad.text, "achievement.image_url") == "must be an https URL"
    assert 'value="http://x"' in bad.text
    assert 'aria-invalid="true"' in bad.text
    one = studio.post(f"/studio/{a}/pathways/new", data=_form(title, [foreign]))
    assert one.status_code == 422, one.text
    assert "at least 2" in field_error(one.text, "program_ids")
    assert _checked(one.text) == {foreign}  # the chosen foreign program stays chosen

    created = studio.post(f"/studio/{a}/pathways/new", data=_form(title, [*own, foreign]))
    assert created.status_code == 200, created.text  # followed to the pathway's page
    pathway_id = str(created.url).rsplit("/", 1)[-1]
    assert "Pending" in created.text
    assert "Yours" in created.text

    published = studio.post(f"/studio/{a}/pathways/{pathway_id}/publish")
    assert published.status_code == 409
    assert "consent" in _alert(published.text)

    # B refuses; A asks again (PENDING), B grants, A publishes.
    http: httpx.Client = world["http"]
    b_headers = world["b_token"]
    consent = http.get(f"/api/v1/providers/{b}/pathway-consents", headers=b_headers).json()
    consent_id = next(c["id"] for c in consent["consents"] if c["pathway_id"] == pathway_id)
    refused = http.post(f"/api/v1/pathway-consents/{consent_id}/refuse", headers=b_headers)
    assert refused.status_code == 200
    page = studio.get(f"/studio/{a}/pathways/{pathway_id}")
    assert "Refused" in page.text
    assert "Ask again" in page.text
    asked = studio.post(f"/studio/{a}/pathways/{pathway_id}/consents", data={"program_id": foreign})
    assert asked.status_code == 200
    assert "Asked again." in asked.text
    assert "Pending" in asked.text
    granted = http.post(f"/api/v1/pathway-consents/{consent_id}/grant", headers=b_headers)
    assert granted.status_code == 200, granted.text
    done = studio.post(f"/studio/{a}/pathways/{pathway_id}/publish")
    assert done.status_code == 200
    assert "Published." in done.text
    listed = http.get("/api/v1/pathways", params={"provider_id": a}).json()["pathways"]
    assert [p["id"] for p in listed] == [pathway_id]

    # A new draft from it: the form filled in; archiving takes it off the storefront.
    copy = studio.get(f"/studio/{a}/pathways/new", params={"from": pathway_id})
    assert f'value="{title} (new draft)"' in copy.text
    assert _checked(copy.text) == {*own, foreign}
    archived = studio.post(f"/studio/{a}/pathways/{pathway_id}/archive")
    assert archived.status_code == 200
    assert "Archived." in archived.text
    again = studio.post(f"/studio/{a}/pathways/{pathway_id}/archive")
    assert again.status_code == 409
    assert "already archived" in _alert(again.text)
    assert http.get("/api/v1/pathways", params={"provider_id": a}).json()["pathways"] == []
    assert title in studio.get(f"/studio/{a}/pathways").text  # still listed, archived
    studio.close()


def test_the_list_pages_drafts_and_only_staff_see_them(world: dict[str, Any]) -> None:
    http: httpx.Client = world["http"]
    gateway = str(http.base_url)
    a, run = world["a"]["id"], world["run"]
    own = [p["id"] for p in world["own"]]
    titles: list[str] = []
    for i in range(22):  # more than a page (20)
        title = f"Draft {i:02d} {run}"
        body = {
            "title": title,
            "program_ids": own,
            "achievement": {"name": "N", "description": "D", "criteria": "C"},
        }
        made = http.post("/api/v1/pathways", json=body, headers=world["a_token"])
        assert made.status_code == 201, made.text
        titles.append(title)
    studio = browser(gateway, world["sub"])
    first = studio.get(f"/studio/{a}/pathways")
    more = re.search(r'<a href="([^"]+)">More pathways</a>', first.text)
    assert more is not None
    second = studio.get(html.unescape(more.group(1)))
    assert second.status_code == 200
    seen = [t for t in titles if t in first.text], [t for t in titles if t in second.text]
    assert len(seen[0]) == 20
    assert len(seen[1]) == 2
    assert not set(seen[0]) & set(seen[1])
    assert "First page" in second.text
    # The studio's page token (drafts included) is not one of the public listing's.
    token = dict(httpx.QueryParams(html.unescape(more.group(1)).split("?", 1)[1]))["page_token"]
    mixed = http.get("/api/v1/pathways", params={"provider_id": a, "page_token": token})
    assert mixed.status_code in (400, 422), mixed.text

    # Provider B's staff, a learner, and nobody at all: no drafts of A.
    stranger = browser(gateway, f"stranger-{run}", provider_id=world["b"]["id"])
    assert stranger.get(f"/studio/{a}/pathways").status_code == 403
    nobody = httpx.Client(base_url=gateway, timeout=15, trust_env=False)
    assert nobody.get(f"/studio/{a}/pathways").status_code == 401
    assert nobody.post(f"/studio/{a}/pathways/new", data=_form("x", own)).status_code == 401
    # ... nor another provider's pathway through A's studio.
    b_path = studio.get(f"/studio/{world['b']['id']}/pathways")
    assert b_path.status_code == 403
    for client in (stranger, nobody, studio):
        client.close()


@pytest.mark.parametrize(
    "path",
    [
        "/studio/{a}/pathways/not-a-uuid",
        "/studio/{a}/pathways/00000000-0000-0000-0000-000000000000",
        "/studio/{a}/pathways/new?from=not-a-uuid",
    ],
)
def test_odd_pathway_ids_are_not_found(world: dict[str, Any], path: str) -> None:
    studio = browser(str(world["http"].base_url), world["sub"])
    assert studio.get(path.format(a=world["a"]["id"])).status_code == 404
    studio.close()


def test_hostile_input_is_an_error_shown_never_a_5xx(world: dict[str, Any]) -> None:
    gateway = str(world["http"].base_url)
    a = world["a"]["id"]
    own = [p["id"] for p in world["own"]]
    studio = browser(gateway, world["sub"])
    new = f"/studio/{a}/pathways/new"

    nul = studio.post(new, data=_form("Bad\x00title", own))
    assert nul.status_code == 422, nul.text
    assert field_error(nul.text, "title")
    assert field_error(studio.post(new, data=_form("x" * 300, own)).text, "title")
    skills = studio.post(new, data=_form("Ok", own, **{"achievement.skills": "a\x00b, c"}))
    assert skills.status_code == 422
    assert field_error(skills.text, "achievement.skills")
    for ids in (
        [own[0], "x\x00y"],
        [own[0], "not-a-uuid"],
        [own[0], "00000000-0000-0000-0000-000000000000"],
        [own[0]],
        [str(uuid.uuid4()) for _ in range(60)],
    ):
        forged = studio.post(new, data=_form("Forged", ids))
        assert forged.status_code in (400, 422), (ids[-1][:20], forged.status_code)
        assert field_error(forged.text, "program_ids"), ids[-1][:20]
    for count in ("-1", "abc", "99999999999999999999999", "1e9"):
        odd = studio.post(new, data=_form("Count", own, required_count=count))
        assert odd.status_code == 422, (count, odd.status_code)
        assert field_error(odd.text, "required_count"), count
    search = studio.post(new, data=_form("Search", own, q="a\x00b", action="search"))
    assert search.status_code == 422, search.text
    assert field_error(search.text, "q")
    assert studio.post(new, data=_form("S", own, q="x" * 300, action="search")).status_code == 422

    made = studio.post(new, data=_form(f"Hostile {world['run']}", own))
    pathway_id = str(made.url).rsplit("/", 1)[-1]
    for program_id in ("x\x00y", "", own[0], str(uuid.uuid4())):
        asked = studio.post(
            f"/studio/{a}/pathways/{pathway_id}/consents", data={"program_id": program_id}
        )
        assert asked.status_code in (400, 409, 422), (program_id[:10], asked.status_code)
        assert _alert(asked.text), program_id[:10]

    # Another site's forms cannot define, publish, archive or ask (cross_origin.py).
    for path, data in (
        (new, _form("Cross-site", own)),
        (f"/studio/{a}/pathways/{pathway_id}/publish", {}),
        (f"/studio/{a}/pathways/{pathway_id}/archive", {}),
        (f"/studio/{a}/pathways/{pathway_id}/consents", {"program_id": own[0]}),
    ):
        for headers in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
            forged = studio.post(path, data=data, headers=headers)
            assert forged.status_code == 403, (path, headers)
    kept = studio.get(f"/studio/{a}/pathways/{pathway_id}")
    assert "Draft" in kept.text
    assert "Cross-site" not in studio.get(f"/studio/{a}/pathways").text

    listing = f"/studio/{a}/pathways"
    assert studio.get(listing, params={"page_token": "garbage"}).status_code in (400, 422)
    assert studio.get(listing, params={"page_token": "x" * 500}).status_code == 422
    assert (
        studio.get(f"/studio/{a}/pathways/{pathway_id}", params={"done": "x" * 50}).status_code
        == 422
    )
    studio.close()


def test_the_catalog_lists_unpublished_pathways_only_to_their_providers_staff(
    stack: Stack, world: dict[str, Any]
) -> None:
    secret = stack.env_for("catalog")["AUTH_JWT_SECRET"]
    http: httpx.Client = world["http"]
    a, b = world["a"]["id"], world["b"]["id"]
    body = {
        "title": f"Hidden draft {world['run']}",
        "program_ids": [p["id"] for p in world["own"]],
        "achievement": {"name": "N", "description": "D", "criteria": "C"},
    }
    draft = http.post("/api/v1/pathways", json=body, headers=world["a_token"])
    assert draft.status_code == 201, draft.text

    def bearer(role: str, subject: str, provider_id: str = "") -> tuple[tuple[str, str], ...]:
        token = mint_dev_token(secret, role=role, subject=subject, provider_id=provider_id)
        return (("authorization", f"Bearer {token}"),)

    mine = catalog_service_pb2.ListPathwaysRequest(provider_id=a, include_unpublished=True)
    with grpc.insecure_channel(stack.addr("catalog")) as channel:
        stub = catalog_service_pb2_grpc.CatalogServiceStub(channel)
        for who in (
            bearer(role="provider", subject="a", provider_id=a),
            bearer(role="admin", subject="root"),
        ):
            found = stub.ListPathways(mine, metadata=who, timeout=5)
            assert [p.id for p in found.pathways] == [draft.json()["id"]]
        public = stub.ListPathways(
            catalog_service_pb2.ListPathwaysRequest(provider_id=a), timeout=5
        )
        assert list(public.pathways) == []  # the draft is not on the storefront
        for who, code in (
            ((), grpc.StatusCode.UNAUTHENTICATED),
            (
                bearer(role="provider", subject="b", provider_id=b),
                grpc.StatusCode.PERMISSION_DENIED,
            ),
            (bearer(role="learner", subject="l"), grpc.StatusCode.PERMISSION_DENIED),
        ):
            with pytest.raises(grpc.RpcError) as caught:
                stub.ListPathways(mine, metadata=who, timeout=5)
            assert caught.value.code() == code, code
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListPathways(
                catalog_service_pb2.ListPathwaysRequest(include_unpublished=True),
                metadata=bearer(role="admin", subject="root"),
                timeout=5,
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_asking_again_twice_at_once_makes_one_request(world: dict[str, Any]) -> None:
    http: httpx.Client = world["http"]
    gateway = str(http.base_url)
    a, b, foreign = world["a"]["id"], world["b"]["id"], world["foreign"]["id"]
    own = [p["id"] for p in world["own"]]
    studio = browser(gateway, world["sub"])
    made = studio.post(
        f"/studio/{a}/pathways/new", data=_form(f"Twice {world['run']}", [*own, foreign])
    )
    pathway_id = str(made.url).rsplit("/", 1)[-1]

    def consents() -> list[dict[str, Any]]:
        listed = http.get(
            f"/api/v1/providers/{b}/pathway-consents", headers=world["b_token"]
        ).json()["consents"]
        return [c for c in listed if c["pathway_id"] == pathway_id]

    [consent] = consents()
    refused = http.post(
        f"/api/v1/pathway-consents/{consent['id']}/refuse", headers=world["b_token"]
    )
    assert refused.status_code == 200
    clients = [browser(gateway, world["sub"]) for _ in range(2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(
            pool.map(
                lambda c: c.post(
                    f"/studio/{a}/pathways/{pathway_id}/consents", data={"program_id": foreign}
                ),
                clients,
            )
        )
    assert [r.status_code for r in answers] == [200, 200]
    [after] = consents()
    assert after["id"] == consent["id"]
    assert after["status"] == "PENDING"
    for client in (studio, *clients):
        client.close()


def _hidden_version(page: str) -> str:
    found = re.search(r'<input type="hidden" name="version" value="([^"]*)">', page)
    return found.group(1) if found else ""


def test_a_member_edits_a_draft_through_the_api_rules(world: dict[str, Any]) -> None:
    """ "Edit draft": the form filled in from the draft; a foreign program added asks B,
    taken out cancels it; a stale form is refused, not overwritten; errors beside their
    inputs; a published pathway is not edited."""
    gateway, http = str(world["http"].base_url), world["http"]
    a, b, run = world["a"]["id"], world["b"]["id"], world["run"]
    own = [p["id"] for p in world["own"]]
    foreign = world["foreign"]["id"]
    studio = browser(gateway, world["sub"])
    made = studio.post(f"/studio/{a}/pathways/new", data=_form(f"Editable {run}", own))
    assert made.status_code == 200, made.text
    pathway_id = str(made.url).rsplit("/", 1)[-1]
    detail = f"/studio/{a}/pathways/{pathway_id}"
    edit = f"{detail}/edit"
    assert f'action="{edit}"' in made.text

    form = studio.get(edit)
    assert form.status_code == 200, form.text
    assert f'value="Editable {run}"' in form.text
    assert _checked(form.text) == set(own)
    assert _hidden_version(form.text) == "1"

    def incoming() -> list[dict[str, Any]]:
        listed = http.get(
            f"/api/v1/providers/{b}/pathway-consents",
            params={"direction": "incoming", "page_size": 100},
            headers=world["b_token"],
        )
        assert listed.status_code == 200, listed.text
        return [c for c in listed.json()["consents"] if c["pathway_id"] == pathway_id]

    # Errors beside their inputs, what was typed kept, nothing saved.
    bad = studio.post(
        edit,
        data=_form("Bad\x00title", [*own, foreign], required_count="4", version="1"),
    )
    assert bad.status_code == 422, bad.text
    assert field_error(bad.text, "title")
    assert _checked(bad.text) == {*own, foreign}
    k = studio.post(edit, data=_form(f"Edited {run}", own, required_count="3", version="1"))
    assert k.status_code == 422, k.text
    assert "cannot exceed" in field_error(k.text, "required_count")
    assert incoming() == []

    saved = studio.post(
        edit, data=_form(f"Edited {run}", [*own, foreign], required_count="2", version="1")
    )
    assert saved.status_code == 200, saved.text
    assert str(saved.url).endswith(f"{detail}?done=edit")
    assert "Saved." in saved.text
    assert f"Edited {run}" in saved.text
    assert "earned by 2 of 3 programs" in saved.text
    assert [c["status"] for c in incoming()] == ["PENDING"]

    # The form filled in at version 1 is stale now: refused, nothing overwritten.
    stale = studio.post(edit, data=_form(f"Lost {run}", own, version="1"))
    assert stale.status_code == 412, stale.text
    assert "version" in stale.text
    for version in ("", "abc", "0", "9" * 40):
        odd = studio.post(edit, data=_form(f"Odd {run}", own, version=version))
        assert odd.status_code in (422, 428), (version, odd.status_code)
    assert f"Edited {run}" in studio.get(detail).text

    removed = studio.post(edit, data=_form(f"Edited {run}", own, version="2"))
    assert removed.status_code == 200, removed.text
    assert [c["status"] for c in incoming()] == ["CANCELLED"]
    assert "earned by 2 of 2 programs" in removed.text

    # Another site's form cannot edit; a published pathway is not edited.
    for headers in ({"origin": "https://evil.example"}, {"sec-fetch-site": "cross-site"}):
        assert (
            studio.post(edit, data=_form("X", own, version="3"), headers=headers).status_code == 403
        )
    published = studio.post(f"{detail}/publish")
    assert "Published." in published.text
    assert f'action="{edit}"' not in published.text
    assert studio.get(edit).status_code == 409
    late = studio.post(edit, data=_form("Too late", own, version="4"))
    assert late.status_code == 409, late.text
    for odd_id in ("not-a-uuid", str(uuid.uuid4())):
        assert studio.get(f"/studio/{a}/pathways/{odd_id}/edit").status_code == 404
    # A stranger cannot open A's edit form.
    stranger = browser(gateway, f"stranger-{run}")
    assert stranger.get(edit).status_code in (403, 404)
    stranger.close()
    studio.close()
