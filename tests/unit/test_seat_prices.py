"""The pages' seat pack prices (services/gateway/seat_prices.py): the tiers as the program
page's rows and the team page's quote before checkout, in the program's currency, are what
the enrollment service charges for the same pack (one rule, services/common/volume_tiers)."""

from __future__ import annotations

from typing import Any

import pytest

from services.common.volume_tiers import VolumeTier
from services.enrollment.seat_packs import SeatPack
from services.gateway import schemas
from services.gateway.rendering import format_money
from services.gateway.seat_prices import Quote, TierRow, quote, tier_rows


def program(price: int, currency: str, tiers: list[tuple[int, int]]) -> schemas.Program:
    return schemas.Program.model_validate(
        {
            "id": "p",
            "provider_id": "v",
            "provider_name": "Academy",
            "title": "Kubernetes",
            "summary": "",
            "description": "",
            "skills": [],
            "duration_hours": 1,
            "price": {"amount_minor": price, "currency": currency},
            "capacity": None,
            "credential": {
                "name": "K8s",
                "description": "d",
                "criteria": "c",
                "issuance": "ON_COMPLETION",
                "valid_for_days": None,
            },
            "volume_tiers": [{"min_seats": s, "unit_amount_minor": u} for s, u in tiers],
            "status": "PUBLISHED",
            "version": 1,
            "created_at": None,
            "updated_at": None,
        }
    )


def charged(shown: schemas.Program, seats: int) -> SeatPack:
    return SeatPack.open(
        employer_id="e",
        program_id=shown.id,
        provider_id=shown.provider_id,
        snapshot=b"",
        seats=seats,
        price_minor=shown.price.amount_minor,
        currency=shown.price.currency,
        bought_by="m",
        bought_by_email="m@example.com",
        volume_tiers=[VolumeTier(t.min_seats, t.unit_amount_minor) for t in shown.volume_tiers],
    )


USD = program(4900, "USD", [(10, 4000), (25, 3500)])


def money(amount: int, currency: str = "USD") -> schemas.Money:
    return schemas.Money(amount_minor=amount, currency=currency)


@pytest.mark.parametrize(
    ("seats", "expected"),
    [
        (1, Quote(1, money(4900), money(4900), None)),
        (9, Quote(9, money(4900), money(9 * 4900), None)),
        (10, Quote(10, money(4000), money(10 * 4000), 10)),
        (12, Quote(12, money(4000), money(48000), 10)),
        (25, Quote(25, money(3500), money(25 * 3500), 25)),
        (1000, Quote(1000, money(3500), money(1000 * 3500), 25)),
    ],
)
def test_the_quote_is_what_enrollment_charges_for_the_same_pack(
    seats: int, expected: Quote
) -> None:
    assert quote(USD, seats) == expected
    pack = charged(USD, seats)
    assert (pack.price_per_seat, pack.total_minor) == (
        expected.price_per_seat.amount_minor,
        expected.total.amount_minor,
    )


def test_a_quote_is_in_the_programs_own_currency_and_formatted_by_its_minor_units() -> None:
    yen = program(5000, "JPY", [(3, 4500)])
    dinar = program(49000, "KWD", [(2, 40500)])
    assert format_money(quote(yen, 3).total) == "13,500 JPY"
    assert format_money(quote(dinar, 2).price_per_seat) == "40.500 KWD"
    assert [format_money(r.price_per_seat) for r in tier_rows(dinar)] == ["40.500 KWD"]


def test_tier_rows_go_up_in_seats_and_a_program_without_tiers_has_none() -> None:
    shuffled: Any = program(4900, "USD", [(10, 4000), (25, 3500)])
    shuffled.volume_tiers.reverse()
    assert tier_rows(shuffled) == [TierRow(10, money(4000)), TierRow(25, money(3500))]
    assert tier_rows(program(4900, "USD", [])) == []
    assert quote(program(0, "USD", []), 7) == Quote(7, money(0), money(0), None)


def test_no_quote_for_an_empty_pack() -> None:
    with pytest.raises(ValueError, match="at least one seat"):
        quote(USD, 0)
