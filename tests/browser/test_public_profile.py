"""A learner's public profile in a real browser: curated on /learning (handle, turned on,
credentials chosen), then seen by an anonymous employer on a phone at /u/{handle}: grouped
by skill, each credential's live status, one link that verifies them all; a revocation
shows at the next view. axe-core clean and no horizontal scroll at 390 px."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect

from services.devstack.stack import Stack
from tests.browser.a11y import PHONE, assert_accessible, enable_axe, horizontal_overflow
from tests.browser.conftest import (
    ACTION_TIMEOUT_MS,
    Marketplace,
    SeededProgram,
    sign_in_as_learner,
)


def _credential_for(api: Marketplace, program: SeededProgram, learner: str) -> str:
    token = api.token("learner", learner, email=f"{learner}@example.com")
    enrollment = api.call(
        "POST", "/api/v1/enrollments", token=token, json={"program_id": program.id}
    )
    paid = api.http.post(enrollment["checkout_url"], data={"card_number": "4242424242424242"})
    assert paid.status_code in (200, 303), paid.text[:500]
    api.wait_for_enrollment(enrollment["id"], token, lambda e: e["status"] == "ACTIVE")
    api.call(
        "POST",
        f"/api/v1/enrollments/{enrollment['id']}/complete",
        token=program.provider_token,
        json={},
    )
    done = api.wait_for_enrollment(enrollment["id"], token, lambda e: bool(e.get("credential_id")))
    return str(done["credential_id"])


def test_learner_curates_a_public_profile_an_employer_verifies_on_a_phone(
    context: BrowserContext,
    page: Page,
    browser: Browser,
    stack: Stack,
    api: Marketplace,
    program: SeededProgram,
    tmp_path: Path,
) -> None:
    enable_axe(context)
    other = api.publish_program()
    learner = f"pp-{uuid.uuid4().hex[:8]}"
    shown = _credential_for(api, program, learner)
    revoked_later = _credential_for(api, other, learner)
    handle = f"grace-{uuid.uuid4().hex[:8]}"

    page.goto("/learning")
    sign_in_as_learner(page, learner)
    section = page.locator("#public-profile")
    section.get_by_label("Handle").fill(handle)
    section.get_by_label("Make my profile public").check()
    choices = section.get_by_role("group", name="Credentials to show").get_by_role("checkbox")
    expect(choices).to_have_count(2)
    choices.nth(0).check()
    choices.nth(1).check()
    assert_accessible(page)
    section.get_by_role("button", name="Update public profile").click()
    expect(page.get_by_text("Public profile updated.")).to_be_visible()
    link = page.locator("#public-profile-link")
    expect(link).to_have_attribute("href", f"/u/{handle}")

    api.call(
        "POST",
        f"/api/v1/credentials/{revoked_later}/revoke",
        token=other.provider_token,
        json={"reason": "misconduct"},
    )

    # An employer, signed out, on a phone.
    phone = browser.new_context(base_url=stack.gateway_url, viewport=PHONE, locale="en-GB")
    phone.set_default_timeout(ACTION_TIMEOUT_MS)
    enable_axe(phone)
    try:
        visitor = phone.new_page()
        visitor.goto(f"/u/{handle}")
        expect(visitor.get_by_role("heading", level=1)).to_have_text(handle)
        expect(visitor.locator("#profile-summary")).to_contain_text("1 of 2 credentials valid")
        kubernetes = visitor.get_by_role("list", name="Credentials for kubernetes")
        expect(kubernetes.get_by_role("listitem")).to_have_count(2)
        valid = kubernetes.get_by_role("listitem").filter(
            has=visitor.locator(f'a[href$="{shown}"]')
        )
        expect(valid).to_contain_text("VALID")
        gone = kubernetes.get_by_role("listitem").filter(
            has=visitor.locator(f'a[href$="{revoked_later}"]')
        )
        expect(gone).to_contain_text("REVOKED")
        expect(gone).to_contain_text("misconduct")
        og = visitor.locator('meta[property="og:url"]')
        expect(og).to_have_attribute("content", re.compile(rf"/u/{handle}$"))
        assert horizontal_overflow(visitor) == 0, "the profile is wider than a 390 px screen"
        assert_accessible(visitor)
        visitor.screenshot(path=str(tmp_path / "profile-phone.png"), full_page=True)

        visitor.get_by_role("link", name="Verify all credentials").click()
        verdicts = json.loads(visitor.locator("body").inner_text())
        assert verdicts["all_valid"] is False
        assert {c["id"]: c["status"] for c in verdicts["credentials"]} == {
            shown: "VALID",
            revoked_later: "REVOKED",
        }
    finally:
        phone.close()
