"""The learner's side in a real browser against the real system: buy a program and see it
confirmed without a reload, find it again in My learning after signing out and in, cancel
another at checkout, show a name on the credential, download it and check the file on
/verify; and an anonymous visitor who sees a shared credential VALID, then REVOKED.

Every page these journeys touch is checked with axe-core (no serious or critical
violation)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import BrowserContext, Page, expect

from services.devstack.demo import SUCCEEDING_CARD
from tests.browser.a11y import assert_accessible, enable_axe
from tests.browser.conftest import Marketplace, SeededProgram, sign_in_as_learner

STATUS = 'dt:text-is("Status") + dd'


def _enroll_to_checkout(page: Page, program: SeededProgram) -> None:
    page.goto(f"/programs/{program.id}")
    page.get_by_role("button", name="Enroll").click()
    expect(page).to_have_url(re.compile(r"/checkout/cs_\w+$"))


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("Sign in (dev)")).to_be_visible()


def test_learner_buys_sees_it_confirmed_live_finds_it_again_and_cancels_another(
    context: BrowserContext,
    page: Page,
    api: Marketplace,
    program: SeededProgram,
    tmp_path: Path,
) -> None:
    enable_axe(context)
    other = api.publish_program()
    learner = f"journey-{program.id[:8]}"

    page.goto(f"/programs/{program.id}")
    sign_in_as_learner(page, learner)
    # The signed-in header, with My learning, is on every page: program, checkout, errors.
    header = page.get_by_role("navigation", name="Account")
    expect(header.get_by_role("link", name="My learning")).to_have_attribute("href", "/learning")
    _enroll_to_checkout(page, program)
    expect(header.get_by_role("link", name="My learning")).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Card number").fill(SUCCEEDING_CARD)
    with page.expect_navigation(url=re.compile(r"/enrollments/")) as landed:
        page.get_by_role("button", name="Pay 49.00 USD").click()
    first_paint = landed.value
    assert first_paint is not None
    html = first_paint.text()
    if 'data-status="PENDING_PAYMENT"' in html:
        # Not confirmed yet when the page was drawn: it says the payment arrived.
        assert "Payment received, confirming..." in html
    # A marker that a reload would wipe: the page turns ACTIVE in place.
    page.evaluate("() => { window.__sameDocument = true; }")
    expect(page.locator(STATUS)).to_have_text("Active")
    expect(
        page.get_by_text("Payment confirmed: you are enrolled.")
        .or_(page.get_by_text("Your credential is issued when"))
        .first
    ).to_be_visible()
    assert page.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    enrollment_id = urlparse(page.url).path.rsplit("/", 1)[-1]
    assert_accessible(page)

    # "Cancel and go back" on the other program's checkout cancels that enrollment.
    _enroll_to_checkout(page, other)
    page.get_by_role("button", name="Cancel and go back").click()
    expect(page).to_have_url(re.compile(rf"/programs/{other.id}$"))
    mine = api.call("GET", "/api/v1/enrollments", token=api.token("learner", learner))
    statuses = {e["program_id"]: e["status"] for e in mine["enrollments"]}
    assert statuses == {program.id: "ACTIVE", other.id: "CANCELLED"}, statuses

    # Signed out and back in: My learning lists both, with what to do next.
    _sign_out(page)
    page.goto("/")
    sign_in_as_learner(page, learner)
    page.get_by_role("link", name="My learning").click()
    expect(page).to_have_url(re.compile(r"/learning$"))
    rows = page.get_by_role("list", name="Enrollments").get_by_role("listitem")
    expect(rows).to_have_count(2)
    bought = rows.filter(has_text=program.title)
    expect(bought).to_contain_text("Active")
    expect(bought).to_contain_text("49.00 USD")
    expect(bought.get_by_role("button", name=re.compile("Request a refund"))).to_be_visible()
    cancelled = rows.filter(has_text=other.title)
    expect(cancelled).to_contain_text("Cancelled")
    expect(cancelled.get_by_role("button")).to_have_count(0)
    assert_accessible(page)
    page.screenshot(path=str(tmp_path / "learning.png"), full_page=True)

    # The receipt: amount, currency, date, program, provider, payment id.
    bought.get_by_role("link", name="Receipt").click()
    expect(page.get_by_role("heading", name="Receipt")).to_be_visible()
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text(program.title)
    expect(facts).to_contain_text(program.provider_name)
    expect(facts).to_contain_text("49.00 USD")
    payment = api.call(
        "GET", f"/api/v1/enrollments/{enrollment_id}", token=api.token("learner", learner)
    )["payment_id"]
    expect(facts).to_contain_text(payment)
    assert_accessible(page)

    # A name on credentials, shown with consent.
    page.goto("/learning")
    page.get_by_label("Display name").fill("Ada Lovelace")
    page.get_by_label("Show this name on my credential pages").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Profile saved")).to_be_visible()
    expect(page.get_by_label("Display name")).to_have_value("Ada Lovelace")

    # The provider completes it; the credential appears in My learning.
    api.call(
        "POST",
        f"/api/v1/enrollments/{enrollment_id}/complete",
        token=program.provider_token,
        json={"grade": "A"},
    )
    api.wait_for_enrollment(
        enrollment_id, api.token("learner", learner), lambda e: bool(e.get("credential_id"))
    )
    page.reload()
    credentials = page.get_by_role("list", name="Credentials").get_by_role("listitem")
    expect(credentials).to_have_count(1)
    page.get_by_role("link", name="View credential").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(program.achievement)
    expect(page.locator("#earner")).to_have_text("Ada Lovelace")
    badge = page.get_by_role("img", name=f"Badge: {program.achievement}")
    expect(badge).to_be_visible()
    assert page.evaluate("(img) => img.naturalWidth", badge.element_handle()) > 0
    add = page.get_by_role("link", name="Add to LinkedIn profile").get_attribute("href")
    assert add is not None
    query = parse_qs(urlparse(add).query)
    assert query["startTask"] == ["CERTIFICATION_NAME"]
    assert query["name"] == [program.achievement]
    assert query["organizationName"] == [program.provider_name]
    assert query["certUrl"][0].endswith(page.url.split("/credentials/", 1)[1])
    assert query["issueYear"][0].isdigit()
    assert query["issueMonth"][0].isdigit()
    assert_accessible(page)

    with page.expect_download() as jwt_download:
        page.get_by_role("link", name="Download as VC-JWT").click()
    jwt_file = tmp_path / "credential.jwt"
    jwt_download.value.save_as(jwt_file)
    with page.expect_download() as json_download:
        page.get_by_role("link", name="Download as JSON").click()
    json_file = tmp_path / "credential.json"
    json_download.value.save_as(json_file)
    document = json.loads(json_file.read_text())
    assert "OpenBadgeCredential" in document["type"]
    assert document["credentialSubject"]["achievement"]["image"]["type"] == "Image"

    # The downloaded file checks out on /verify, and so does the JSON; a doctored JSON not.
    page.goto("/verify")
    assert_accessible(page)
    page.get_by_label("Or its file").set_input_files(str(jwt_file))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#verdict")).to_have_text(re.compile("Valid credential"))
    assert_accessible(page)
    page.get_by_label("Credential", exact=True).fill(json_file.read_text())
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#verdict")).to_have_text(re.compile("Valid credential"))
    expect(page.get_by_role("list", name="Checks")).to_contain_text("matches signed copy")
    document["name"] = "Something else entirely"
    page.get_by_label("Credential", exact=True).fill(json.dumps(document))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator("#verdict")).to_have_text(re.compile("Not valid"))


def test_anonymous_visitor_sees_a_shared_credential_valid_then_revoked(
    context: BrowserContext, page: Page, api: Marketplace, program: SeededProgram
) -> None:
    enable_axe(context)
    purchase = api.buy(program)
    api.call(
        "POST",
        f"/api/v1/enrollments/{purchase.enrollment_id}/complete",
        token=program.provider_token,
        json={},
    )
    credential_id = api.wait_for_enrollment(
        purchase.enrollment_id, purchase.learner_token, lambda e: bool(e.get("credential_id"))
    )["credential_id"]

    page.goto(f"/credentials/{credential_id}")
    verdict = page.get_by_role("status")
    expect(verdict).to_have_text(re.compile("Valid credential"))
    # No name chosen: the page shows none (and never the internal learner URN as a name).
    expect(page.locator("#earner")).to_contain_text("name not shown")
    expect(page.locator("#earner")).not_to_contain_text("urn:upskill")
    meta = {
        key: page.locator(f'meta[{attr}="{key}"]').get_attribute("content")
        for attr, key in (
            ("property", "og:title"),
            ("property", "og:image"),
            ("property", "og:url"),
            ("name", "twitter:card"),
        )
    }
    assert meta["og:title"] == program.achievement
    assert meta["og:url"]
    assert meta["og:url"].endswith(f"/credentials/{credential_id}")
    assert meta["og:image"]
    assert meta["og:image"].endswith(f"/programs/{program.id}/badge.svg")
    assert meta["twitter:card"] == "summary"
    assert_accessible(page)

    api.call(
        "POST",
        f"/api/v1/credentials/{credential_id}/revoke",
        token=api.admin_token,
        json={"reason": "issued in error"},
    )
    page.reload()
    expect(verdict).to_have_text(re.compile("Revoked"))
    assert_accessible(page)


def test_learner_asks_for_a_refund_from_my_learning_and_is_sent_back_to_an_enrollment(
    context: BrowserContext, page: Page, api: Marketplace, program: SeededProgram
) -> None:
    enable_axe(context)
    purchase = api.buy(program)
    page.goto(f"/programs/{program.id}")
    sign_in_as_learner(page, purchase.learner)

    # Enrolling again: the error links to the enrollment there is, no ids to copy.
    page.get_by_role("button", name="Enroll").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("You are already enrolled in this program.")
    alert.get_by_role("link", name="See your enrollment").click()
    expect(page).to_have_url(re.compile(rf"/enrollments/{purchase.enrollment_id}$"))
    assert_accessible(page)

    page.goto("/learning")
    row = page.get_by_role("list", name="Enrollments").get_by_role("listitem")
    expect(row).to_have_count(1)
    row.get_by_role("button", name=re.compile("Request a refund")).click()
    expect(page.get_by_role("status")).to_contain_text("Refund requested")
    api.wait_for_enrollment(
        purchase.enrollment_id, purchase.learner_token, lambda e: e["status"] == "REFUNDED"
    )
    page.reload()
    expect(row).to_contain_text("Refunded")
    expect(row.get_by_role("button")).to_have_count(0)
    assert_accessible(page)


def test_a_payment_not_confirmed_in_a_minute_says_so(
    context: BrowserContext, page: Page, api: Marketplace, program: SeededProgram
) -> None:
    """An enrollment still PENDING_PAYMENT after its checkout said "paid" (the payment event
    is late): the page keeps asking, then says plainly that it has not turned yet. The
    browser's clock is faked, so the minute passes at once."""
    learner = f"late-{uuid.uuid4().hex[:8]}"
    token = api.token("learner", learner, email=f"{learner}@example.com")
    pending = api.call("POST", "/api/v1/enrollments", token=token, json={"program_id": program.id})
    page.clock.install()
    page.goto("/")
    sign_in_as_learner(page, learner)
    page.goto(f"/enrollments/{pending['id']}?paid=1")
    expect(page.get_by_text("Payment received, confirming...")).to_be_visible()
    page.clock.run_for(61_000)
    expect(page.get_by_role("status")).to_contain_text("has not been confirmed yet")
    expect(page.locator(STATUS)).to_have_text("Pending payment")
