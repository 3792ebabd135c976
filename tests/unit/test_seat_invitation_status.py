"""Where a seat code is (services/enrollment/employers.invitation_status), the one rule
that redemption and the invitations listing both read: redeemed wins over revoked, revoked
over expired, and a code is pending only while none of them holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.enrollment.employers import (
    EXPIRED,
    PENDING,
    REDEEMED,
    REVOKED,
    invitation_status,
)

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
PAST, FUTURE = NOW - timedelta(days=1), NOW + timedelta(days=1)


def row(**changes: Any) -> dict[str, Any]:
    return {
        "redeemed_at": None,
        "enrollment_id": None,
        "revoked_at": None,
        "expires_at": FUTURE,
    } | changes


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, PENDING),
        ({"expires_at": NOW}, EXPIRED),  # expires at that instant: no longer redeemable
        ({"expires_at": PAST}, EXPIRED),
        ({"revoked_at": PAST}, REVOKED),
        ({"revoked_at": PAST, "expires_at": PAST}, REVOKED),
        ({"redeemed_at": PAST, "enrollment_id": "e"}, REDEEMED),
        ({"redeemed_at": PAST, "enrollment_id": "e", "expires_at": PAST}, REDEEMED),
        ({"enrollment_id": "e", "revoked_at": PAST}, REDEEMED),
    ],
)
def test_a_codes_status(changes: dict[str, Any], expected: str) -> None:
    assert invitation_status(row(**changes), NOW) == expected
