"""The provider studio in a real browser against the real system: a member of a provider
signs in, creates a program, edits it (a validation error shown next to its field),
publishes it, sees an enrollment arrive, marks it complete and revokes the credential.
Every studio page passes axe-core with no serious or critical violation and does not
overflow a 390 px wide phone screen."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from services.devstack.stack import Stack
from tests.browser.conftest import ACTION_TIMEOUT_MS, Marketplace, SeededProgram
from tests.polling import eventually

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
PHONE = ViewportSize(width=390, height=844)


@pytest.fixture
def studio_context(browser: Browser, stack: Stack) -> Iterator[BrowserContext]:
    """A fresh profile; CSP bypassed only so that the test can inject axe-core (the pages
    themselves run no script)."""
    if not AXE.exists():
        pytest.fail(f"no {AXE}: run `make node_modules/.installed` (npm install)")
    ctx = browser.new_context(base_url=stack.gateway_url, locale="en-GB", bypass_csp=True)
    ctx.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def studio_page(studio_context: BrowserContext) -> Page:
    return studio_context.new_page()


def assert_accessible(page: Page) -> None:
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => `${v.id} (${v.impact}): ${v.nodes.map(n => n.target.join(' ')).join(', ')}`)"""
    )
    assert violations == [], f"{page.url}: {violations}"


def assert_fits_a_phone(page: Page) -> None:
    size = page.viewport_size
    page.set_viewport_size(PHONE)
    try:
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{page.url} is {overflow}px wider than a 390px screen"
    finally:
        if size:
            page.set_viewport_size(size)


def check(page: Page) -> None:
    assert_accessible(page)
    assert_fits_a_phone(page)


def test_a_provider_runs_a_program_from_the_studio(
    studio_page: Page, api: Marketplace, tmp_path: Path
) -> None:
    page = studio_page
    run = uuid.uuid4().hex[:8]
    provider = api.call(
        "POST",
        "/api/v1/providers",
        token=api.admin_token,
        json={"name": f"Studio Academy {run}"},
        expect=(201,),
    )
    staff = f"staff-{run}"
    api.call(
        "POST",
        f"/api/v1/providers/{provider['id']}/members",
        token=api.admin_token,
        json={"subject": staff, "role": "OWNER"},
        expect=(201,),
    )

    # Sign in as provider staff with no provider id: the studio opens the one provider.
    page.goto("/")
    page.get_by_text("Sign in (dev)").click()
    page.get_by_label("Role").select_option("provider")
    page.get_by_label("User id").fill(staff)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/studio/{provider['id']}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(provider["name"])
    expect(page.get_by_role("link", name="Studio", exact=True)).to_be_visible()
    check(page)

    # Create a draft.
    title = f"SQL for Analysts {run}"
    page.get_by_role("link", name="New program").click()
    check(page)
    page.get_by_label("Title").fill(title)
    page.get_by_label("Summary").fill("Query data with confidence")
    page.get_by_label("Skills").fill("SQL, analysis")
    page.get_by_label("Duration in hours").fill("6")
    page.get_by_label("Price (e.g.").fill("49.00")
    page.get_by_label("Currency").fill("USD")
    page.get_by_label("Seats (empty: unlimited)").fill("10")
    page.get_by_label("Badge name").fill("SQL Analyst")
    page.get_by_label("Badge description").fill("Writes correct analytical SQL.")
    page.get_by_label("How to earn it").fill("Passes the graded project.")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.get_by_text("Draft", exact=True)).to_be_visible()
    program_id = page.url.rsplit("/", 1)[-1]
    check(page)

    # Edit: an invalid value is refused, the error next to its field.
    page.get_by_role("link", name="Edit").click()
    duration = page.get_by_label("Duration in hours")
    duration.fill("0")
    page.get_by_role("button", name="Save changes").click()
    error = page.locator("#e-duration_hours")
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    expect(duration).to_have_attribute("aria-invalid", "true")
    expect(duration).to_have_attribute("aria-describedby", "e-duration_hours")
    page.screenshot(path=str(tmp_path / "studio-error.png"), full_page=True)
    check(page)
    duration.fill("8")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    expect(page.get_by_text("8 h")).to_be_visible()

    page.get_by_role("button", name="Publish").click()
    expect(page.get_by_text("Published", exact=True)).to_be_visible()

    # A learner buys it (off screen); the studio shows the enrollment.
    purchase = api.buy(
        SeededProgram(
            id=program_id,
            title=title,
            achievement="SQL Analyst",
            provider_id=provider["id"],
            provider_name=provider["name"],
            provider_token="",
        )
    )
    page.reload()
    enrollments = page.get_by_role("list", name="Enrollments")
    row = enrollments.get_by_role("listitem").filter(has_text=purchase.learner)
    expect(row).to_contain_text("Active")
    page.get_by_label("Status").select_option("ACTIVE")
    page.get_by_role("button", name="Filter").click()
    expect(row).to_be_visible()
    check(page)

    row.get_by_label("Grade").fill("A")
    row.get_by_label("Evidence URL").fill("https://evidence.example/project")
    row.get_by_role("button", name="Mark complete").click()
    expect(row).to_contain_text("Completed")
    expect(row).to_contain_text("Grade A")

    def credential_listed() -> int:
        page.reload()
        return row.get_by_role("button", name="Revoke credential").count()

    eventually(credential_listed, within=20, interval=0.5, what="the issued credential")
    check(page)
    row.get_by_label("Reason for revoking").fill("Plagiarised project")
    row.get_by_role("button", name="Revoke credential").click()
    expect(row).to_contain_text("Revoked")
    expect(row).to_contain_text("Plagiarised project")

    page.get_by_role("link", name=provider["name"]).click()
    page.get_by_role("link", name="Earnings").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Earnings")
    check(page)


def test_someone_with_no_provider_is_told_how_to_get_access(studio_page: Page) -> None:
    page = studio_page
    page.goto("/")
    page.get_by_text("Sign in (dev)").click()
    page.get_by_label("Role").select_option("provider")
    page.get_by_label("User id").fill(f"nobody-{uuid.uuid4().hex[:8]}")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/studio$"))
    expect(
        page.get_by_role("heading", name="You are not on any provider's staff yet")
    ).to_be_visible()
    check(page)


def test_the_storefront_filters_are_accessible_and_fit_a_phone(
    studio_page: Page, program: SeededProgram
) -> None:
    page = studio_page
    page.goto("/")
    page.get_by_role("searchbox", name="Search programs").fill(program.title.split()[-1][:5])
    page.get_by_label("Price").select_option("100")
    page.get_by_label("Duration").select_option("medium")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("link", name=program.title, exact=True)).to_be_visible()
    expect(page.get_by_text("seats left")).to_be_visible()
    check(page)
    page.get_by_role("link", name=program.title, exact=True).click()
    expect(page.get_by_text("of 100 seats left")).to_be_visible()
    check(page)
