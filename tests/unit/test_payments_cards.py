"""The local provider's test cards behave like Stripe's."""

from __future__ import annotations

import pytest

from services.payments.cards import charge, luhn_valid


def test_4242_succeeds() -> None:
    outcome = charge("4242424242424242")

    assert outcome.succeeded
    assert outcome.decline_code == ""


@pytest.mark.parametrize(
    ("card", "code"),
    [
        ("4000000000000002", "generic_decline"),
        ("4000000000009995", "insufficient_funds"),
        ("4111111111111111", "card_declined"),  # a real-looking number that is no test card
        ("1234567812345678", "card_declined"),  # fails the Luhn check
    ],
)
def test_other_cards_are_declined_with_stripes_codes(card: str, code: str) -> None:
    outcome = charge(card)

    assert not outcome.succeeded
    assert outcome.decline_code == code
    assert outcome.message


def test_an_invalid_number_says_so() -> None:
    assert "invalid" in charge("1234567812345678").message


def test_spaces_as_typed_on_a_checkout_page_are_ignored() -> None:
    assert charge("4242 4242 4242 4242").succeeded


def test_luhn() -> None:
    assert luhn_valid("4242424242424242")
    assert luhn_valid("4000000000009995")
    assert not luhn_valid("4242424242424241")
