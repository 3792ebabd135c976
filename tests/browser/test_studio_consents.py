"""The studio's Consents page in a real browser against the real system: provider A's
draft pathways name provider B's program; B's owner signs in, finds the requests under
"Consents", grants one (A can then publish it) and refuses another (A cannot), withdraws
the grant (A's published pathway is archived), and a decision that someone else made
first is refused with the catalog's reason. Every page passes axe-core."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import BrowserContext, Page, expect

from tests.browser.a11y import assert_accessible, enable_axe
from tests.browser.conftest import Marketplace, SeededProgram
from tests.browser.test_studio_members import _sign_in_as_staff


def _pathway(api: Marketplace, a: SeededProgram, b: SeededProgram, title: str) -> dict[str, Any]:
    return api.call(
        "POST",
        "/api/v1/pathways",
        token=a.provider_token,
        json={
            "title": title,
            "program_ids": [a.id, b.id],
            "achievement": {
                "name": f"{title} badge",
                "description": "Two providers, one credential.",
                "criteria": "Earned both programs.",
            },
        },
        expect=(201,),
    )


def _publish(api: Marketplace, a: SeededProgram, pathway_id: str) -> int:
    response = api.http.post(
        f"/api/v1/pathways/{pathway_id}/publish",
        headers={"authorization": f"Bearer {a.provider_token}"},
    )
    return response.status_code


def test_a_provider_grants_refuses_and_withdraws_consent_in_the_studio(
    context: BrowserContext, page: Page, api: Marketplace
) -> None:
    enable_axe(context)
    a, b = api.publish_program(), api.publish_program()
    run = uuid.uuid4().hex[:8]
    granted = _pathway(api, a, b, f"Granted path {run}")
    refused = _pathway(api, a, b, f"Refused path {run}")
    raced = _pathway(api, a, b, f"Raced path {run}")
    owner = f"consent-owner-{run}"
    api.call(
        "POST",
        f"/api/v1/providers/{b.provider_id}/members",
        token=api.admin_token,
        json={"subject": owner, "role": "OWNER"},
        expect=(201,),
    )

    _sign_in_as_staff(page, owner)
    expect(page).to_have_url(re.compile(rf"/studio/{b.provider_id}$"))
    page.get_by_role("link", name="Consents").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Consents")
    incoming = page.get_by_role("table", name="Requests to you")
    for pathway in (granted, refused, raced):
        row = incoming.get_by_role("row").filter(has_text=pathway["title"])
        expect(row).to_contain_text(a.provider_name)
        expect(row).to_contain_text("Pending")
    expect(page.get_by_text("Your pathways name no other provider's program.")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("button", name=f"Grant: {b.title} in {granted['title']}").click()
    expect(page.get_by_role("status")).to_have_text("Granted.")
    row = page.get_by_role("table", name="Requests to you").get_by_role("row")
    expect(row.filter(has_text=granted["title"])).to_contain_text("Granted")
    assert_accessible(page)
    assert _publish(api, a, granted["id"]) == 200

    page.get_by_role("button", name=f"Refuse: {b.title} in {refused['title']}").click()
    expect(page.get_by_role("status")).to_have_text("Refused.")
    assert _publish(api, a, refused["id"]) == 409

    # Someone else (an admin) refuses while the page is open: the Grant button is stale.
    consent_id = next(
        c["id"]
        for c in api.call(
            "GET",
            f"/api/v1/providers/{b.provider_id}/pathway-consents",
            token=b.provider_token,
        )["consents"]
        if c["pathway_id"] == raced["id"]
    )
    api.call("POST", f"/api/v1/pathway-consents/{consent_id}/refuse", token=api.admin_token)
    page.get_by_role("button", name=f"Grant: {b.title} in {raced['title']}").click()
    expect(page.get_by_role("alert")).to_contain_text("PENDING")
    assert_accessible(page)

    # Withdrawing archives A's published pathway.
    page.goto(f"/studio/{b.provider_id}/consents")
    page.get_by_role("button", name=f"Withdraw: {b.title} in {granted['title']}").click()
    expect(page.get_by_role("status")).to_have_text("Withdrawn.")
    row = page.get_by_role("table", name="Requests to you").get_by_role("row")
    expect(row.filter(has_text=granted["title"])).to_contain_text("(archived)")
    after = api.call("GET", f"/api/v1/pathways/{granted['id']}", token=a.provider_token)
    assert after["status"] == "ARCHIVED"
    assert_accessible(page)

    # B's owner is not A's staff: A's consents are not theirs to see.
    response = page.goto(f"/studio/{a.provider_id}/consents")
    assert response is not None
    assert response.status == 403
    expect(page.get_by_role("main")).not_to_contain_text(granted["title"])
