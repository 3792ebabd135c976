"""The provider studio over HTTP, as a browser's forms use it, against the real system: a
member signs in and lands in the studio, creates a program (errors shown next to the
fields), edits it under its version, publishes, completes an enrollment and revokes its
credential; strangers see nothing of it."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.devstack.stack import Stack
from tests.polling import eventually


def _token(http: httpx.Client, **claims: str) -> dict[str, str]:
    response = http.post("/api/v1/dev/tokens", json=claims)
    response.raise_for_status()
    return {"authorization": f"Bearer {response.json()['token']}"}


@pytest.fixture
def gateway(stack: Stack) -> str:
    return stack.gateway_url


@pytest.fixture
def staffed(gateway: str) -> Iterator[dict[str, Any]]:
    """A provider with one member, `sub`, who is no more than a person (a learner token)."""
    run = uuid.uuid4().hex[:8]
    with httpx.Client(base_url=gateway, timeout=15, trust_env=False) as http:
        admin = _token(http, role="admin", sub=f"admin-{run}")
        provider = http.post(
            "/api/v1/providers", json={"name": f"Studio Academy {run}"}, headers=admin
        ).json()
        sub = f"staff-{run}"
        added = http.post(
            f"/api/v1/providers/{provider['id']}/members",
            json={"subject": sub, "role": "OWNER"},
            headers=admin,
        )
        assert added.status_code == 201, added.text
        yield {"provider": provider, "sub": sub, "run": run, "admin": admin}


def browser(
    gateway: str, sub: str, *, provider_id: str = "", role: str = "provider"
) -> httpx.Client:
    """A cookie-keeping client signed in through the dev sign-in form."""
    client = httpx.Client(base_url=gateway, timeout=15, trust_env=False, follow_redirects=True)
    signed_in = client.post(
        "/session",
        data={"role": role, "sub": sub, "provider_id": provider_id, "next": "/"},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303, signed_in.text
    return client


def _form(provider_title: str, **changes: str) -> dict[str, str]:
    values = {
        "title": provider_title,
        "summary": "Query data with confidence",
        "description": "Joins, windows and CTEs.",
        "skills": "SQL, Data analysis",
        "duration_hours": "6",
        "price": "0",
        "price.currency": "USD",
        "capacity": "",
        "credential.name": "SQL Analyst",
        "credential.description": "Writes correct analytical SQL.",
        "credential.criteria": "Completes the graded project.",
        "credential.issuance": "ON_COMPLETION",
        "credential.valid_for_days": "",
    }
    values.update(changes)
    return values


def field_error(page: str, name: str) -> str:
    """The error text shown next to the input `name`, or ""."""
    found = re.search(rf'<p class="field-error" id="e-{re.escape(name)}">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else ""


def test_a_member_signs_in_to_the_studio_and_runs_a_program(
    gateway: str, staffed: dict[str, Any]
) -> None:
    provider = staffed["provider"]
    studio = browser(gateway, staffed["sub"])
    # Signing in as "Provider" with no provider id: a person, sent to the studio, which
    # (one membership) opens that provider.
    home = studio.get("/studio")
    assert home.status_code == 200
    assert str(home.url).endswith(f"/studio/{provider['id']}")
    assert provider["name"] in home.text
    assert 'href="/studio"' in home.text  # the header's Studio link

    # Create: errors from the API's own validation, each next to its field.
    title = f"SQL for Analysts {staffed['run']}"
    bad = studio.post(
        f"/studio/{provider['id']}/programs/new",
        data=_form("   ", duration_hours="0", price="12.345", **{"price.currency": "usd"}),
    )
    assert bad.status_code in (400, 422), bad.text
    assert field_error(bad.text, "duration_hours")
    assert field_error(bad.text, "price") or field_error(bad.text, "title")
    assert 'aria-invalid="true"' in bad.text
    blank = studio.post(f"/studio/{provider['id']}/programs/new", data=_form("   "))
    assert blank.status_code in (400, 422)
    assert field_error(blank.text, "title") == "must not be empty or only whitespace"

    created = studio.post(f"/studio/{provider['id']}/programs/new", data=_form(title))
    assert created.status_code == 200, created.text  # followed to the program's page
    program_id = str(created.url).rsplit("/", 1)[-1]
    assert "Draft" in created.text
    assert "Publish" in created.text
    listing = studio.get(f"/studio/{provider['id']}")
    assert title in listing.text  # drafts are listed in the studio ...
    storefront = httpx.get(f"{gateway}/", params={"q": title}, trust_env=False).text
    assert f"/programs/{program_id}" not in storefront  # ... not sold

    # Edit: an invalid change is refused next to its field; a stale version is refused
    # whole; a valid one is saved (and only what changed is sent).
    edit = f"/studio/{provider['id']}/programs/{program_id}/edit"
    form = studio.get(edit)
    version = re.search(r'name="version" value="(\d+)"', form.text)
    assert version, form.text
    invalid = studio.post(edit, data=_form(title, version=version.group(1), capacity="-3"))
    assert invalid.status_code in (400, 422)
    assert field_error(invalid.text, "capacity")
    stale = studio.post(edit, data=_form(title, version="99", summary="Changed"))
    assert stale.status_code == 412
    assert "reload" in stale.text
    saved = studio.post(edit, data=_form(title, version=version.group(1), capacity="25"))
    assert saved.status_code == 200, saved.text
    assert "25 seats" in saved.text
    assert "version 2" in saved.text

    published = studio.post(f"/studio/{provider['id']}/programs/{program_id}/publish")
    assert published.status_code == 200
    assert "Published" in published.text

    # A learner enrolls (free: ACTIVE at once); the studio shows it, filters and completes.
    with httpx.Client(base_url=gateway, timeout=15, trust_env=False) as http:
        learner = _token(http, role="learner", sub=f"learner-{staffed['run']}")
        enrolled = http.post(
            "/api/v1/enrollments", json={"program_id": program_id}, headers=learner
        )
        assert enrolled.status_code == 201, enrolled.text
        enrollment = enrolled.json()
    page = f"/studio/{provider['id']}/programs/{program_id}"
    assert f"learner-{staffed['run']}" in studio.get(page).text
    assert f"learner-{staffed['run']}" in studio.get(page, params={"status": "ACTIVE"}).text
    assert f"learner-{staffed['run']}" not in studio.get(page, params={"status": "REFUNDED"}).text

    bad_evidence = studio.post(
        f"{page}/enrollments/{enrollment['id']}/complete",
        data={"grade": "A", "evidence_url": "not a url"},
    )
    assert bad_evidence.status_code in (400, 422)
    done = studio.post(
        f"{page}/enrollments/{enrollment['id']}/complete",
        data={"grade": "A", "evidence_url": "https://evidence.example/project"},
    )
    assert done.status_code == 200, done.text
    assert "Completed" in done.text
    assert "Grade A" in done.text

    def credential_shown() -> str:
        found = re.search(r"/credentials/([0-9a-f-]{36})/revoke", studio.get(page).text)
        return found.group(1) if found else ""

    credential_id = eventually(credential_shown, within=20, what="the credential in the studio")
    no_reason = studio.post(f"{page}/credentials/{credential_id}/revoke", data={"reason": " "})
    assert no_reason.status_code in (400, 422)
    revoked = studio.post(
        f"{page}/credentials/{credential_id}/revoke", data={"reason": "Plagiarised project"}
    )
    assert revoked.status_code == 200, revoked.text
    assert "Revoked" in revoked.text
    assert "Plagiarised project" in revoked.text

    earnings = studio.get(f"/studio/{provider['id']}/earnings")
    assert earnings.status_code == 200
    statement = studio.get(f"/studio/{provider['id']}/statement.csv")
    assert statement.status_code == 200
    assert statement.text.startswith("line_id,")

    archived = studio.post(f"/studio/{provider['id']}/programs/{program_id}/archive")
    assert archived.status_code == 200
    assert "Archived" in archived.text
    studio.close()


def test_strangers_get_nothing_and_people_without_a_provider_learn_how_to_join(
    gateway: str, staffed: dict[str, Any]
) -> None:
    provider = staffed["provider"]
    outsider = browser(gateway, f"outsider-{staffed['run']}")
    home = outsider.get("/studio")
    assert home.status_code == 200
    assert "not on any provider" in home.text
    assert "invite" in home.text
    assert 'href="/studio"' not in home.text  # no Studio link for non-members
    assert outsider.get(f"/studio/{provider['id']}").status_code == 403
    assert (
        outsider.post(f"/studio/{provider['id']}/programs/new", data=_form("Sneaky")).status_code
        == 403
    )
    # Another provider's dev token cannot act for this one either.
    other = browser(gateway, "other-staff", provider_id=str(uuid.uuid4()))
    assert other.get(f"/studio/{provider['id']}").status_code == 403
    # Another provider's program on sale is not part of this provider's studio.
    with httpx.Client(base_url=gateway, timeout=15, trust_env=False) as http:
        admin = staffed["admin"]
        theirs = http.post("/api/v1/providers", json={"name": "Elsewhere"}, headers=admin).json()
        elsewhere = _token(http, role="provider", sub="elsewhere", provider_id=theirs["id"])
        spec = {
            "title": "Theirs",
            "price": {"amount_minor": 0, "currency": "USD"},
            "credential": {"name": "N", "description": "D", "criteria": "C"},
        }
        program = http.post("/api/v1/programs", json=spec, headers=elsewhere).json()
        http.post(f"/api/v1/programs/{program['id']}/publish", headers=elsewhere)
    member = browser(gateway, staffed["sub"])
    for path in ("", "/edit"):
        shown = member.get(f"/studio/{provider['id']}/programs/{program['id']}{path}")
        assert shown.status_code == 404, path
    member.close()
    anonymous = httpx.Client(base_url=gateway, timeout=15, trust_env=False)
    assert anonymous.get("/studio").status_code == 401
    assert anonymous.get(f"/studio/{provider['id']}").status_code == 401
    for client in (outsider, other, anonymous):
        client.close()


@pytest.mark.parametrize(
    "path",
    [
        "/studio/not-a-uuid",
        "/studio/{p}/programs/not-a-uuid",
        "/studio/{p}/programs/00000000-0000-0000-0000-000000000000",
    ],
)
def test_odd_ids_are_not_found(gateway: str, staffed: dict[str, Any], path: str) -> None:
    studio = browser(gateway, staffed["sub"])
    assert studio.get(path.format(p=staffed["provider"]["id"])).status_code == 404
    studio.close()


def test_hostile_input_is_refused_with_field_errors(gateway: str, staffed: dict[str, Any]) -> None:
    provider = staffed["provider"]["id"]
    studio = browser(gateway, staffed["sub"])
    nul = studio.post(f"/studio/{provider}/programs/new", data=_form("Bad\x00title"))
    assert nul.status_code in (400, 422)
    assert field_error(nul.text, "title")
    huge = studio.post(f"/studio/{provider}/programs/new", data=_form("x" * 300))
    assert huge.status_code in (400, 422)
    assert field_error(huge.text, "title")
    odd_price = studio.post(f"/studio/{provider}/programs/new", data=_form("Odd", price="1e999"))
    assert odd_price.status_code in (400, 422)
    assert field_error(odd_price.text, "price")
    token = studio.get(f"/studio/{provider}", params={"page_token": "garbage"})
    assert token.status_code in (400, 422)
    assert studio.get(f"/studio/{provider}", params={"page_token": "x" * 500}).status_code == 422
    studio.close()


def test_the_api_lists_enrollments_by_state(gateway: str, staffed: dict[str, Any]) -> None:
    provider = staffed["provider"]["id"]
    with httpx.Client(base_url=gateway, timeout=15, trust_env=False) as http:
        staff = _token(http, role="provider", sub="lister", provider_id=provider)
        body = _form(f"Free {staffed['run']}")
        spec = {
            "title": body["title"],
            "price": {"amount_minor": 0, "currency": "USD"},
            "credential": {"name": "N", "description": "D", "criteria": "C"},
        }
        program = http.post("/api/v1/programs", json=spec, headers=staff).json()
        http.post(f"/api/v1/programs/{program['id']}/publish", headers=staff).raise_for_status()
        for i in range(3):
            learner = _token(http, role="learner", sub=f"byst-{i}-{staffed['run']}")
            made = http.post(
                "/api/v1/enrollments", json={"program_id": program["id"]}, headers=learner
            )
            assert made.status_code == 201, made.text

        def listed(**params: Any) -> httpx.Response:
            return http.get(
                "/api/v1/enrollments", params={"program_id": program["id"], **params}, headers=staff
            )

        active = listed(status="ACTIVE", page_size=2)
        assert active.status_code == 200, active.text
        assert [e["status"] for e in active.json()["enrollments"]] == ["ACTIVE", "ACTIVE"]
        token = active.json()["next_page_token"]
        assert len(listed(status="ACTIVE", page_token=token).json()["enrollments"]) == 1
        assert listed(status="COMPLETED").json()["enrollments"] == []
        # A token is good only for the filter it was issued for.
        assert listed(status="COMPLETED", page_token=token).status_code in (400, 422)
        assert listed(page_token=token).status_code in (400, 422)
        assert listed(status="BOGUS").status_code == 422
        assert listed(status="active").status_code == 422


def test_seat_pack_prices_are_set_in_the_program_form(
    gateway: str, staffed: dict[str, Any]
) -> None:
    provider = staffed["provider"]["id"]
    studio = browser(gateway, staffed["sub"])
    new = f"/studio/{provider}/programs/new"
    for typed in ("5: 40.00, 10: 45.00", "5: 49.00", "1: 40", "5\x00: 40", "five: 40"):
        refused = studio.post(new, data=_form("Tiered", price="49.00", volume_tiers=typed))
        assert refused.status_code in (400, 422), (typed, refused.text)
        assert field_error(refused.text, "volume_tiers"), typed
    title = f"Tiered {staffed['run']}"
    created = studio.post(new, data=_form(title, price="49.00", volume_tiers="5: 40.00, 10: 35.00"))
    assert created.status_code == 200, created.text
    program_id = str(created.url).rsplit("/", 1)[-1]
    form = studio.get(f"/studio/{provider}/programs/{program_id}/edit")
    assert 'value="5: 40.00, 10: 35.00"' in form.text
    studio.close()
