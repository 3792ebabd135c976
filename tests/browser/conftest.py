"""Browser fixtures: the whole system as real processes, a headless Chromium driving the
server-rendered pages, and a small client of the public HTTP API for everything the test
does "off screen" (the provider's and the admin's side).

Chromium is Debian's (/usr/bin/chromium, or BROWSER_EXECUTABLE): Playwright never
downloads a browser here.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from services.devstack.demo import SUCCEEDING_CARD, demo_program
from services.devstack.stack import Stack
from tests.polling import eventually

CHROMIUM = os.environ.get("BROWSER_EXECUTABLE", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Bounded waits: a step that takes longer than this is a failure, not something to sleep on.
ACTION_TIMEOUT_MS = 10_000
EXPECT_TIMEOUT_MS = 10_000
ASYNC_DEADLINE_SECONDS = 20.0


# --------------------------------------------------------------------------- the system


@dataclass(frozen=True)
class SeededProgram:
    """A provider and one of its programs, PUBLISHED, made through the API."""

    id: str
    title: str
    achievement: str
    provider_id: str
    provider_name: str
    provider_token: str


@dataclass(frozen=True)
class Purchase:
    """A learner's paid, ACTIVE enrollment, bought through the API."""

    enrollment_id: str
    learner: str
    learner_token: str


class Marketplace:
    """The gateway's public HTTP API as the tests' admin, providers and learners use it."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.admin_token = self.token("admin", f"browser-admin-{uuid.uuid4().hex[:8]}")

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str = "",
        json: Any = None,
        expect: tuple[int, ...] = (200, 201),
    ) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = self.http.request(method, path, json=json, headers=headers)
        assert response.status_code in expect, (
            f"{method} {path} -> {response.status_code}: {response.text[:2000]}"
        )
        body = response.json()
        assert isinstance(body, dict), body
        return body

    def token(self, role: str, sub: str, **claims: str) -> str:
        body = self.call("POST", "/api/v1/dev/tokens", json={"role": role, "sub": sub, **claims})
        return str(body["token"])

    def publish_program(self, volume_tiers: list[dict[str, int]] | None = None) -> SeededProgram:
        run = uuid.uuid4().hex[:8]
        provider = self.call(
            "POST",
            "/api/v1/providers",
            token=self.admin_token,
            json={"name": f"Browser Academy {run}", "website": "https://academy.example"},
            expect=(201,),
        )
        provider_token = self.token(
            "provider", f"browser-provider-{run}", provider_id=provider["id"]
        )
        spec = demo_program()
        spec["title"] = f"{spec['title']} {run}"
        if volume_tiers is not None:
            spec["volume_tiers"] = volume_tiers
        program = self.call(
            "POST", "/api/v1/programs", token=provider_token, json=spec, expect=(201,)
        )
        published = self.call(
            "POST", f"/api/v1/programs/{program['id']}/publish", token=provider_token
        )
        assert published["status"] == "PUBLISHED", published
        return SeededProgram(
            id=program["id"],
            title=spec["title"],
            achievement=spec["credential"]["name"],
            provider_id=provider["id"],
            provider_name=provider["name"],
            provider_token=provider_token,
        )

    def buy(self, program: SeededProgram) -> Purchase:
        """Enroll a fresh learner and pay on the local checkout page; until ACTIVE."""
        learner = f"learner-{uuid.uuid4().hex[:8]}"
        token = self.token("learner", learner, email=f"{learner}@example.com")
        enrollment = self.call(
            "POST", "/api/v1/enrollments", token=token, json={"program_id": program.id}
        )
        paid = self.http.post(
            enrollment["checkout_url"],
            data={"card_number": SUCCEEDING_CARD},
            follow_redirects=False,
        )
        assert paid.status_code == 303, paid.text[:2000]
        self.wait_for_enrollment(
            enrollment["id"], token, lambda e: e["status"] in ("ACTIVE", "COMPLETED")
        )
        return Purchase(enrollment["id"], learner, token)

    def wait_for_enrollment(
        self, enrollment_id: str, token: str, done: Callable[[dict[str, Any]], bool]
    ) -> dict[str, Any]:
        return eventually(
            lambda: self.call("GET", f"/api/v1/enrollments/{enrollment_id}", token=token),
            until=done,
            within=ASYNC_DEADLINE_SECONDS,
            interval=0.1,
            what=f"enrollment {enrollment_id} to get there",
        )


@pytest.fixture(scope="session")
def api(stack: Stack) -> Iterator[Marketplace]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as http:
        yield Marketplace(http)


@pytest.fixture
def program(api: Marketplace) -> SeededProgram:
    return api.publish_program()


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):  # CI installs it: a missing browser there is a failure
            pytest.fail(f"no Chromium at {CHROMIUM}")
        pytest.skip(
            f"no Chromium at {CHROMIUM}: apt-get install chromium, or set BROWSER_EXECUTABLE"
        )
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Browser, stack: Stack) -> Iterator[BrowserContext]:
    """A fresh profile (no cookies) whose relative URLs go to the gateway."""
    ctx = browser.new_context(base_url=stack.gateway_url, locale="en-GB")
    ctx.set_default_timeout(ACTION_TIMEOUT_MS)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: BrowserContext, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Page]:
    tab = context.new_page()
    yield tab
    report = request.node.stash.get(_CALL_REPORT, None)
    if report is not None and report.failed:
        shot = tmp_path / "failure.png"
        tab.screenshot(path=str(shot), full_page=True)
        print(f"\nbrowser at failure: {tab.url}\nscreenshot: {shot}")


def sign_in_as_learner(page: Page, learner: str) -> None:
    """Through the dev sign-in form in the page header; back on the same page after."""
    page.get_by_text("Sign in (dev)").click()
    page.get_by_label("Role").select_option("learner")
    page.get_by_label("User id").fill(learner)
    page.get_by_label("Email").fill(f"{learner}@example.com")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("navigation", name="Account")).to_contain_text(
        f"Signed in as {learner} (learner)"
    )


_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep the call phase's report on the item, for `page` to screenshot a failure."""
    report = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report
