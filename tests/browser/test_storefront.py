"""The storefront in a real browser against the real system: a learner finds a program,
signs in, enrolls, is declined, pays, and later shows off (and loses) a credential."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from services.devstack.demo import SUCCEEDING_CARD
from tests.browser.conftest import Marketplace, SeededProgram, sign_in_as_learner

DECLINED_CARD = "4000000000000002"


# The enrollment page's status: the <dd> after the "Status" term.
STATUS = 'dt:text-is("Status") + dd'


def test_learner_finds_enrolls_and_pays_after_a_declined_card(
    page: Page, api: Marketplace, program: SeededProgram, tmp_path: Path
) -> None:
    page.goto("/")
    page.get_by_role("searchbox", name="Search programs").fill(program.title)
    page.get_by_role("button", name="Search", exact=True).click()
    cards = (
        page.get_by_role("list", name="Programs")
        .get_by_role("listitem")
        .filter(has=page.get_by_role("heading"))
    )
    expect(cards).to_have_count(1)
    expect(cards).to_contain_text(program.provider_name)
    expect(cards).to_contain_text("49.00 USD")
    page.screenshot(path=str(tmp_path / "storefront.png"), full_page=True)

    page.get_by_role("link", name=program.title, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/programs/{program.id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(program.title)
    # Not signed in: no way to enroll yet.
    expect(page.get_by_role("button", name="Enroll")).to_have_count(0)

    learner = f"browser-learner-{program.id[:8]}"
    sign_in_as_learner(page, learner)
    expect(page).to_have_url(re.compile(rf"/programs/{program.id}$"))
    page.get_by_role("button", name="Enroll").click()

    expect(page).to_have_url(re.compile(r"/checkout/cs_\w+$"))
    expect(page.get_by_role("heading", name="Checkout")).to_be_visible()
    expect(page.get_by_text(program.title)).to_be_visible()
    card = page.get_by_label("Card number")
    pay = page.get_by_role("button", name="Pay 49.00 USD")

    card.fill(DECLINED_CARD)
    pay.click()
    expect(page.get_by_role("alert")).to_have_text("Your card was declined.")
    expect(page).to_have_url(re.compile(r"/checkout/cs_\w+$"))

    card.fill(SUCCEEDING_CARD)
    pay.click()
    expect(page).to_have_url(re.compile(r"/enrollments/[0-9a-f-]{36}(\?paid=1)?$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(program.title)
    # PENDING_PAYMENT until the payment event has gone round; the page refreshes itself.
    expect(page.locator(STATUS)).to_have_text("Active", timeout=15_000)
    expect(page.get_by_text("Your credential is issued when")).to_be_visible()

    # What the pages did is what the system recorded: one enrollment (the declined card
    # did not make another), paid at the catalog price.
    enrollment_id = page.url.split("?")[0].rsplit("/", 1)[-1]
    mine = api.call("GET", "/api/v1/enrollments", token=api.token("learner", learner))
    assert [(e["id"], e["status"], e["price"]) for e in mine["enrollments"]] == [
        (enrollment_id, "ACTIVE", {"amount_minor": 4900, "currency": "USD"})
    ]


def test_completed_enrollment_links_a_public_credential_that_can_be_revoked(
    page: Page, api: Marketplace, program: SeededProgram, tmp_path: Path
) -> None:
    purchase = api.buy(program)
    api.call(
        "POST",
        f"/api/v1/enrollments/{purchase.enrollment_id}/complete",
        token=program.provider_token,
        json={"grade": "A"},
    )
    issued = api.wait_for_enrollment(
        purchase.enrollment_id, purchase.learner_token, lambda e: bool(e.get("credential_id"))
    )
    credential_id = issued["credential_id"]

    # A visitor who is not signed in does not see the enrollment; signing in from that
    # page brings the learner back to it.
    page.goto(f"/enrollments/{purchase.enrollment_id}")
    expect(page.get_by_text("Sign in to see your enrollment.")).to_be_visible()
    expect(page.get_by_text(program.title)).to_have_count(0)
    sign_in_as_learner(page, purchase.learner)
    expect(page).to_have_url(re.compile(rf"/enrollments/{purchase.enrollment_id}$"))
    expect(page.locator(STATUS)).to_have_text("Completed")
    link = page.get_by_role("link", name="View your credential")
    expect(link).to_have_attribute("href", f"/credentials/{credential_id}")

    # The credential page is public: a fresh visitor with no session sees the same.
    page.context.clear_cookies()
    link.click()
    expect(page).to_have_url(re.compile(rf"/credentials/{credential_id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(program.achievement)
    verdict = page.get_by_role("status")
    expect(verdict).to_have_text(re.compile(r"Valid credential"))
    expect(page.locator('dt:text-is("Issued by") + dd')).to_have_text(program.provider_name)
    expect(page.get_by_role("link", name=program.provider_name)).to_have_attribute(
        "href", re.compile(rf"/issuers/{program.provider_id}$")
    )
    page.screenshot(path=str(tmp_path / "credential-valid.png"), full_page=True)

    revoked = api.call(
        "POST",
        f"/api/v1/credentials/{credential_id}/revoke",
        token=api.admin_token,
        json={"reason": "issued in error"},
    )
    assert revoked["status"] == "REVOKED", revoked
    page.reload()
    expect(verdict).to_have_text(re.compile(r"Revoked"))
    expect(verdict).not_to_have_text(re.compile(r"Valid"))
    expect(page.locator('dt:text-is("Revoked") + dd')).to_contain_text("issued in error")
    page.screenshot(path=str(tmp_path / "credential-revoked.png"), full_page=True)


def test_signing_in_after_a_refused_enroll_returns_to_the_program(
    page: Page, program: SeededProgram
) -> None:
    """Enroll while signed out is refused; the sign-in on that page must lead back to the
    program page (it used to redirect to the POST-only enroll URL: 405)."""
    response = page.request.post(f"/programs/{program.id}/enroll", form={"idempotency_key": ""})
    assert response.status == 401
    page.set_content(response.text(), wait_until="domcontentloaded")
    next_field = page.locator('input[name="next"]').first
    assert next_field.get_attribute("value") == f"/programs/{program.id}"
