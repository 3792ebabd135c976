"""Stripe's test cards, as the local provider's checkout charges them."""

from __future__ import annotations

from dataclasses import dataclass

SUCCEEDS = "4242424242424242"


@dataclass(frozen=True)
class ChargeOutcome:
    decline_code: str  # empty when the charge went through
    message: str

    @property
    def succeeded(self) -> bool:
        return not self.decline_code


@dataclass(frozen=True)
class Card:
    number: str
    outcome: str  # what charging it does, in words for the checkout page
    charge: ChargeOutcome


# The one list: the checkout page shows it (GetCheckoutSession), and charge() follows it.
TEST_CARDS = (
    Card(SUCCEEDS, "succeeds", ChargeOutcome("", "Payment succeeded.")),
    Card(
        "4000000000000002",
        "is declined",
        ChargeOutcome("generic_decline", "Your card was declined."),
    ),
    Card(
        "4000000000009995",
        "is declined for insufficient funds",
        ChargeOutcome("insufficient_funds", "Your card has insufficient funds."),
    ),
)
_OUTCOMES = {card.number: card.charge for card in TEST_CARDS}


def luhn_valid(number: str) -> bool:
    digits = [int(c) for c in reversed(number)]
    total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
    return total % 10 == 0


def charge(card_number: str) -> ChargeOutcome:
    """What charging `card_number` does. Like Stripe's test mode, only the documented test
    cards have a defined outcome; anything else is declined."""
    number = card_number.replace(" ", "")
    if number in _OUTCOMES:
        return _OUTCOMES[number]
    if not number.isdigit() or not luhn_valid(number):
        return ChargeOutcome("card_declined", "Your card number is invalid.")
    return ChargeOutcome(
        "card_declined",
        "Your card was declined. In test mode, use a test card such as 4242 4242 4242 4242.",
    )
