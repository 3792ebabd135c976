"""The site as a phone, another origin and an offline laptop see it: the main pages fit a
390 px screen with no horizontal scroll and pass axe-core; other origins may read the
issuer keys and status lists (and nothing else); the API docs load with no network but
ours; errors keep the signed-in header; the learner pages refuse hostile input."""

from __future__ import annotations

import base64
import json
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from services.devstack.demo import demo_program
from services.devstack.stack import Stack
from services.gateway.security import SESSION_COOKIE
from tests.browser.a11y import PHONE, assert_accessible, enable_axe, horizontal_overflow
from tests.browser.conftest import (
    ACTION_TIMEOUT_MS,
    Marketplace,
    SeededProgram,
    sign_in_as_learner,
)
from tests.e2e.test_refunds import db_value


def test_main_pages_fit_a_phone_and_pass_axe(
    browser: Browser, stack: Stack, api: Marketplace, program: SeededProgram, tmp_path: Path
) -> None:
    context = browser.new_context(base_url=stack.gateway_url, viewport=PHONE, locale="en-GB")
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    enable_axe(context)
    try:
        page = context.new_page()
        purchase = api.buy(program)
        api.call(
            "POST",
            f"/api/v1/enrollments/{purchase.enrollment_id}/complete",
            token=program.provider_token,
            json={},
        )
        done = api.wait_for_enrollment(
            purchase.enrollment_id,
            purchase.learner_token,
            lambda e: bool(e.get("credential_id")),
        )
        page.goto("/")
        sign_in_as_learner(page, purchase.learner)
        pending = api.call(
            "POST",
            "/api/v1/enrollments",
            token=purchase.learner_token,
            json={"program_id": api.publish_program().id},
        )
        paths = [
            "/",
            f"/programs/{program.id}",
            "/learning",
            f"/enrollments/{purchase.enrollment_id}",
            f"/learning/receipts/{done['payment_id']}",
            f"/credentials/{done['credential_id']}",
            "/verify",
            urlparse(pending["checkout_url"]).path,
            f"/issuers/{program.provider_id}",
            "/no-such-page",
        ]
        for number, path in enumerate(paths):
            page.goto(path)
            page.screenshot(path=str(tmp_path / f"phone-{number:02d}.png"), full_page=True)
            assert horizontal_overflow(page) == 0, f"{path} is wider than a 390 px screen"
            assert_accessible(page)
            # Every page, the error page too, keeps the signed-in header.
            header = page.get_by_role("navigation", name="Account")
            expect(header.get_by_role("link", name="My learning")).to_be_visible()
    finally:
        context.close()


def test_issuer_keys_and_status_lists_are_readable_from_another_origin(
    page: Page, stack: Stack, api: Marketplace, program: SeededProgram
) -> None:
    # Two origins for one server: the page is on "localhost", the fetches go to 127.0.0.1.
    ours = urlparse(stack.gateway_url)
    assert ours.hostname == "127.0.0.1", stack.gateway_url
    # A page of ours without a CSP (JSON), so that only CORS decides what the page may read.
    page.goto(f"http://localhost:{ours.port}/healthz")
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
    list_url = _status_list_url(api.call("GET", f"/api/v1/credentials/{credential_id}")["jwt"])

    fetch = """async (url) => {
        try { const r = await fetch(url); return {ok: r.ok, body: (await r.text()).slice(0, 40)}; }
        catch (e) { return {ok: false, error: String(e)}; }
    }"""
    jwks = page.evaluate(fetch, f"{stack.gateway_url}/.well-known/jwks.json")
    assert jwks["ok"], jwks
    assert '"keys"' in jwks["body"]
    status = page.evaluate(fetch, list_url)
    assert status["ok"], status
    # Nothing else is opened up: the API stays same-origin.
    private = page.evaluate(fetch, f"{stack.gateway_url}/api/v1/credentials/{credential_id}")
    assert not private["ok"], private
    assert "Failed to fetch" in private["error"]


def _status_list_url(jwt: str) -> str:
    payload = jwt.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["credentialStatus"]["statusListCredential"])


def test_api_docs_work_with_no_network_but_ours(context: BrowserContext, stack: Stack) -> None:
    origin = stack.gateway_url.rstrip("/")
    elsewhere: list[str] = []

    def only_ours(route: Route) -> None:
        if route.request.url.startswith(origin):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_ours)
    page = context.new_page()
    page.goto("/docs")
    # Swagger UI parses 1.5 MB of script and the whole OpenAPI document first: on a loaded
    # machine that alone can take longer than one page step.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "Upskill gateway", timeout=30_000
    )
    expect(page.get_by_text("/api/v1/enrollments", exact=True).first).to_be_visible()
    assert elsewhere == []


def test_favicon_and_status_badges(page: Page, api: Marketplace) -> None:
    page.goto("/")
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert icon == "/static/favicon.svg"
    response = page.request.get("/favicon.ico")
    assert response.ok
    assert response.headers["content-type"].startswith("image/svg+xml")


