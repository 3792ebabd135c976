"""The employer pages in a real browser against the real system: a signed-in person
creates an employer from /team (a blank name is refused next to its field), gets the
header's "Team" link, buys a seat pack from /team/{id} through checkout, invites people
to it (a malformed address is refused next to the field; the codes are shown once),
revokes an invitation on the pack's page and invites a manager, who accepts through the
link; the invited person redeems their seat through theirs. A sponsored learner sees
on /learning/employers exactly what their employer sees, shares a credential they earned
on their own, the manager's team view and skills matrix show it marked as shared, and it
is gone once unshared. Every page passes axe-core."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import BrowserContext, Locator, Page, expect

from tests.browser.a11y import assert_accessible, enable_axe
from tests.browser.conftest import ASYNC_DEADLINE_SECONDS, Marketplace, sign_in_as_learner
from tests.browser.test_pathways_and_team import complete, free_programs
from tests.polling import eventually

SUCCEEDING_CARD = "4242424242424242"


def fact(region: Locator, term: str) -> Locator:
    """The value of a <dt>term</dt><dd>value</dd> pair in `region`."""
    return region.locator(f'dt:text-is("{term}") + dd')


def _sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("Sign in (dev)")).to_be_visible()


def _team_link(page: Page) -> Any:
    return page.get_by_role("navigation", name="Account").get_by_role("link", name="Team")


def test_a_manager_creates_an_employer_buys_seats_and_invites_people(
    context: BrowserContext, page: Page, api: Marketplace
) -> None:
    enable_axe(context)
    program = api.publish_program()
    run = uuid.uuid4().hex[:8]
    manager = f"boss-{run}"
    page.goto("/")
    sign_in_as_learner(page, manager)
    expect(_team_link(page)).to_have_count(0)  # not a member of any employer yet

    page.goto("/team")
    expect(page.get_by_role("heading", level=1)).to_have_text("Team")
    expect(page.get_by_text("You do not own or manage an employer yet")).to_be_visible()
    assert_accessible(page)
    name = page.get_by_label("Organisation name")
    name.fill("   ")
    page.get_by_role("button", name="Create employer").click()
    expect(name).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#create-name-error")).to_contain_text("must not be")
    assert_accessible(page)
    name.fill(f"Acme {run}")
    page.get_by_role("button", name="Create employer").click()
    expect(page).to_have_url(re.compile(r"/team/[0-9a-f-]{36}\?created=1$"))
    employer_id = page.url.split("/team/")[1].split("?")[0]
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Acme {run}: your team")
    expect(_team_link(page)).to_be_visible()
    assert_accessible(page)

    # Buying: a program id that is none is refused next to its input; then the price is
    # reviewed (no tiers: the list price per seat), then to checkout.
    buy = page.get_by_role("form", name="Buy seats")
    buy.get_by_label("Program").fill("not a program")
    buy.get_by_label("Seats").fill("3")
    buy.get_by_role("button", name="Review price").click()
    expect(page.locator("#buy-program_id")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("form", name="Your seat pack")).to_have_count(0)
    assert_accessible(page)
    buy = page.get_by_role("form", name="Buy seats")
    buy.get_by_label("Program").fill(f"http://localhost/programs/{program.id}")
    buy.get_by_label("Seats").fill("3")
    buy.get_by_role("button", name="Review price").click()
    review = page.get_by_role("region", name="Your seat pack")
    expect(fact(review, "Price per seat")).to_have_text("49.00 USD")
    expect(fact(review, "Total")).to_have_text("147.00 USD")
    assert_accessible(page)
    review.get_by_role("button", name="Buy 3 seats: 147.00 USD").click()
    expect(page).to_have_url(re.compile(r"/checkout/cs_\w+$"))
    page.get_by_label("Card number").fill(SUCCEEDING_CARD)
    page.get_by_role("button", name="Pay 147.00 USD").click()
    expect(page).to_have_url(re.compile(rf"/team/{employer_id}\?bought=[0-9a-f-]{{36}}$"))
    token = api.token("learner", manager, email=f"{manager}@example.com")
    eventually(
        lambda: (
            api.call("GET", f"/api/v1/employers/{employer_id}/seat-packs", token=token)[
                "seat_packs"
            ][0]["status"]
            == "PAID"
        ),
        within=ASYNC_DEADLINE_SECONDS,
        what="the seat pack to be paid",
    )
    page.reload()
    packs = page.get_by_role("table", name="Seat packs")
    row = packs.locator("tbody tr").filter(has_text=program.title)
    expect(row).to_contain_text("Paid")
    expect(row.locator("td").nth(3)).to_have_text("3")  # seats left
    assert_accessible(page)

    # Inviting: a malformed address is refused next to the field, then two people.
    invite = page.get_by_role("form", name="Invite people to a pack")
    invite.get_by_label("Email addresses").fill(f"ann-{run}@example.com, not-an-email")
    invite.get_by_role("button", name="Send invitations").click()
    expect(page.locator("#invite-emails")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#invite-emails")).to_have_value(f"ann-{run}@example.com, not-an-email")
    assert_accessible(page)
    invite = page.get_by_role("form", name="Invite people to a pack")
    invite.get_by_label("Email addresses").fill(f"ann-{run}@example.com\nbob-{run}@example.com")
    invite.get_by_role("button", name="Send invitations").click()
    codes = page.get_by_role("table", name="Codes issued")
    expect(codes.locator("tbody tr")).to_have_count(2)
    expect(codes).to_contain_text(f"bob-{run}@example.com")
    assert_accessible(page)

    link = page.get_by_label(f"Redemption link for ann-{run}@example.com").input_value()
    assert re.search(r"/redeem\?code=[\w-]+$", link), link

    # The pack's page: both invitations pending; revoke one.
    page.get_by_role("link", name=re.compile(r"^Invitations to ")).click()
    invitations = page.get_by_role("table", name="Invitations")
    expect(invitations.locator("tbody tr")).to_have_count(2)
    assert_accessible(page)
    page.get_by_role("button", name=f"Revoke the invitation of bob-{run}@example.com").click()
    expect(page.get_by_role("status")).to_contain_text("revoked")
    bob = (
        page.get_by_role("table", name="Invitations")
        .locator("tbody tr")
        .filter(has_text=f"bob-{run}@example.com")
    )
    expect(bob).to_contain_text("Revoked")
    expect(bob.get_by_role("button")).to_have_count(0)
    assert_accessible(page)

    # An owner invites a manager: the link to send is shown.
    page.goto(f"/team/{employer_id}")
    managers = page.get_by_role("form", name="Invite a manager")
    managers.get_by_label("Manager's email").fill(f"deputy-{run}@example.com")
    managers.get_by_role("button", name="Invite manager").click()
    manager_link = page.get_by_label("Invitation link")
    expect(manager_link).to_have_value(re.compile(r"/team/invitations/[0-9a-f-]{36}$"))
    invitation_path = "/team/invitations/" + manager_link.input_value().rsplit("/", 1)[1]
    assert_accessible(page)

    # /team lists the employer.
    _team_link(page).click()
    expect(page.get_by_role("list", name="Your employers")).to_contain_text(f"Acme {run}")
    assert_accessible(page)

    # The deputy opens the link, signs in as themself and accepts: now a manager.
    _sign_out(page)
    page.goto(invitation_path)
    assert_accessible(page)
    sign_in_as_learner(page, f"deputy-{run}")
    page.get_by_role("button", name="Accept the invitation").click()
    expect(page.get_by_role("status")).to_contain_text(f"You now manage Acme {run}")
    expect(_team_link(page)).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Open its team").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Acme {run}: your team")
    expect(page.get_by_text("Owners invite managers.")).to_be_visible()

    # Ann opens her link, signs in as herself and redeems: enrolled, at no cost to her.
    _sign_out(page)
    page.goto("/redeem?" + link.split("?", 1)[1])
    expect(page.get_by_role("heading", level=1)).to_have_text("Redeem a seat")
    assert_accessible(page)
    sign_in_as_learner(page, f"ann-{run}")
    expect(page.get_by_role("textbox", name="Code")).to_have_value(link.split("code=", 1)[1])
    page.get_by_role("button", name="Redeem").click()
    expect(page).to_have_url(re.compile(r"/enrollments/[0-9a-f-]{36}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(program.title)
    assert_accessible(page)
    # Bob's revoked code is refused on the same page, next to the field.
    page.goto("/redeem")
    page.get_by_role("textbox", name="Code").fill("no-such-code")
    page.get_by_role("button", name="Redeem").click()
    expect(page.locator("#redeem-code-error")).to_contain_text("no seat invitation")
    assert_accessible(page)


def test_a_learner_shares_a_self_earned_credential_and_the_team_sees_it_until_unshared(
    context: BrowserContext, page: Page, api: Marketplace
) -> None:
    enable_axe(context)
    provider, [seat_program, own_program] = free_programs(api, 2)
    run = uuid.uuid4().hex[:8]
    manager, learner = f"mgr-{run}", f"sharer-{run}"
    manager_token = api.token("learner", manager, email=f"{manager}@example.com")
    learner_token = api.token("learner", learner, email=f"{learner}@example.com")
    employer = api.call(
        "POST", "/api/v1/employers", token=manager_token, json={"name": f"Globex {run}"}
    )
    pack = api.call(
        "POST",
        f"/api/v1/employers/{employer['id']}/seat-packs",
        token=manager_token,
        json={"program_id": seat_program["id"], "seats": 1},
    )
    [code] = api.call(
        "POST",
        f"/api/v1/employers/{employer['id']}/seat-packs/{pack['id']}/invitations",
        token=manager_token,
        json={"emails": [f"{learner}@example.com"]},
    )["invitations"]
    api.call("POST", "/api/v1/redemptions", token=learner_token, json={"code": code["code"]})
    mine = api.call(
        "POST", "/api/v1/enrollments", token=learner_token, json={"program_id": own_program["id"]}
    )
    complete(api, provider, learner_token, mine["id"])
    own_skill = own_program["skills"][0]

    page.goto("/")
    sign_in_as_learner(page, learner)
    page.goto("/learning")
    page.get_by_role("link", name="What your employers see").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What your employers see")
    sponsor = page.get_by_role("region", name=f"Globex {run}")
    seen = sponsor.get_by_role("table", name=f"What Globex {run} sees")
    expect(seen.locator("tbody tr")).to_have_count(1)
    expect(seen).to_contain_text(seat_program["title"])
    expect(seen).not_to_contain_text(own_program["title"])
    own = sponsor.get_by_role("list", name="Credentials you earned on your own")
    expect(own).to_contain_text("not shared")
    assert_accessible(page)

    own.get_by_role("button", name=f"Share {own_program['title']} with Globex {run}").click()
    expect(page.get_by_role("status")).to_contain_text("Shared")
    sponsor = page.get_by_role("region", name=f"Globex {run}")
    seen = sponsor.get_by_role("table", name=f"What Globex {run} sees")
    expect(seen.locator("tbody tr")).to_have_count(2)
    expect(seen.locator("tbody tr").filter(has_text=own_program["title"])).to_contain_text(
        "shared by you"
    )
    assert_accessible(page)

    # The manager's team view and skills matrix show it, marked as shared.
    _sign_out(page)
    sign_in_as_learner(page, manager)
    page.goto(f"/team/{employer['id']}")
    people = page.get_by_role("table", name="Sponsored people")
    shared_row = people.locator("tbody tr").filter(has_text=own_program["title"])
    expect(shared_row).to_contain_text("shared")
    matrix = page.get_by_role("table", name="Skills matrix")
    expect(matrix.get_by_role("columnheader", name=own_skill)).to_be_visible()
    expect(matrix.get_by_role("row", name=re.compile(learner))).to_contain_text("✓ shared")
    assert_accessible(page)

    # Unshared: the team no longer sees it.
    _sign_out(page)
    sign_in_as_learner(page, learner)
    page.goto("/learning/employers")
    page.get_by_role(
        "button", name=f"Stop sharing {own_program['title']} with Globex {run}"
    ).click()
    expect(page.get_by_role("status")).to_contain_text("No longer shared")
    assert_accessible(page)
    team = api.call("GET", f"/api/v1/employers/{employer['id']}/team", token=manager_token)
    assert [e["shared"] for p in team["people"] for e in p["enrollments"]] == [False]
