"""The studio's Members page and earnings titles in a real browser against the real
system: an owner sees the members, invites someone by email (a malformed address is
refused next to its field), the invited person accepts through the link and appears as
a member; a staff member's attempt to invite is refused by the catalog. The earnings
table names each program by its title. Every page passes axe-core."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.a11y import assert_accessible, enable_axe
from tests.browser.conftest import ASYNC_DEADLINE_SECONDS, Marketplace, sign_in_as_learner
from tests.polling import eventually


def _sign_in_as_staff(page: Page, subject: str, email: str = "") -> None:
    page.goto("/")
    page.get_by_text("Sign in (dev)").click()
    page.get_by_label("Role").select_option("provider")
    page.get_by_label("User id").fill(subject)
    if email:
        page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign in", exact=True).click()


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("Sign in (dev)")).to_be_visible()


def test_an_owner_invites_someone_who_joins_and_staff_cannot_invite(
    context: BrowserContext, page: Page, api: Marketplace
) -> None:
    enable_axe(context)
    program = api.publish_program()
    provider_id = program.provider_id
    run = uuid.uuid4().hex[:8]
    owner = f"owner-{run}"
    api.call(
        "POST",
        f"/api/v1/providers/{provider_id}/members",
        token=api.admin_token,
        json={"subject": owner, "role": "OWNER"},
        expect=(201,),
    )
    api.buy(program)
    eventually(
        lambda: api.call(
            "GET", f"/api/v1/providers/{provider_id}/earnings", token=program.provider_token
        )["programs"],
        within=ASYNC_DEADLINE_SECONDS,
        what="the sale in the earnings",
    )

    _sign_in_as_staff(page, owner)
    expect(page).to_have_url(re.compile(rf"/studio/{provider_id}$"))

    # Earnings name the program.
    page.get_by_role("link", name="Earnings").click()
    table = page.get_by_role("table", name="Per program")
    expect(table.get_by_role("link", name=program.title)).to_have_attribute(
        "href", f"/studio/{provider_id}/programs/{program.id}"
    )
    assert_accessible(page)

    page.goto(f"/studio/{provider_id}")
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Members")
    members = page.get_by_role("table", name="Current members")
    expect(members.get_by_role("row").filter(has_text=owner)).to_contain_text("Owner")
    assert_accessible(page)

    # A malformed address: refused next to the field, the typed value kept.
    email = page.get_by_label("Email", exact=True)
    email.evaluate("e => e.type = 'text'")  # past the browser's own check, to the API's
    email.fill("not an address")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.locator("#e-email")).not_to_be_empty()
    expect(page.get_by_label("Email", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Email", exact=True)).to_have_value("not an address")
    assert_accessible(page)

    newcomer = f"newcomer-{run}"
    page.get_by_label("Email", exact=True).fill(f"{newcomer}@example.com")
    page.get_by_label("Role").select_option("STAFF")
    page.get_by_role("button", name="Send invitation").click()
    notice = page.get_by_role("status")
    expect(notice).to_contain_text(f"{newcomer}@example.com is invited")
    link = notice.get_by_label(f"Invitation link for {newcomer}@example.com").input_value()
    assert re.fullmatch(r"https?://.+/invitations/[0-9a-f-]{36}", link), link
    invitations = page.get_by_role("table", name="Open invitations")
    expect(invitations.get_by_role("row").filter(has_text=newcomer)).to_contain_text("Staff")
    assert_accessible(page)

    # Inviting the same address again: the catalog's 409, shown above the form.
    page.get_by_label("Email", exact=True).fill(f"{newcomer}@example.com")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("alert")).to_be_visible()

    # The newcomer accepts through the link and shows up as a member.
    _sign_out(page)
    page.goto("/invitations/" + link.rsplit("/", 1)[-1])
    sign_in_as_learner(page, newcomer)
    page.get_by_role("button", name="Accept the invitation").click()
    expect(page.get_by_role("link", name="Open the studio")).to_be_visible()

    # As staff, the newcomer sees the members but the catalog refuses their invitation.
    page.goto(f"/studio/{provider_id}/members")
    expect(
        page.get_by_role("table", name="Current members")
        .get_by_role("row")
        .filter(has_text=newcomer)
    ).to_contain_text("Staff")
    page.get_by_label("Email", exact=True).fill(f"other-{run}@example.com")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_role("alert")).to_contain_text("owner")
    expect(page.get_by_role("main")).not_to_contain_text(f"other-{run}@example.com")
    assert_accessible(page)
