"""The studio's Pathways pages in a real browser against the real system: provider A's
member defines a pathway of two of A's programs and one of provider B's (found by search),
sees B's consent PENDING and cannot publish (the catalog's reason shown); B's owner grants
on their Consents page; A's member publishes and the pathway is on /pathways. A form with
bad input shows each error beside its field, keeping what was typed. Every page passes
axe-core."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import BrowserContext, Page, expect

from services.devstack.demo import demo_program
from tests.browser.a11y import PHONE, assert_accessible, enable_axe, horizontal_overflow
from tests.browser.conftest import Marketplace, SeededProgram
from tests.browser.test_studio_members import _sign_in_as_staff, _sign_out


def _member(api: Marketplace, provider: SeededProgram, subject: str) -> None:
    api.call(
        "POST",
        f"/api/v1/providers/{provider.provider_id}/members",
        token=api.admin_token,
        json={"subject": subject, "role": "OWNER"},
        expect=(201,),
    )


def _second_program(api: Marketplace, first: SeededProgram, title: str) -> None:
    spec = demo_program() | {"title": title}
    made = api.call("POST", "/api/v1/programs", token=first.provider_token, json=spec)
    api.call("POST", f"/api/v1/programs/{made['id']}/publish", token=first.provider_token)


def test_a_provider_defines_a_pathway_with_another_providers_program_and_publishes_it(
    context: BrowserContext, page: Page, api: Marketplace
) -> None:
    enable_axe(context)
    run = uuid.uuid4().hex[:8]
    a, b = api.publish_program(), api.publish_program()
    second = f"Helm charts {run}"
    _second_program(api, a, second)
    a_staff, b_owner = f"path-a-{run}", f"path-b-{run}"
    _member(api, a, a_staff)
    _member(api, b, b_owner)

    _sign_in_as_staff(page, a_staff)
    expect(page).to_have_url(re.compile(rf"/studio/{a.provider_id}$"))
    page.get_by_role("link", name="Pathways").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pathways")
    expect(page.get_by_text("No pathways yet.")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="New pathway").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New pathway")
    assert_accessible(page)

    # Bad input: blank title, one program, k > n, an http image: each error at its field.
    page.get_by_label("Title").fill("   ")
    page.get_by_label(a.title).check()
    page.get_by_label("How many of them earn it").fill("3")
    page.get_by_label("Badge name").fill("Cloud Native Practitioner")
    page.get_by_label("Badge description").fill("Deploys and packages cloud-native apps.")
    page.get_by_label("Badge image URL").fill("http://badges.example/cloud.png")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_label("How many of them earn it")).to_have_value("3")
    expect(page.locator("#e-program_ids")).to_contain_text("at least 2")
    expect(page.get_by_label(a.title)).to_be_checked()
    expect(page.get_by_label("Badge name")).to_have_value("Cloud Native Practitioner")
    assert_accessible(page)
    expect(page.locator("#e-achievement\\.criteria")).to_contain_text("at least 1 character")
    page.get_by_label(second).check()
    page.get_by_label("How to earn it").fill("Earned all three programs' credentials.")
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("#e-title")).to_have_text("must not be empty or only whitespace")
    expect(page.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#e-achievement\\.image_url")).to_have_text("must be an https URL")
    expect(page.locator("#e-required_count")).to_contain_text("cannot exceed")
    assert_accessible(page)

    # Fix it, find B's program by search, and define the pathway.
    title = f"Cloud native path {run}"
    page.get_by_label("Title").fill(title)
    page.get_by_label("How many of them earn it").fill("")
    page.get_by_label("Badge image URL").fill("https://badges.example/cloud.png")
    page.get_by_label("Find other providers' programs").fill(b.title)
    page.get_by_role("button", name="Search programs").click()
    found = page.get_by_role("list", name="Found")
    expect(found.get_by_label(b.title)).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value(title)
    found.get_by_label(b.title).check()
    assert_accessible(page)
    page.get_by_role("button", name="Create draft").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    programs = page.get_by_role("table", name="Programs")
    expect(programs.get_by_role("row").filter(has_text=b.title)).to_contain_text("Pending")
    expect(programs.get_by_role("row").filter(has_text=second)).to_contain_text("Yours")
    assert_accessible(page)
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("alert")).to_contain_text("consent")
    expect(page.get_by_text("Draft", exact=True)).to_be_visible()
    assert_accessible(page)
    pathway_url = page.url.split("/publish")[0]
    _sign_out(page)

    # B's owner grants on their Consents page.
    _sign_in_as_staff(page, b_owner)
    page.get_by_role("link", name="Consents").click()
    page.get_by_role("button", name=f"Grant: {b.title} in {title}").click()
    expect(page.get_by_role("status")).to_have_text("Granted.")
    _sign_out(page)

    # A's member publishes: on the storefront's pathways.
    _sign_in_as_staff(page, a_staff)
    page.goto(pathway_url)
    programs = page.get_by_role("table", name="Programs")
    expect(programs.get_by_role("row").filter(has_text=b.title)).to_contain_text("Granted")
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_have_text("Published.")
    assert_accessible(page)
    page.get_by_role("link", name="← Pathways").click()
    row = page.get_by_role("table", name="Your pathways").get_by_role("row").filter(has_text=title)
    expect(row).to_contain_text("Published")
    expect(row).to_contain_text("3 of 3 programs")
    assert_accessible(page)
    page.goto("/pathways")
    expect(page.get_by_role("link", name=title)).to_be_visible()
    assert_accessible(page)

    # On a phone, the studio's pathway pages fit the screen (wide tables scroll inside).
    page.set_viewport_size(PHONE)
    for path in (pathway_url, f"/studio/{a.provider_id}/pathways/new"):
        page.goto(path)
        assert horizontal_overflow(page) == 0, f"{path} is wider than a 390 px screen"


def test_a_member_edits_a_draft_pathway_in_the_studio(
    context: BrowserContext, page: Page, api: Marketplace
) -> None:
    enable_axe(context)
    run = uuid.uuid4().hex[:8]
    a, b = api.publish_program(), api.publish_program()
    second = f"Kubernetes basics {run}"
    _second_program(api, a, second)
    a_staff = f"edit-a-{run}"
    _member(api, a, a_staff)
    _sign_in_as_staff(page, a_staff)
    page.goto(f"/studio/{a.provider_id}/pathways/new")
    page.get_by_label("Title").fill(f"Draft path {run}")
    page.get_by_label(a.title).check()
    page.get_by_label(second).check()
    page.get_by_label("Badge name").fill("Cloud Native Practitioner")
    page.get_by_label("Badge description").fill("Deploys and packages cloud-native apps.")
    page.get_by_label("How to earn it").fill("Earned both programs' credentials.")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Draft path {run}")

    page.get_by_role("button", name="Edit draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit draft")
    expect(page.get_by_label("Title")).to_have_value(f"Draft path {run}")
    expect(page.get_by_label(a.title)).to_be_checked()
    assert_accessible(page)

    # Bad input: each error beside its field, what was typed kept.
    page.get_by_label("Title").fill("   ")
    page.get_by_label("How many of them earn it").fill("5")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("#e-title")).to_have_text("must not be empty or only whitespace")
    expect(page.get_by_label("Title")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#e-required_count")).to_contain_text("cannot exceed")
    expect(page.get_by_label("How many of them earn it")).to_have_value("5")
    assert_accessible(page)

    # Fix it, add B's program (found by search) and k = 2 of 3: B's consent is asked for.
    title = f"Edited path {run}"
    page.get_by_label("Title").fill(title)
    page.get_by_label("How many of them earn it").fill("2")
    page.get_by_label("Find other providers' programs").fill(b.title)
    page.get_by_role("button", name="Search programs").click()
    found = page.get_by_role("list", name="Found")
    found.get_by_label(b.title).check()
    expect(page.get_by_label("Title")).to_have_value(title)
    assert_accessible(page)
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.get_by_text("earned by 2 of 3 programs")).to_be_visible()
    programs = page.get_by_role("table", name="Programs")
    expect(programs.get_by_role("row").filter(has_text=b.title)).to_contain_text("Pending")
    assert_accessible(page)

    # Take it out again: the request is cancelled and the draft publishes without it.
    page.get_by_role("button", name="Edit draft").click()
    page.get_by_label(b.title).uncheck()
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(programs.get_by_role("row").filter(has_text=b.title)).to_have_count(0)
    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_role("status")).to_have_text("Published.")
    expect(page.get_by_role("button", name="Edit draft")).to_have_count(0)
    assert_accessible(page)
