"""Sign-in in a real browser through the real OpenID provider (oidc-provider, with the
whole system in AUTH_MODE=oidc): a learner signs in on the provider's own pages, buys a
program, and signs out of both the marketplace and the provider."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from services.devstack.demo import SUCCEEDING_CARD
from services.devstack.stack import Stack
from tests.browser.conftest import ACTION_TIMEOUT_MS
from tests.oidc.fixtures import PROGRAM, bearer
from tests.oidc.server import OidcProvider

STATUS = 'dt:text-is("Status") + dd'


@pytest.fixture
def oidc_page(browser: Browser, oidc_stack: Stack) -> Iterator[Page]:
    context: BrowserContext = browser.new_context(base_url=oidc_stack.gateway_url)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_learner_signs_in_buys_and_signs_out(
    oidc_page: Page, oidc_stack: Stack, provider: OidcProvider, staffed: dict[str, str]
) -> None:
    api = oidc_stack.gateway_url + "/api/v1"
    olga = bearer(provider, "olga") | {"x-upskill-provider": staffed["provider_id"]}
    program = httpx.post(f"{api}/programs", json=PROGRAM, headers=olga).json()
    httpx.post(f"{api}/programs/{program['id']}/publish", headers=olga).raise_for_status()
    page = oidc_page

    page.goto(f"/programs/{program['id']}")
    expect(page.get_by_text("Development mode")).to_have_count(0)
    expect(page.get_by_role("button", name="Enroll")).to_have_count(0)
    page.get_by_role("link", name="Sign in").click()
    # The provider's own sign-in page, then its consent page.
    expect(page).to_have_url(re.compile(re.escape(provider.issuer) + r"/interaction/"))
    page.locator('input[name="login"]').fill("alice")
    page.locator('input[name="password"]').fill("any password")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()

    expect(page).to_have_url(re.compile(rf"/programs/{program['id']}$"))
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(
        "Signed in as alice (learner)"
    )
    page.get_by_role("button", name="Enroll").click()
    expect(page).to_have_url(re.compile(r"/checkout/cs_\w+$"))
    page.get_by_label("Card number").fill(SUCCEEDING_CARD)
    page.get_by_role("button", name="Pay 49.00 USD").click()
    expect(page).to_have_url(re.compile(r"/enrollments/[0-9a-f-]{36}(\?paid=1)?$"))
    expect(page.locator(STATUS)).to_have_text("Active", timeout=15_000)

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="Yes, sign me out").click()
    # Back on the storefront (the provider echoes the logout request's `state`).
    expect(page).to_have_url(re.compile(re.escape(oidc_stack.gateway_url) + r"/(\?state=[\w-]+)?$"))
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    # The provider's session ended too: signing in asks for the password again.
    page.get_by_role("link", name="Sign in").click()
    expect(page.locator('input[name="password"]')).to_be_visible()
