"""`upskill demo`: the whole journey over the gateway's public HTTP API.

provider and program -> publish -> learner enrolls -> pays on the local checkout page ->
enrollment ACTIVE -> provider completes it -> credential issued -> decoded and verified.
The e2e tests call run_journey() too.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

SUCCEEDING_CARD = "4242424242424242"
# The demo's one provider, reused by every run (see _journey).
DEMO_PROVIDER_NAME = "Demo Academy"
POLL_INTERVAL_SECONDS = 0.2
POLL_DEADLINE_SECONDS = 20.0
TERMINAL_FAILURES = {"EXPIRED", "CANCELLED", "REFUNDED"}


class JourneyError(RuntimeError):
    """A step of the journey failed: which one, why, and the response body if any."""

    def __init__(self, step: str, problem: str, body: Any = None) -> None:
        detail = f"step '{step}' failed: {problem}"
        if body is not None:
            rendered = body if isinstance(body, str) else json.dumps(body, indent=2)
            detail += f"\n{rendered}"
        super().__init__(detail)
        self.step = step
        self.problem = problem
        self.body = body


@dataclass
class JourneyResult:
    provider_id: str
    program_id: str
    enrollment_id: str
    payment_id: str
    credential_id: str
    jwt: str
    header: dict[str, Any]
    claims: dict[str, Any]
    verification: dict[str, Any]
    tokens: dict[str, str] = field(default_factory=dict)


def demo_program() -> dict[str, Any]:
    return {
        "title": "Practical Kubernetes",
        "summary": "Deploy, scale and debug real workloads on Kubernetes.",
        "description": (
            "Six hands-on labs: pods and deployments, services and ingress, config and "
            "secrets, autoscaling, observability and a final troubleshooting challenge."
        ),
        "skills": ["kubernetes", "containers", "devops"],
        "duration_hours": 12,
        "price": {"amount_minor": 4900, "currency": "USD"},
        "capacity": 100,
        "credential": {
            "name": "Kubernetes Practitioner",
            "description": "Can deploy, scale and troubleshoot applications on Kubernetes.",
            "criteria": "Completed all six labs and passed the troubleshooting challenge.",
            "issuance": "ON_COMPLETION",
            "valid_for_days": 365,
        },
    }


def decode_jws(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a compact JWS, without verifying it (verification is the
    gateway's job, shown by the verify step)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError(f"not a compact JWS: {len(parts)} parts")

    def part(text: str) -> dict[str, Any]:
        value = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if not isinstance(value, dict):
            raise ValueError("JWS part is not a JSON object")
        return value

    return part(parts[0]), part(parts[1])


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:2000]


class _Api:
    def __init__(self, client: httpx.Client, say: Callable[[str], None]) -> None:
        self.client = client
        self.say = say

    def call(
        self,
        step: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: Any = None,
        expect: tuple[int, ...] = (200, 201),
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        all_headers = dict(headers or {})
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        try:
            response = self.client.request(method, path, json=json_body, headers=all_headers)
        except httpx.HTTPError as exc:
            raise JourneyError(step, f"{method} {path}: {exc!r}") from exc
        if response.status_code not in expect:
            raise JourneyError(
                step, f"{method} {path} returned {response.status_code}", _body(response)
            )
        body = _body(response)
        if not isinstance(body, dict):
            raise JourneyError(step, f"{method} {path} did not return a JSON object", body)
        return body

    def token(self, step: str, **claims: str) -> str:
        body = self.call(step, "POST", "/api/v1/dev/tokens", json_body=claims)
        token = body.get("token")
        if not isinstance(token, str) or not token:
            raise JourneyError(step, "no token in the response", body)
        return token

    def poll_enrollment(
        self,
        step: str,
        enrollment_id: str,
        token: str,
        done: Callable[[dict[str, Any]], bool],
        deadline_seconds: float,
    ) -> dict[str, Any]:
        deadline = time.monotonic() + deadline_seconds
        while True:
            enrollment = self.call(step, "GET", f"/api/v1/enrollments/{enrollment_id}", token=token)
            if done(enrollment):
                return enrollment
            if enrollment.get("status") in TERMINAL_FAILURES:
                raise JourneyError(step, f"enrollment ended {enrollment['status']}", enrollment)
            if time.monotonic() >= deadline:
                raise JourneyError(
                    step, f"still not there after {deadline_seconds:.0f}s", enrollment
                )
            time.sleep(POLL_INTERVAL_SECONDS)


def _require(step: str, body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise JourneyError(step, f"the response has no {key}", body)
    return value


def run_journey(
    base_url: str,
    *,
    say: Callable[[str], None] = print,
    client: httpx.Client | None = None,
    deadline_seconds: float = POLL_DEADLINE_SECONDS,
) -> JourneyResult:
    """Walk the journey against the gateway at `base_url`; raises JourneyError at the
    first failing step. Each run has a fresh learner; the provider is found again by its
    name and earlier demo programs are archived, so repeated runs pile nothing up."""
    base_url = base_url.rstrip("/")
    run = uuid.uuid4().hex[:8]
    local = urlsplit(base_url).hostname in ("127.0.0.1", "localhost", "::1")
    own_client = client is None
    http = client or httpx.Client(base_url=base_url, timeout=15, trust_env=not local)
    api = _Api(http, say)
    try:
        return _journey(api, base_url, run, deadline_seconds)
    finally:
        if own_client:
            http.close()


def _journey(api: _Api, base_url: str, run: str, deadline: float) -> JourneyResult:
    say = api.say
    tokens: dict[str, str] = {}

    step = "admin token"
    tokens["admin"] = api.token(step, role="admin", sub=f"demo-admin-{run}")
    say(f"1. {step}: POST /api/v1/dev/tokens -> ok")

    step = "create provider"
    # One demo provider however often the demo runs: found by its name, made once.
    found = api.call(
        step,
        "GET",
        "/api/v1/providers?" + urlencode({"name": DEMO_PROVIDER_NAME}),
        token=tokens["admin"],
    )
    providers = found.get("providers") or []
    if providers and isinstance(providers[0], dict):
        provider = providers[0]
        made = "reused"
    else:
        provider = api.call(
            step,
            "POST",
            "/api/v1/providers",
            token=tokens["admin"],
            json_body={
                "name": DEMO_PROVIDER_NAME,
                "website": "https://academy.example",
                "email": "hello@academy.example",
            },
            expect=(201,),
        )
        made = "created"
    provider_id = _require(step, provider, "id")
    say(f"2. {step}: {provider.get('name')} -> {provider_id} ({made})")

    step = "provider token"
    tokens["provider"] = api.token(
        step, role="provider", sub="demo-provider", provider_id=provider_id
    )
    say(f"3. {step}: ok")

    step = "retire earlier demo programs"
    # The storefront shows this run's program, not one per run: earlier ones are archived
    # (their learners and credentials stay as they were).
    retired = 0
    earlier = api.call(
        step,
        "GET",
        "/api/v1/programs?" + urlencode({"provider_id": provider_id, "page_size": 100}),
    )
    for old in earlier.get("programs") or []:
        if isinstance(old, dict) and old.get("title") == demo_program()["title"]:
            api.call(
                step, "POST", f"/api/v1/programs/{old['id']}/archive", token=tokens["provider"]
            )
            retired += 1
    if retired:
        say(f"   {step}: {retired} archived")

    step = "create program"
    program = api.call(
        step,
        "POST",
        "/api/v1/programs",
        token=tokens["provider"],
        json_body=demo_program(),
        expect=(201,),
    )
    program_id = _require(step, program, "id")
    price = program.get("price") or {}
    say(
        f"4. {step}: '{program.get('title')}' {program_id} "
        f"({program.get('status')}, {price.get('amount_minor')} {price.get('currency')})"
    )

    step = "publish program"
    published = api.call(
        step, "POST", f"/api/v1/programs/{program_id}/publish", token=tokens["provider"]
    )
    if published.get("status") != "PUBLISHED":
        raise JourneyError(step, "the program is not PUBLISHED", published)
    say(f"5. {step}: PUBLISHED")

    step = "learner token"
    learner = f"demo-learner-{run}"
    tokens["learner"] = api.token(step, role="learner", sub=learner, email=f"{learner}@example.com")
    say(f"6. {step}: {learner}")

    step = "enroll"
    enrollment = api.call(
        step,
        "POST",
        "/api/v1/enrollments",
        token=tokens["learner"],
        json_body={"program_id": program_id},
        headers={"Idempotency-Key": f"demo-{run}"},
        expect=(201,),
    )
    enrollment_id = _require(step, enrollment, "id")
    if enrollment.get("status") != "PENDING_PAYMENT":
        raise JourneyError(step, "expected PENDING_PAYMENT for a paid program", enrollment)
    checkout_url = urljoin(base_url + "/", _require(step, enrollment, "checkout_url"))
    say(f"7. {step}: {enrollment_id} PENDING_PAYMENT, pay at {checkout_url}")

    step = "pay"
    try:
        paid = api.client.post(
            checkout_url, data={"card_number": SUCCEEDING_CARD}, follow_redirects=False
        )
    except httpx.HTTPError as exc:
        raise JourneyError(step, f"POST {checkout_url}: {exc!r}") from exc
    if paid.status_code >= 400:
        raise JourneyError(step, f"checkout returned {paid.status_code}", _body(paid))
    say(f"8. {step}: card {SUCCEEDING_CARD} -> {paid.status_code}")

    step = "wait for ACTIVE"
    active = api.poll_enrollment(
        step,
        enrollment_id,
        tokens["learner"],
        lambda e: e.get("status") in ("ACTIVE", "COMPLETED"),
        deadline,
    )
    payment_id = str(active.get("payment_id") or "")
    say(f"9. {step}: ACTIVE (payment {payment_id or '?'})")

    step = "complete"
    completed = api.call(
        step,
        "POST",
        f"/api/v1/enrollments/{enrollment_id}/complete",
        token=tokens["provider"],
        json_body={},
    )
    if completed.get("status") != "COMPLETED":
        raise JourneyError(step, "the enrollment is not COMPLETED", completed)
    say(f"10. {step}: COMPLETED")

    step = "wait for the credential"
    issued = api.poll_enrollment(
        step, enrollment_id, tokens["learner"], lambda e: bool(e.get("credential_id")), deadline
    )
    credential_id = str(issued["credential_id"])
    say(f"11. {step}: {credential_id}")

    step = "fetch the credential"
    credential = api.call(step, "GET", f"/api/v1/credentials/{credential_id}")
    jwt = _require(step, credential, "jwt")
    try:
        header, claims = decode_jws(jwt)
    except ValueError as exc:
        raise JourneyError(step, f"the credential is not a compact JWS: {exc}", jwt) from exc
    say(f"12. {step}: {credential.get('status')}, header {json.dumps(header)}; claims:")
    say(json.dumps(claims, indent=2, sort_keys=True))

    step = "verify the credential"
    verification = api.call(
        step, "POST", "/api/v1/credentials/verify", json_body={"credential": jwt}
    )
    say(f"13. {step}: verified={verification.get('verified')} status={verification.get('status')}")
    checks = verification.get("checks")
    if checks:
        say(json.dumps(checks, indent=2, sort_keys=True))
    if verification.get("verified") is not True or verification.get("status") != "VALID":
        raise JourneyError(step, "the credential did not verify as VALID", verification)

    return JourneyResult(
        provider_id=provider_id,
        program_id=program_id,
        enrollment_id=enrollment_id,
        payment_id=payment_id,
        credential_id=credential_id,
        jwt=jwt,
        header=header,
        claims=claims,
        verification=verification,
        tokens=tokens,
    )
