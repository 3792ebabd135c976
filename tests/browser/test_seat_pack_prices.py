"""Seat pack prices in a real browser against the real system: a program with volume tiers
shows them on its page ("For teams": seats from N, price per seat), with a link for a
person who manages an employer to buy seats from their team page; there the buy form's
review step shows the tier's price per seat and the total for 12 seats (computed by the
rule enrollment charges), hostile seat counts are refused next to their input, and the
checkout that follows names the employer and charges exactly that total. Every page
passes axe-core."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.a11y import PHONE, assert_accessible, enable_axe, horizontal_overflow
from tests.browser.conftest import ASYNC_DEADLINE_SECONDS, Marketplace, sign_in_as_learner
from tests.browser.test_team import SUCCEEDING_CARD, fact
from tests.polling import eventually

# The demo program costs 49.00 USD a seat.
TIERS = [{"min_seats": 10, "unit_amount_minor": 4000}, {"min_seats": 25, "unit_amount_minor": 3500}]


def fits_a_phone(page: Page) -> None:
    desk = page.viewport_size
    page.set_viewport_size(PHONE)
    assert horizontal_overflow(page) == 0, f"{page.url} is wider than a 390 px screen"
    if desk is not None:
        page.set_viewport_size(desk)


def test_the_program_page_shows_its_seat_pack_prices_and_links_a_manager_to_buy(
    context: BrowserContext, page: Page, api: Marketplace
) -> None:
    enable_axe(context)
    program = api.publish_program(volume_tiers=TIERS)
    plain = api.publish_program()
    run = uuid.uuid4().hex[:8]
    manager = f"tiers-{run}"
    manager_token = api.token("learner", manager, email=f"{manager}@example.com")
    employer = api.call(
        "POST", "/api/v1/employers", token=manager_token, json={"name": f"Umbrella {run}"}
    )
    shown = api.call("GET", f"/api/v1/programs/{program.id}")
    assert shown["volume_tiers"] == TIERS, shown

    # Anyone sees the tiers; nobody signed in gets a link to buy seats.
    page.goto(f"/programs/{program.id}")
    teams = page.get_by_role("region", name="For teams")
    table = teams.get_by_role("table", name="For teams")
    expect(table.get_by_role("columnheader")).to_have_text(["Seats", "Price per seat"])
    expect(table.locator("tbody tr")).to_have_count(3)
    expect(table.locator("tbody tr").nth(0).locator("td")).to_have_text(["1 to 9", "49.00 USD"])
    expect(table.locator("tbody tr").nth(1).locator("td")).to_have_text(["From 10", "40.00 USD"])
    expect(table.locator("tbody tr").nth(2).locator("td")).to_have_text(["From 25", "35.00 USD"])
    expect(teams.get_by_role("link")).to_have_count(0)
    assert_accessible(page)
    fits_a_phone(page)

    # A program without tiers has no such section for a viewer who manages no employer.
    page.goto(f"/programs/{plain.id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(plain.title)
    expect(page.get_by_role("region", name="For teams")).to_have_count(0)

    # The manager signs in on the program page: a link to buy seats for their employer.
    page.goto(f"/programs/{program.id}")
    sign_in_as_learner(page, manager)
    teams = page.get_by_role("region", name="For teams")
    expect(teams.get_by_role("table", name="For teams").locator("tbody tr")).to_have_count(3)
    assert_accessible(page)
    teams.get_by_role("link", name=f"Buy seats for Umbrella {run}").click()
    expect(page).to_have_url(re.compile(rf"/team/{employer['id']}\?program_id={program.id}"))
    buy = page.get_by_role("form", name="Buy seats")
    expect(buy.get_by_label("Program")).to_have_value(program.id)

    # Hostile seat counts are refused next to their input, nothing is reviewed.
    for seats in ("0", "1001", "-3", "12.5"):
        buy = page.get_by_role("form", name="Buy seats")
        buy.get_by_label("Seats").evaluate(
            "(input, v) => { input.type = 'text'; input.value = v }", seats
        )
        buy.get_by_role("button", name="Review price").click()
        expect(page.locator("#buy-seats")).to_have_attribute("aria-invalid", "true")
        expect(page.get_by_role("region", name="Your seat pack")).to_have_count(0)
    assert_accessible(page)

    # 12 seats: the tier from 10 seats, 40.00 USD a seat, 480.00 USD in all.
    buy = page.get_by_role("form", name="Buy seats")
    buy.get_by_label("Seats").fill("12")
    buy.get_by_role("button", name="Review price").click()
    review = page.get_by_role("region", name="Your seat pack")
    expect(fact(review, "Program")).to_have_text(program.title)
    expect(fact(review, "Seats")).to_have_text("12")
    expect(fact(review, "Price per seat")).to_contain_text("40.00 USD")
    expect(fact(review, "Price per seat")).to_contain_text("from 10 seats")
    expect(fact(review, "Total")).to_have_text("480.00 USD")
    expect(page.get_by_role("form", name="Buy seats").get_by_label("Seats")).to_have_value("12")
    assert_accessible(page)
    fits_a_phone(page)
    # Nothing is bought by reviewing.
    packs = api.call("GET", f"/api/v1/employers/{employer['id']}/seat-packs", token=manager_token)
    assert packs["seat_packs"] == [], packs

    # The checkout names the employer and charges what the review said.
    review.get_by_role("button", name="Buy 12 seats: 480.00 USD").click()
    expect(page).to_have_url(re.compile(r"/checkout/cs_\w+$"))
    checkout = page.get_by_role("region", name="Checkout")
    expect(fact(checkout, "Billed to")).to_have_text(f"Umbrella {run}")
    expect(fact(checkout, "Seats")).to_have_text("12")
    expect(fact(checkout, "Price per seat")).to_have_text("40.00 USD")
    expect(fact(checkout, "Amount")).to_have_text("480.00 USD")
    assert_accessible(page)
    page.get_by_label("Card number").fill(SUCCEEDING_CARD)
    page.get_by_role("button", name="Pay 480.00 USD").click()
    expect(page).to_have_url(re.compile(rf"/team/{employer['id']}\?bought=[0-9a-f-]{{36}}$"))

    def paid() -> bool:
        listed = api.call(
            "GET", f"/api/v1/employers/{employer['id']}/seat-packs", token=manager_token
        )["seat_packs"]
        return [(p["status"], p["seats"], p["total"]) for p in listed] == [
            ("PAID", 12, {"amount_minor": 48000, "currency": "USD"})
        ]

    eventually(paid, within=ASYNC_DEADLINE_SECONDS, what="the 12-seat pack paid at 480.00 USD")


def test_the_review_refuses_a_program_id_that_is_none_or_not_on_sale(
    context: BrowserContext, page: Page, api: Marketplace
) -> None:
    enable_axe(context)
    program = api.publish_program(volume_tiers=TIERS)
    api.call("POST", f"/api/v1/programs/{program.id}/archive", token=program.provider_token)
    run = uuid.uuid4().hex[:8]
    manager = f"tiers-{run}"
    manager_token = api.token("learner", manager, email=f"{manager}@example.com")
    employer = api.call(
        "POST", "/api/v1/employers", token=manager_token, json={"name": f"Initech {run}"}
    )
    page.goto("/")
    sign_in_as_learner(page, manager)
    page.goto(f"/team/{employer['id']}")
    buy = page.get_by_role("form", name="Buy seats")
    buy.get_by_label("Program").fill("abc\x00def")  # refused as typed, never looked up
    buy.get_by_label("Seats").fill("12")
    buy.get_by_role("button", name="Review price").click()
    expect(page.locator("#buy-program_id")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#buy-program_id-error")).not_to_have_text("is not a program on sale")
    expect(page.get_by_role("region", name="Your seat pack")).to_have_count(0)
    page.goto(f"/team/{employer['id']}?program_id={program.id}")
    buy = page.get_by_role("form", name="Buy seats")
    buy.get_by_label("Seats").fill("12")
    buy.get_by_role("button", name="Review price").click()
    expect(page.locator("#buy-program_id")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#buy-program_id-error")).to_have_text("is not a program on sale")
    expect(page.get_by_role("region", name="Your seat pack")).to_have_count(0)
    assert_accessible(page)