# ------------------------------------------------------------------ hostile input


@pytest.mark.parametrize(
    "path",
    [
        "/learning/receipts/not-a-uuid",
        f"/learning/receipts/{uuid.uuid4()}",
        f"/enrollments/{uuid.uuid4()}/status",
        "/enrollments/%00/status",
        "/programs/not-a-uuid/badge.svg",
        f"/programs/{uuid.uuid4()}/badge.svg",
        f"/credentials/{uuid.uuid4()}/credential.json",
    ],
)
def test_unknown_or_malformed_ids_are_404(api: Marketplace, path: str) -> None:
    token = api.token("learner", f"edge-{uuid.uuid4().hex[:8]}")
    response = api.http.get(path, cookies={SESSION_COOKIE: token})
    assert response.status_code == 404, (path, response.status_code, response.text[:300])


def test_someone_elses_receipt_and_status_do_not_exist(
    api: Marketplace, program: SeededProgram
) -> None:
    purchase = api.buy(program)
    payment_id = api.call(
        "GET", f"/api/v1/enrollments/{purchase.enrollment_id}", token=purchase.learner_token
    )["payment_id"]
    stranger = api.token("learner", f"stranger-{uuid.uuid4().hex[:8]}")
    for path in (
        f"/learning/receipts/{payment_id}",
        f"/enrollments/{purchase.enrollment_id}/status",
    ):
        response = api.http.get(path, cookies={SESSION_COOKIE: stranger})
        assert response.status_code in (403, 404), (path, response.status_code)
        assert program.title not in response.text
    owner = api.http.get(
        f"/enrollments/{purchase.enrollment_id}/status",
        cookies={SESSION_COOKIE: purchase.learner_token},
    )
    assert owner.json() == {"status": "ACTIVE", "credential_id": None}
    assert owner.headers["cache-control"] == "no-store"


def test_learner_pages_need_a_session(api: Marketplace) -> None:
    for path in ("/learning", f"/enrollments/{uuid.uuid4()}/status"):
        response = api.http.get(path)
        assert response.status_code == 401, path


def test_learning_pages_through_every_enrollment(
    page: Page, api: Marketplace, program: SeededProgram
) -> None:
    """Page 2 and on: more enrollments than one page holds, each listed exactly once."""
    learner = f"many-{uuid.uuid4().hex[:8]}"
    token = api.token("learner", learner, email=f"{learner}@example.com")
    titles = set()
    for _ in range(12):  # LEARNING_PAGE_SIZE is 10
        other = api.publish_program()
        api.call("POST", "/api/v1/enrollments", token=token, json={"program_id": other.id})
        titles.add(other.title)
    page.goto("/")
    sign_in_as_learner(page, learner)
    page.goto("/learning")
    seen: list[str] = []
    for _ in range(5):
        rows = page.get_by_role("list", name="Enrollments").get_by_role("heading", level=3)
        seen.extend(rows.all_inner_texts())
        more = page.get_by_role("link", name="More enrollments")
        if more.count() == 0:
            break
        more.click()
    assert sorted(seen) == sorted(titles)


def test_profile_name_is_checked_by_its_owner(api: Marketplace) -> None:
    token = api.token("learner", f"named-{uuid.uuid4().hex[:8]}")
    cookies = {SESSION_COOKIE: token}
    headers: dict[str, str] = {}
    for bad in ("x" * 101, "Ada\x00", "Ada\nLovelace", "\x1b[31mred"):
        response = api.http.post(
            "/learning/profile",
            data={"display_name": bad, "show_name": "on"},
            cookies=cookies,
            headers={**headers, "accept": "text/html"},
        )
        assert response.status_code in (400, 422), (bad, response.status_code)
    ok = api.http.post(
        "/learning/profile",
        data={"display_name": "  Zoë   Ŝtrange  ", "show_name": "on"},
        cookies=cookies,
        headers=headers,
    )
    assert ok.status_code == 303, ok.text[:300]
    page = api.http.get("/learning", cookies=cookies)
    assert 'value="Zoë Ŝtrange"' in page.text


def test_verify_refuses_what_is_not_a_credential(api: Marketplace) -> None:
    headers = {"accept": "text/html"}
    cases = {
        "": 400,
        "hello": 400,
        "a.b.c": 200,  # JWT-shaped: verified, and found malformed
        '{"id": "urn:uuid:00000000-0000-0000-0000-000000000000"}': 400,
        "[1, 2]": 400,
        "x" * 70_000: 422,
    }
    for text, status in cases.items():
        response = api.http.post("/verify", data={"credential": text}, headers=headers)
        assert response.status_code == status, (text[:40], response.status_code)
        if status == 200:
            assert re.search(r"Not valid", response.text)
    huge = api.http.post(
        "/verify",
        files={"file": ("big.jwt", b"a" * 70_000, "application/octet-stream")},
        headers=headers,
    )
    assert huge.status_code == 413
    binary = api.http.post(
        "/verify",
        files={"file": ("x.jwt", b"\xff\xfe\x00", "application/octet-stream")},
        headers=headers,
    )
    assert binary.status_code == 400


