"""Pathway progress in "My learning", in a real browser against the real system: a learner
who earned one program of a three-program pathway sees "1 of 3 earned" and links to the
two programs still missing; once they earn the others, the pathway credential is linked
from /learning. The page passes axe-core."""

from __future__ import annotations

import uuid

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.a11y import assert_accessible, enable_axe
from tests.browser.conftest import ASYNC_DEADLINE_SECONDS, Marketplace, sign_in_as_learner
from tests.browser.test_pathways_and_team import complete, free_programs
from tests.polling import eventually


def test_my_learning_shows_each_started_pathway_what_is_missing_and_its_credential(
    context: BrowserContext, page: Page, api: Marketplace
) -> None:
    enable_axe(context)
    provider, programs = free_programs(api, 3)
    name = f"Three-part stack {uuid.uuid4().hex[:6]}"
    pathway = api.call(
        "POST",
        "/api/v1/pathways",
        token=provider,
        json={
            "title": "Three-part stack",
            "program_ids": [p["id"] for p in programs],
            "achievement": {
                "name": name,
                "description": "All three parts done.",
                "criteria": "Completed the three programs.",
                "skills": ["stacking"],
            },
        },
    )
    api.call("POST", f"/api/v1/pathways/{pathway['id']}/publish", token=provider)
    learner = f"stacker-{uuid.uuid4().hex[:8]}"
    token = api.token("learner", learner, email=f"{learner}@example.com")
    enrollments = [
        api.call("POST", "/api/v1/enrollments", token=token, json={"program_id": p["id"]})
        for p in programs
    ]
    complete(api, provider, token, enrollments[0]["id"])
    eventually(
        lambda: api.call(
            "GET", f"/api/v1/pathways/{pathway['id']}/progress", token=token, expect=(200, 404)
        ).get("earned_count"),
        within=ASYNC_DEADLINE_SECONDS,
        what="the first component to count",
    )

    page.goto("/")
    sign_in_as_learner(page, learner)
    page.goto("/learning")
    section = page.get_by_role("region", name="Pathways")
    row = section.get_by_role("listitem").filter(has_text=name).first
    expect(row).to_contain_text("1 of 3 earned")
    missing = row.get_by_role("list", name=f"Still to earn for {name}")
    expect(missing.get_by_role("link")).to_have_count(2)
    for program in programs[1:]:
        expect(missing.get_by_role("link", name=program["title"])).to_have_attribute(
            "href", f"/programs/{program['id']}"
        )
    expect(row.get_by_role("link", name=f"View pathway credential for {name}")).to_have_count(0)
    assert_accessible(page)

    missing.get_by_role("link", name=programs[1]["title"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(programs[1]["title"])

    for enrolled in enrollments[1:]:
        complete(api, provider, token, enrolled["id"])
    eventually(
        lambda: api.call("GET", f"/api/v1/pathways/{pathway['id']}/progress", token=token).get(
            "pathway_credential_id"
        ),
        within=ASYNC_DEADLINE_SECONDS,
        what="the pathway credential",
    )
    page.goto("/learning")
    row = (
        page.get_by_role("region", name="Pathways")
        .get_by_role("listitem")
        .filter(has_text=name)
        .first
    )
    expect(row).to_contain_text("3 of 3 earned")
    expect(row.get_by_role("list", name=f"Still to earn for {name}")).to_have_count(0)
    assert_accessible(page)
    row.get_by_role("link", name=f"View pathway credential for {name}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def test_a_learner_with_no_pathway_sees_no_pathways_section(page: Page, api: Marketplace) -> None:
    page.goto("/")
    sign_in_as_learner(page, f"nopath-{uuid.uuid4().hex[:8]}")
    page.goto("/learning")
    expect(page.get_by_role("heading", name="Enrollments")).to_be_visible()
    expect(page.get_by_role("region", name="Pathways")).to_have_count(0)
