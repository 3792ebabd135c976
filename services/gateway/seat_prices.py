"""What seats of a program cost, as the pages show them: its volume tiers as rows ("from
N seats: price per seat") and a quote for a pack of some seats (price per seat, total).

Nothing here decides a price: services/common/volume_tiers.py is the one rule, the one
the enrollment service charges a seat pack with, so the team page's quote before
checkout is the checkout's amount.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.common.volume_tiers import VolumeTier, pack_total, tier_reached, unit_price
from services.gateway import schemas


@dataclass(frozen=True)
class TierRow:
    min_seats: int
    price_per_seat: schemas.Money


@dataclass(frozen=True)
class Quote:
    seats: int
    price_per_seat: schemas.Money
    total: schemas.Money
    # The tier the pack reaches (its min_seats), or None: it pays the list price.
    tier_min_seats: int | None


def _tiers(program: schemas.Program) -> list[VolumeTier]:
    return [VolumeTier(t.min_seats, t.unit_amount_minor) for t in program.volume_tiers]


def _money(program: schemas.Program, amount_minor: int) -> schemas.Money:
    return schemas.Money(amount_minor=amount_minor, currency=program.price.currency)


def tier_rows(program: schemas.Program) -> list[TierRow]:
    """The program's tiers, fewest seats first, each at its price in the program's currency."""
    return [
        TierRow(t.min_seats, _money(program, t.unit_amount_minor))
        for t in sorted(program.volume_tiers, key=lambda t: t.min_seats)
    ]


def quote(program: schemas.Program, seats: int) -> Quote:
    """A pack of `seats` (at least one) of `program`, priced by the one rule."""
    price, tiers = program.price.amount_minor, _tiers(program)
    tier = tier_reached(price, tiers, seats)
    return Quote(
        seats=seats,
        price_per_seat=_money(program, unit_price(price, tiers, seats)),
        total=_money(program, pack_total(price, tiers, seats)),
        tier_min_seats=None if tier is None else tier.min_seats,
    )
