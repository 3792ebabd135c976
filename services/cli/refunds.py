"""`upskill refunds`: the payments returned to learners, read through the public API.

Every automatic return (a payment that arrived for an enrollment that had closed) is a
refund; a FAILED one is money an operator must still return by hand.
"""

from __future__ import annotations

from typing import Any

import httpx

PAGE_SIZE = 100


class RefundsError(RuntimeError):
    """The gateway refused or could not be reached; the message says why."""


def fetch_refunds(url: str, token: str, enrollment_id: str = "") -> list[dict[str, Any]]:
    """Every refund (newest first), walking all pages of GET /api/v1/refunds."""
    found: list[dict[str, Any]] = []
    params = {"page_size": str(PAGE_SIZE)} | (
        {"enrollment_id": enrollment_id} if enrollment_id else {}
    )
    with httpx.Client(base_url=url, timeout=15, trust_env=False) as http:
        while True:
            try:
                response = http.get(
                    "/api/v1/refunds", params=params, headers={"authorization": f"Bearer {token}"}
                )
            except httpx.HTTPError as exc:
                raise RefundsError(f"cannot reach the gateway at {url}: {exc}") from exc
            if response.status_code != 200:
                detail = response.text
                if response.headers.get("content-type", "").startswith("application/problem+json"):
                    detail = response.json().get("detail") or detail
                raise RefundsError(f"GET /api/v1/refunds: {response.status_code} {detail}")
            body = response.json()
            found += body["refunds"]
            if not body.get("next_page_token"):
                return found
            params["page_token"] = body["next_page_token"]


def table(refunds: list[dict[str, Any]]) -> str:
    lines = [
        f"{'CREATED':<20} {'STATUS':<9} {'AMOUNT':>12} {'REASON':<22} {'ENROLLMENT':<36}  "
        "GATEWAY REFUND / ERROR"
    ]
    for r in refunds:
        amount = f"{r['amount']['amount_minor']} {r['amount']['currency']}"
        created = (r.get("created_at") or "")[:19]
        detail = r.get("gateway_refund_id") or r.get("last_error") or ""
        lines.append(
            f"{created:<20} {r['status']:<9} {amount:>12} {r['reason']:<22} "
            f"{r['enrollment_id']:<36}  {detail}"
        )
    lines.append(f"{len(refunds)} refund(s)")
    return "\n".join(lines)
