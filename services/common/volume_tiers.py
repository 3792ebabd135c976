"""Volume tiers: a provider's lower price per seat for seat packs of many seats. No I/O.

The one rule for both sides: the catalog checks a program's tiers with `violations` when
it is written, and enrollment prices a seat pack with `unit_price` when it is opened
(from the tiers frozen in the pack's program snapshot).

A tier is (min_seats, unit_amount_minor): packs of at least `min_seats` seats cost
`unit_amount_minor` per seat, in the program's own currency (a tier names no currency,
so it cannot name another one). A pack's total is the unit price times its seats, so a
refund of some seats returns exactly their unit price each. The tiers of a program go up
in seats and down in price: more seats never cost more per seat, and every tier is below
the list price (a tier that is not cheaper is not a tier).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.common.errors import FieldViolation

MAX_TIERS = 10
MIN_TIER_SEATS = 2
# The most seats one pack may hold (CreateSeatPackRequest's bound): a tier starting beyond
# it could never apply.
MAX_PACK_SEATS = 1000


@dataclass(frozen=True)
class VolumeTier:
    min_seats: int
    unit_amount_minor: int


def violations(
    price_minor: int, tiers: Sequence[VolumeTier], path: str = "spec.volume_tiers"
) -> list[FieldViolation]:
    """Every way `tiers` break the rule for a program listed at `price_minor`."""
    found: list[FieldViolation] = []
    if len(tiers) > MAX_TIERS:
        return [FieldViolation(path, f"must hold at most {MAX_TIERS} tiers")]
    for i, tier in enumerate(tiers):
        at = f"{path}[{i}]"
        if not MIN_TIER_SEATS <= tier.min_seats <= MAX_PACK_SEATS:
            found.append(
                FieldViolation(
                    f"{at}.min_seats", f"must be between {MIN_TIER_SEATS} and {MAX_PACK_SEATS}"
                )
            )
        if tier.unit_amount_minor < 0:
            found.append(FieldViolation(f"{at}.unit_amount_minor", "must not be negative"))
        elif tier.unit_amount_minor >= price_minor:
            found.append(
                FieldViolation(
                    f"{at}.unit_amount_minor",
                    f"must be below the program's price per seat ({price_minor})",
                )
            )
        if i:
            before = tiers[i - 1]
            if tier.min_seats <= before.min_seats:
                found.append(
                    FieldViolation(
                        f"{at}.min_seats", "must be more than the tier before's (ascending)"
                    )
                )
            if tier.unit_amount_minor >= before.unit_amount_minor:
                found.append(
                    FieldViolation(
                        f"{at}.unit_amount_minor",
                        "must be below the tier before's (more seats cost less per seat)",
                    )
                )
    return found


def unit_price(price_minor: int, tiers: Sequence[VolumeTier], seats: int) -> int:
    """The price per seat of a pack of `seats`: the tier with the most `min_seats` that
    `seats` reaches, else the list price. Tiers are taken as the catalog checked them;
    a tier above the list price (never stored) would still not raise the price."""
    if seats < 1:
        raise ValueError(f"a pack holds at least one seat, not {seats}")
    tier = tier_reached(price_minor, tiers, seats)
    return price_minor if tier is None else tier.unit_amount_minor


def pack_total(price_minor: int, tiers: Sequence[VolumeTier], seats: int) -> int:
    """What a pack of `seats` costs: its price per seat (`unit_price`) times its seats. The
    enrollment service charges this, and the team page shows it before checkout."""
    return unit_price(price_minor, tiers, seats) * seats


def tier_reached(price_minor: int, tiers: Sequence[VolumeTier], seats: int) -> VolumeTier | None:
    """The tier whose price a pack of `seats` pays (the cheapest it reaches), or None when
    it pays the list price `price_minor` (no tier reached is below it)."""
    reached: VolumeTier | None = None
    for tier in tiers:
        best = price_minor if reached is None else reached.unit_amount_minor
        if seats >= tier.min_seats and tier.unit_amount_minor < best:
            reached = tier
    return reached
