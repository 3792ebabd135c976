"""Pathways and the team view in a real browser against the real system: a learner who
completed a pathway's programs sees it on the pathway page and opens the pathway
credential; an employer's manager sees their sponsored people and the skills matrix."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import Page, expect

from services.devstack.demo import demo_program
from tests.browser.conftest import ASYNC_DEADLINE_SECONDS, Marketplace, sign_in_as_learner
from tests.polling import eventually


def free_programs(api: Marketplace, n: int) -> tuple[str, list[dict[str, Any]]]:
    """(provider token, n published free programs of one provider)."""
    run = uuid.uuid4().hex[:8]
    provider = api.call(
        "POST", "/api/v1/providers", token=api.admin_token, json={"name": f"Stack {run}"}
    )
    token = api.token("provider", f"stack-{run}", provider_id=provider["id"])
    made = []
    for i in range(n):
        spec = demo_program() | {"title": f"Part {i + 1} {run}"}
        spec["price"] = {"amount_minor": 0, "currency": "USD"}
        program = api.call("POST", "/api/v1/programs", token=token, json=spec)
        made.append(api.call("POST", f"/api/v1/programs/{program['id']}/publish", token=token))
    return token, made


def complete(api: Marketplace, provider: str, learner: str, enrollment_id: str) -> str:
    api.call("POST", f"/api/v1/enrollments/{enrollment_id}/complete", token=provider, json={})
    done = api.wait_for_enrollment(enrollment_id, learner, lambda e: bool(e["credential_id"]))
    return str(done["credential_id"])


def test_a_learner_sees_their_pathway_and_opens_its_credential(
    page: Page, api: Marketplace
) -> None:
    provider, programs = free_programs(api, 2)
    pathway = api.call(
        "POST",
        "/api/v1/pathways",
        token=provider,
        json={
            "title": "Two-part stack",
            "program_ids": [p["id"] for p in programs],
            "achievement": {
                "name": "Stack Builder",
                "description": "Both parts done.",
                "criteria": "Completed both programs.",
                "skills": ["stacking"],
            },
        },
    )
    api.call("POST", f"/api/v1/pathways/{pathway['id']}/publish", token=provider)
    learner = f"pathway-{uuid.uuid4().hex[:8]}"
    token = api.token("learner", learner, email=f"{learner}@example.com")
    for program in programs:
        enrolled = api.call(
            "POST", "/api/v1/enrollments", token=token, json={"program_id": program["id"]}
        )
        complete(api, provider, token, enrolled["id"])
    eventually(
        lambda: api.call(
            "GET", f"/api/v1/pathways/{pathway['id']}/progress", token=token, expect=(200, 404)
        ).get("pathway_credential_id"),
        within=ASYNC_DEADLINE_SECONDS,
        what="the pathway credential",
    )

    page.goto("/pathways")
    card = page.get_by_role("listitem").filter(has_text="Two-part stack")
    expect(card).to_contain_text("2 of 2 programs")
    expect(card).to_contain_text("Total: Free")
    card.get_by_role("link", name="Two-part stack").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Two-part stack")
    sign_in_as_learner(page, learner)
    expect(page).to_have_url(re.compile(rf"/pathways/{pathway['id']}$"))
    progress = page.get_by_role("region", name="Your progress")
    expect(progress).to_contain_text("2 of 2 earned")
    progress.get_by_role("link", name="Your pathway credential").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Stack Builder")
    expect(page.get_by_role("status")).to_have_text(re.compile(r"Valid credential"))


def test_a_manager_sees_the_team_and_its_skills_matrix(page: Page, api: Marketplace) -> None:
    provider, [program] = free_programs(api, 1)
    manager = f"manager-{uuid.uuid4().hex[:8]}"
    manager_token = api.token("learner", manager, email=f"{manager}@example.com")
    employer = api.call("POST", "/api/v1/employers", token=manager_token, json={"name": "Acme"})
    pack = api.call(
        "POST",
        f"/api/v1/employers/{employer['id']}/seat-packs",
        token=manager_token,
        json={"program_id": program["id"], "seats": 2},
    )
    assert pack["status"] == "PAID"  # a free program's pack costs nothing
    people = [f"worker-{uuid.uuid4().hex[:6]}" for _ in range(2)]
    codes = api.call(
        "POST",
        f"/api/v1/employers/{employer['id']}/seat-packs/{pack['id']}/invitations",
        token=manager_token,
        json={"emails": [f"{p}@example.com" for p in people]},
    )["invitations"]
    tokens = {p: api.token("learner", p, email=f"{p}@example.com") for p in people}
    enrolled = {
        c["email"]: api.call(
            "POST",
            "/api/v1/redemptions",
            token=tokens[c["email"].split("@")[0]],
            json={"code": c["code"]},
        )
        for c in codes
    }
    done = f"{people[0]}@example.com"
    complete(api, provider, tokens[people[0]], enrolled[done]["id"])

    page.goto("/")
    sign_in_as_learner(page, manager)
    page.goto(f"/team/{employer['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme: your team")
    rows = page.get_by_role("table", name="Sponsored people").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text=done)).to_contain_text("Completed")
    expect(rows.filter(has_text=f"{people[1]}@example.com")).to_contain_text("Active")
    matrix = page.get_by_role("table", name="Skills matrix")
    for skill in program["skills"]:
        expect(matrix.get_by_role("columnheader", name=skill)).to_be_visible()
    expect(matrix.get_by_role("row", name=re.compile(done))).to_contain_text("✓")
    expect(matrix.get_by_role("row", name=re.compile(people[1]))).not_to_contain_text("✓")
