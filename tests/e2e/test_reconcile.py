"""`upskill reconcile` on real services: drift injected straight into one database is
found with its ids (exit 3), and `--repair` re-publishes the lost events until none is left.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.cli.main import main as cli_main
from services.devstack.stack import Stack
from tests.e2e.test_refunds import (
    admin,
    assert_refunded_and_revoked,
    credential,
    db_value,
    paid_enrollment,
    refund,
)
from tests.e2e.test_saga_paths import Market
from tests.polling import eventually


@pytest.fixture
def market(stack: Stack) -> Iterator[Market]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as http:
        yield Market(http)


def reconcile(
    stack: Stack, capsys: pytest.CaptureFixture[str], provider: str, *extra: str
) -> tuple[int, list[dict[str, Any]]]:
    status = cli_main(
        [
            "reconcile",
            "--payments-db",
            stack.database_urls["payments"],
            "--enrollment-db",
            stack.database_urls["enrollment"],
            "--credentials-db",
            stack.database_urls["credentials"],
            "--provider-id",
            provider,
            "--settle-seconds",
            "0",
            "--json",
            *extra,
        ]
    )
    out = capsys.readouterr().out
    return status, [json.loads(line) for line in out.splitlines() if line.strip()]


def test_reconcile_finds_injected_drift_and_repair_fixes_it(
    market: Market, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Three paid enrollments; two of them refunded. Everything agrees.
    lost_activation = paid_enrollment(market)
    provider = lost_activation[1]["provider_id"]
    lost_revocation = paid_enrollment(market)
    lost_refund = paid_enrollment(market)
    for learner, _, enrolled in (lost_revocation, lost_refund):
        assert refund(market, admin(market), enrolled["id"]).status_code == 202
        assert_refunded_and_revoked(market, learner, enrolled)
    assert reconcile(stack, capsys, provider) == (0, [])

    # Drift, one database at a time, as a lost event would leave it.
    db_value(
        stack,
        "enrollment",
        "UPDATE enrollments SET status = 'PENDING_PAYMENT' WHERE id = $1",
        lost_activation[2]["id"],
    )
    db_value(
        stack,
        "credentials",
        "UPDATE credentials SET status = 'ISSUED', revoked_at = NULL, revocation_reason = '' "
        "WHERE id = $1",
        lost_revocation[2]["credential_id"],
    )
    db_value(
        stack,
        "enrollment",
        "UPDATE enrollments SET status = 'ACTIVE' WHERE id = $1",
        lost_refund[2]["id"],
    )

    status, drifts = reconcile(stack, capsys, provider)
    assert status == 3
    found = {(d["kind"], d["enrollment_id"]) for d in drifts}
    assert found == {
        ("paid_not_active", lost_activation[2]["id"]),
        ("refund_without_revocation", lost_revocation[2]["id"]),
        ("refund_not_applied", lost_refund[2]["id"]),
    }
    by_kind = {d["kind"]: d for d in drifts}
    assert by_kind["paid_not_active"]["payment_id"] == lost_activation[2]["payment_id"]
    assert (
        by_kind["refund_without_revocation"]["credential_id"] == lost_revocation[2]["credential_id"]
    )

    status, repaired = reconcile(stack, capsys, provider, "--repair")
    assert status == 3
    assert all(d["repaired"] for d in repaired), repaired

    # The re-published events land; the consumers change only what drifted.
    learner = lost_activation[0]
    eventually(
        lambda: market.get(learner, lost_activation[2]["id"])["status"] == "ACTIVE",
        what="the lost activation applied",
    )
    revoked = eventually(
        lambda: (
            (c := credential(market, lost_revocation[2]["credential_id"]))["status"] == "REVOKED"
            and c
        ),
        what="the lost revocation applied",
    )
    assert revoked["revocation_reason"] == "refunded"
    eventually(
        lambda: market.get(lost_refund[0], lost_refund[2]["id"])["status"] == "REFUNDED",
        what="the lost refund applied",
    )
    eventually(
        lambda: reconcile(stack, capsys, provider) == (0, []), what="no drift left after repair"
    )
    # One credential each, none duplicated by the re-sent events.
    assert (
        db_value(
            stack,
            "credentials",
            "SELECT count(*) FROM credentials WHERE enrollment_id = $1",
            lost_activation[2]["id"],
        )
        == 1
    )


def test_reconcile_without_databases_is_a_clear_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PAYMENTS", "ENROLLMENT", "CREDENTIALS"):
        monkeypatch.delenv(f"{name}_DATABASE_URL", raising=False)
    assert cli_main(["reconcile"]) == 1
    assert "no database for payments, enrollment, credentials" in capsys.readouterr().err
