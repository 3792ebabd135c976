"""Object-level authorization (OWASP API1, "BOLA") checked by an outside tool: schemathesis'
object_level_authorization check, run by its own CLI over the live gateway, with peers whose
objects must stay private to each other (a Web Fuzzing Commons auth document).

It learns which objects a peer owns from what that peer created or what a listing showed it
and no other peer, replays the owner's successful reads as every other peer, and fails
(ST402) when one of them gets the object. Peers are grouped by role: two learners, and two
providers (a provider legitimately reads its learners' enrollments, so a learner and a
provider are no such pair). Each peer owns objects before the run: learners an earned
credential, an active and a pending enrollment; providers a draft and a published program.

Negative control (round 12, by hand): with enrollment's GetEnrollment ownership check
removed, the same command reported ST402 on GET /api/v1/enrollments/{enrollment_id} from its
coverage phase; on the real code it reports nothing.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.devstack.stack import Stack
from tests.e2e.test_saga_paths import Market
from tests.polling import eventually

FREE = {"amount_minor": 0, "currency": "USD"}
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture
def market(stack: Stack) -> Iterator[Market]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30, trust_env=False) as http:
        yield Market(http)


def _learner_with_objects(market: Market, name: str) -> dict[str, str]:
    who = market.token(role="learner", sub=f"{name}-{uuid.uuid4().hex[:8]}", email=f"{name}@x.io")
    earned = market.enroll(who, market.program(price=FREE, issuance="ON_PAYMENT")["id"])
    assert earned.status_code == 201, earned.text
    eventually(
        lambda: market.get(who, earned.json()["id"])["credential_id"],
        what=f"{name}'s credential",
    )
    pending = market.enroll(who, market.program()["id"])  # paid: waits for its checkout
    assert pending.status_code == 201, pending.text
    return who


def _provider_with_objects(market: Market, admin: dict[str, str], name: str) -> dict[str, str]:
    created = market.http.post("/api/v1/providers", json={"name": f"{name} Academy"}, headers=admin)
    assert created.status_code == 201, created.text
    who = market.token(
        role="provider", sub=f"{name}-{uuid.uuid4().hex[:8]}", provider_id=created.json()["id"]
    )
    body = {
        "title": f"{name}'s draft",
        "price": {"amount_minor": 900, "currency": "EUR"},
        "credential": {"name": "Draft", "description": "Unpublished", "criteria": "None yet"},
    }
    draft = market.http.post("/api/v1/programs", json=body, headers=who)
    assert draft.status_code == 201, draft.text
    published = market.http.post("/api/v1/programs", json=body | {"title": "Out"}, headers=who)
    assert published.status_code == 201, published.text
    shown = market.http.post(f"/api/v1/programs/{published.json()['id']}/publish", headers=who)
    assert shown.status_code == 200, shown.text
    return who


def _peers(market: Market, group: str) -> dict[str, dict[str, str]]:
    if group == "learners":
        return {name: _learner_with_objects(market, name) for name in ("alice", "bob")}
    admin = market.token(role="admin", sub=f"admin-{uuid.uuid4().hex[:8]}")
    return {name: _provider_with_objects(market, admin, name) for name in ("carol", "dave")}


@pytest.mark.parametrize("group", ["learners", "providers"])
def test_no_peer_reads_another_peers_objects(
    market: Market, stack: Stack, tmp_path: Path, group: str
) -> None:
    if not SCHEMATHESIS.exists():
        pytest.skip(f"the schemathesis CLI is not installed beside {sys.executable}")
    peers = _peers(market, group)
    auth = {
        "auth": [
            {
                "name": name,
                "fixedHeaders": [{"name": "Authorization", "value": headers["authorization"]}],
            }
            for name, headers in peers.items()
        ]
    }
    (tmp_path / "auth.json").write_text(json.dumps(auth))
    (tmp_path / "schemathesis.toml").write_text(
        f'[auth.wfc]\npath = "auth.json"\npeers = {json.dumps(list(peers))}\n'
    )
    run = subprocess.run(
        [
            str(SCHEMATHESIS),
            "run",
            f"{stack.gateway_url}/openapi.json",
            *("--checks", "object_level_authorization"),
            # Its coverage phase replays every operation with the ids responses gave it;
            # it is the phase that caught the negative control's leak.
            *("--phases", "coverage"),
            *("--exclude-path", "/webhooks/stripe"),
            *("--exclude-path-regex", "^/api/v1/dev/"),  # mints any token: no peer's
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert "ST402" not in run.stdout, report
    assert run.returncode == 0, report
    # Not vacuous: the coverage phase ran (and passed) the API's operations.
    ran = re.search(r"Coverage \(in [^)]*\)\s+\S+\s+(\d+) passed", run.stdout)
    assert ran is not None, report
    assert int(ran[1]) >= 50, report
