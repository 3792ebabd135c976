"""Finding 8: a checkout's return URLs never send a learner off-site.

Payments refuses return URLs off PUBLIC_BASE_URL (INVALID_ARGUMENT naming the field), and
the hosted checkout page, which redirects to them, still never leaves the site when a bad
URL was stored anyway (before the rule, or by hand).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from upskill.payments.v1 import payments_pb2, payments_service_pb2

from services.common import urls as common_urls
from services.common.errors import InvalidArgumentError
from services.common.urls import is_on_origin
from services.payments.checkout import CheckoutOpener
from services.payments.domain import CheckoutOrder, Money
from tests.unit.test_gateway_errors import Answer, WireServer, gateway, wire  # noqa: F401

PUBLIC = "https://shop.example:8443"

HOSTILE = [
    "https://evil.example/",
    "//evil.example",
    "//evil.example/enrollments/1",
    "javascript:alert(1)",
    "JavaScript:alert(document.domain)//https://shop.example:8443/",
    "data:text/html,<script>alert(1)</script>",
    "https://shop.example.evil.example:8443/",
    "https://shop.example:8443.evil.example/",
    "https://shop.example:8443@evil.example/",
    "https://shop.example@evil.example:8443/",
    "https://user:pw@shop.example:8443/",
    "https://evil.example\\@shop.example:8443/",
    "https://shop.example:8443\\@evil.example/",
    "https:\\\\evil.example",
    "/\\evil.example",
    "http://shop.example:8443/",  # another scheme
    "https://shop.example/",  # another port (443)
    "https://shop.example:8443 /x",
    "https://shop.example:8443/\x00",
    "\thttps://evil.example",
    "https://shop.example:99999/",
    "/enrollments/1",  # relative: not a URL on the origin (Stripe needs absolute ones)
    "",
]
OURS = [
    "https://shop.example:8443/",
    "https://shop.example:8443/enrollments/0b7f3c1e?checkout=success",
    "HTTPS://SHOP.EXAMPLE:8443/programs/1",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_urls_off_the_public_origin_are_refused(url: str) -> None:
    assert not is_on_origin(url, PUBLIC)


@pytest.mark.parametrize("url", OURS)
def test_urls_on_the_public_origin_are_allowed(url: str) -> None:
    assert is_on_origin(url, PUBLIC)


def test_the_default_port_is_the_same_origin() -> None:
    assert is_on_origin("https://shop.example:443/x", "https://shop.example")
    assert is_on_origin("http://localhost/x", "http://localhost:80")
    assert not is_on_origin("http://localhost:8080/x", "http://localhost")


def _order(**urls: str) -> CheckoutOrder:
    return CheckoutOrder(
        enrollment_id="0b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d",
        learner_id="alice",
        learner_email="",
        provider_id="1b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d",
        amount=Money(4900, "USD"),
        description="SQL in a week",
        success_url=urls.get("success_url", ""),
        cancel_url=urls.get("cancel_url", ""),
    )


@pytest.mark.parametrize("field", ["success_url", "cancel_url"])
@pytest.mark.parametrize("url", [u for u in HOSTILE if u])
async def test_payments_refuses_a_checkout_returning_off_site(field: str, url: str) -> None:
    # Refused before the database or the payment gateway is touched.
    opener = CheckoutOpener(None, None, ttl_seconds=1800, public_base_url=PUBLIC)  # type: ignore[arg-type]

    with pytest.raises(InvalidArgumentError) as refused:
        await opener.open(_order(**{field: url}))

    assert [v.field for v in refused.value.violations] == [field]
    assert PUBLIC in refused.value.violations[0].message


# ------------------------------------------------- the hosted checkout page (gateway)


def _session_reply(status: str, success_url: str, cancel_url: str) -> bytes:
    # GetCheckoutSessionResponse and PayCheckoutSessionResponse both carry the session as
    # field 1, so one reply serves both RPCs.
    return payments_service_pb2.PayCheckoutSessionResponse(
        session=payments_pb2.CheckoutSession(
            id="cs_test_1",
            description="SQL in a week",
            status=status,
            success_url=success_url,
            cancel_url=cancel_url,
        )
    ).SerializeToString()


@pytest.mark.parametrize("stored", [u for u in HOSTILE if u])
async def test_the_checkout_page_never_redirects_off_site(
    wire: WireServer,  # noqa: F811
    gateway: Callable[..., Any],  # noqa: F811
    stored: str,
) -> None:
    wire.answer = Answer(reply=_session_reply("complete", stored, stored))

    paid = await gateway("POST", "/checkout/cs_test_1", data={"card_number": "4242424242424242"})
    page = await gateway("GET", "/checkout/cs_test_1")

    assert paid.status_code == 303
    assert paid.headers["location"] == "/checkout/cs_test_1"
    assert page.status_code == 200
    assert stored not in page.text.replace("&amp;", "&")
    assert "evil.example" not in page.text


async def test_the_checkout_page_redirects_to_a_return_url_on_the_site(
    wire: WireServer,  # noqa: F811
    gateway: Callable[..., Any],  # noqa: F811
) -> None:
    # The test gateway's PUBLIC_BASE_URL is http://gw.
    wire.answer = Answer(reply=_session_reply("complete", "http://gw/enrollments/1", ""))

    paid = await gateway("POST", "/checkout/cs_test_1", data={"card_number": "4242424242424242"})

    assert paid.status_code == 303
    assert paid.headers["location"] == "http://gw/enrollments/1"


async def test_the_checkout_page_lists_the_cards_payments_serves(
    wire: WireServer,  # noqa: F811
    gateway: Callable[..., Any],  # noqa: F811
) -> None:
    """The gateway keeps no card list of its own: it shows what payments answers."""
    wire.answer = Answer(
        reply=payments_service_pb2.GetCheckoutSessionResponse(
            session=payments_pb2.CheckoutSession(id="cs_test_1", status="open"),
            test_cards=[
                payments_service_pb2.TestCard(number="4000000000000077", outcome="is made up")
            ],
        ).SerializeToString()
    )

    page = await gateway("GET", "/checkout/cs_test_1")

    assert page.status_code == 200
    assert "<code>4000 0000 0000 0077</code> is made up" in page.text
    assert "insufficient funds" not in page.text


def test_the_refused_characters_are_the_former_per_character_test() -> None:
    """_origin refuses a URL holding a backslash, whitespace or a control character, by one
    regex search; it was a test of each character: the same set, on every code point."""

    def former(c: str) -> bool:
        return c == "\\" or c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F

    refused = common_urls._REFUSED_CHARACTER
    differ = [hex(n) for n in range(0x110000) if bool(refused.search(chr(n))) is not former(chr(n))]
    assert differ == []
