"""ISO 4217 currencies and their minor units: the one rule for every amount we store.

The data is the `iso4217` package, which ships the ISO 4217 maintenance agency's own
list (SIX, "List one") and is re-released when that list changes. It is preferred to
CLDR (babel), whose "digits" are usage conventions that differ from ISO for several
currencies (IQD, RSD, ALL...), and to pycountry, which carries no minor units.

A currency without a minor unit in ISO 4217 (gold, SDRs, the test code XTS, "no
currency" XXX) cannot price a program, so it is not a currency here.
"""

from __future__ import annotations

from functools import cache

from iso4217 import Currency

INVALID_CURRENCY_MESSAGE = "must be an ISO 4217 currency code, such as USD"


@cache
def minor_units(code: str) -> int | None:
    """The number of minor-unit digits of `code` (JPY 0, USD 2, KWD 3); None when `code`
    is not an ISO 4217 currency that money can be counted in."""
    try:
        exponent = Currency(code).exponent
    except ValueError:
        return None
    return exponent if isinstance(exponent, int) else None


def is_currency(code: str) -> bool:
    return minor_units(code) is not None


def currency_codes() -> list[str]:
    """Every accepted code, sorted (the OpenAPI enum)."""
    return sorted(c.code for c in Currency if isinstance(c.exponent, int))