def test_the_credential_page_shows_the_name_only_while_the_learner_consents(
    api: Marketplace, program: SeededProgram
) -> None:
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
    cookies = {SESSION_COOKIE: purchase.learner_token}

    def shown() -> bool:
        return "Grace Hopper" in api.http.get(f"/credentials/{credential_id}").text

    def save(show: bool) -> None:
        form = {"display_name": "Grace Hopper", **({"show_name": "on"} if show else {})}
        saved = api.http.post("/learning/profile", data=form, cookies=cookies)
        assert saved.status_code == 303, saved.text[:300]

    save(show=False)
    assert not shown()
    save(show=True)
    assert shown()
    save(show=False)
    assert not shown()
    # Someone else cannot name this learner: a profile is always the caller's own.
    stranger = {SESSION_COOKIE: api.token("learner", f"other-{uuid.uuid4().hex[:8]}")}
    api.http.post(
        "/learning/profile", data={"display_name": "Mallory", "show_name": "on"}, cookies=stranger
    )
    assert "Mallory" not in api.http.get(f"/credentials/{credential_id}").text
    # Staff have no learner profile to set.
    staff = {SESSION_COOKIE: program.provider_token}
    refused = api.http.post("/learning/profile", data={"display_name": "Staff"}, cookies=staff)
    assert refused.status_code == 403


def test_a_badge_outlives_its_program_on_sale_but_a_draft_has_none(
    api: Marketplace, program: SeededProgram
) -> None:
    draft = api.call(
        "POST",
        "/api/v1/programs",
        token=program.provider_token,
        json=demo_program(),
        expect=(201,),
    )
    assert api.http.get(f"/programs/{draft['id']}/badge.svg").status_code == 404
    live = api.http.get(f"/programs/{program.id}/badge.svg")
    assert live.status_code == 200
    assert live.headers["content-type"].startswith("image/svg+xml")
    assert program.achievement in live.text
    api.call("POST", f"/api/v1/programs/{program.id}/archive", token=program.provider_token)
    archived = api.http.get(f"/programs/{program.id}/badge.svg")
    assert archived.status_code == 200
    assert archived.text == live.text


def test_a_refund_is_offered_only_inside_the_window(
    page: Page, stack: Stack, api: Marketplace, program: SeededProgram
) -> None:
    purchase = api.buy(program)
    page.goto("/")
    sign_in_as_learner(page, purchase.learner)
    page.goto("/learning")
    row = page.get_by_role("list", name="Enrollments").get_by_role("listitem")
    expect(row.get_by_role("button", name=re.compile("Request a refund"))).to_be_visible()
    expect(row).to_contain_text(re.compile(r"until \d\d \w{3} \d{4}"))

    # Playwright's sync API holds this thread's event loop: the database call gets its own.
    with ThreadPoolExecutor(1) as aside:
        aside.submit(
            db_value,
            stack,
            "enrollment",
            "UPDATE enrollments SET created_at = now() - interval '15 days' WHERE id = $1",
            purchase.enrollment_id,
        ).result()
    page.reload()
    expect(row).to_contain_text("Active")
    expect(row.get_by_role("button")).to_have_count(0)


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("page_token=not-a-token", 422),
        ("page_token=%00", 422),
        ("credentials_page_token=" + "x" * 201, 422),
        ("message=%F0%9F%92%A5", 200),  # an unknown notice shows nothing
    ],
)
def test_my_learning_refuses_odd_page_tokens(api: Marketplace, query: str, status: int) -> None:
    token = api.token("learner", f"odd-{uuid.uuid4().hex[:8]}")
    response = api.http.get(
        f"/learning?{query}", cookies={SESSION_COOKIE: token}, headers={"accept": "text/html"}
    )
    assert response.status_code == status, response.text[:300]
    # Even the error page keeps the signed-in header.
    assert 'href="/learning"' in response.text


def test_a_double_submitted_cancel_cancels_once(api: Marketplace, program: SeededProgram) -> None:
    learner = f"twice-{uuid.uuid4().hex[:8]}"
    token = api.token("learner", learner, email=f"{learner}@example.com")
    pending = api.call("POST", "/api/v1/enrollments", token=token, json={"program_id": program.id})
    cookies = {SESSION_COOKIE: token}

    def cancel() -> int:
        return api.http.post(
            f"/learning/enrollments/{pending['id']}/cancel", cookies=cookies
        ).status_code

    with ThreadPoolExecutor(4) as pool:
        codes = sorted(pool.map(lambda _: cancel(), range(4)))
    assert 303 in codes, codes
    assert set(codes) <= {303, 409}, codes
    after = api.call("GET", f"/api/v1/enrollments/{pending['id']}", token=token)
    assert after["status"] == "CANCELLED"
