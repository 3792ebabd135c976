"""Volume tiers (services/common/volume_tiers.py): the one rule the catalog checks a
program's tiers with and enrollment prices a seat pack with; hostile tiers are refused
with the field that breaks the rule, and no tier ever raises a price."""

from __future__ import annotations

from dataclasses import replace

import pytest

from services.catalog.domain import CredentialTemplate, ProgramSpec
from services.common.errors import InvalidArgumentError
from services.common.volume_tiers import (
    MAX_TIERS,
    VolumeTier,
    pack_total,
    tier_reached,
    unit_price,
    violations,
)
from services.enrollment.seat_packs import SeatPack

TIERS = (VolumeTier(5, 4000), VolumeTier(20, 3000))


@pytest.mark.parametrize(
    ("seats", "unit"), [(1, 4900), (4, 4900), (5, 4000), (19, 4000), (20, 3000), (1000, 3000)]
)
def test_a_pack_pays_the_tier_with_the_most_min_seats_it_reaches(seats: int, unit: int) -> None:
    assert unit_price(4900, TIERS, seats) == unit
    assert unit_price(4900, (), seats) == 4900


@pytest.mark.parametrize(
    ("seats", "tier"), [(1, None), (4, None), (5, TIERS[0]), (19, TIERS[0]), (20, TIERS[1])]
)
def test_the_tier_reached_is_the_one_whose_price_a_pack_pays(
    seats: int, tier: VolumeTier | None
) -> None:
    """What the team page names ("from 5 seats") is the price the pack is charged."""
    assert tier_reached(4900, TIERS, seats) == tier
    assert unit_price(4900, TIERS, seats) == (4900 if tier is None else tier.unit_amount_minor)
    assert pack_total(4900, TIERS, seats) == unit_price(4900, TIERS, seats) * seats
    # Out of order or above the list price (never stored): still the cheapest reached.
    assert tier_reached(4900, (*reversed(TIERS), VolumeTier(2, 9999)), seats) == tier


def test_a_packs_total_is_its_seats_at_the_price_per_seat_and_never_of_no_seats() -> None:
    assert pack_total(4900, TIERS, 12) == 12 * 4000
    assert pack_total(4900, (), 3) == 3 * 4900
    assert pack_total(0, (), 7) == 0
    with pytest.raises(ValueError, match="at least one seat"):
        pack_total(4900, TIERS, 0)


def test_no_tier_can_raise_the_price_nor_price_an_empty_pack() -> None:
    assert unit_price(4900, (VolumeTier(2, 9999),), 5) == 4900
    with pytest.raises(ValueError, match="at least one seat"):
        unit_price(4900, TIERS, 0)


def test_well_formed_tiers_pass() -> None:
    assert violations(4900, TIERS) == []
    assert violations(4900, ()) == []
    assert violations(4900, (VolumeTier(2, 0),)) == []  # free in bulk is a price too


@pytest.mark.parametrize(
    ("tiers", "field", "words"),
    [
        ((VolumeTier(1, 4000),), "spec.volume_tiers[0].min_seats", "between 2 and 1000"),
        ((VolumeTier(0, 4000),), "spec.volume_tiers[0].min_seats", "between 2 and 1000"),
        ((VolumeTier(-5, 4000),), "spec.volume_tiers[0].min_seats", "between 2 and 1000"),
        ((VolumeTier(1001, 4000),), "spec.volume_tiers[0].min_seats", "between 2 and 1000"),
        ((VolumeTier(5, 4900),), "spec.volume_tiers[0].unit_amount_minor", "below the program"),
        ((VolumeTier(5, 5000),), "spec.volume_tiers[0].unit_amount_minor", "below the program"),
        ((VolumeTier(5, -1),), "spec.volume_tiers[0].unit_amount_minor", "negative"),
        (
            (VolumeTier(10, 4000), VolumeTier(5, 3000)),
            "spec.volume_tiers[1].min_seats",
            "ascending",
        ),
        (
            (VolumeTier(5, 4000), VolumeTier(5, 3000)),
            "spec.volume_tiers[1].min_seats",
            "ascending",
        ),
        (
            (VolumeTier(5, 3000), VolumeTier(10, 3000)),
            "spec.volume_tiers[1].unit_amount_minor",
            "less per seat",
        ),
        (
            (VolumeTier(5, 3000), VolumeTier(10, 4000)),
            "spec.volume_tiers[1].unit_amount_minor",
            "less per seat",
        ),
        (
            tuple(VolumeTier(2 + i, 4000 - i) for i in range(MAX_TIERS + 1)),
            "spec.volume_tiers",
            "at most 10",
        ),
    ],
)
def test_hostile_tiers_are_refused_naming_the_field(
    tiers: tuple[VolumeTier, ...], field: str, words: str
) -> None:
    found = violations(4900, tiers)
    assert field in [v.field for v in found], found
    assert any(words in v.message for v in found if v.field == field), found


def test_a_free_program_can_have_no_tier() -> None:
    assert violations(0, (VolumeTier(2, 0),))[0].field == "spec.volume_tiers[0].unit_amount_minor"


SPEC = ProgramSpec(
    title="Kubernetes",
    summary="",
    description="",
    skills=("k8s",),
    duration_hours=10,
    price_minor=4900,
    currency="USD",
    capacity=None,
    credential=CredentialTemplate("K8s", "Knows k8s", "Passed"),
)


def test_the_catalog_checks_a_programs_tiers_against_its_price() -> None:
    assert replace(SPEC, volume_tiers=TIERS).check().volume_tiers == TIERS
    with pytest.raises(InvalidArgumentError) as refused:
        replace(SPEC, volume_tiers=TIERS, price_minor=3500).check()
    assert [v.field for v in refused.value.violations] == ["spec.volume_tiers[0].unit_amount_minor"]


def test_a_pack_is_priced_by_its_tier_and_its_seats_refund_at_that_price() -> None:
    def opened(seats: int) -> SeatPack:
        return SeatPack.open(
            employer_id="e",
            program_id="p",
            provider_id="v",
            snapshot=b"",
            seats=seats,
            price_minor=4900,
            currency="USD",
            bought_by="m",
            bought_by_email="m@example.com",
            volume_tiers=TIERS,
        )

    assert (opened(4).total_minor, opened(4).price_per_seat) == (4 * 4900, 4900)
    pack = opened(5)
    assert (pack.total_minor, pack.price_per_seat) == (5 * 4000, 4000)
    pack.status = "PAID"
    assert pack.release_unassigned(redeemed=2) == 3
    assert (pack.seats, pack.price_per_seat) == (2, 4000)  # the refund owed is 3 x 4000
