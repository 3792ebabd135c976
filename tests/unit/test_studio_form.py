"""The studio's program form <-> the API's JSON body: what is typed reaches the API as
typed (the API validates), prices in major units, errors back on their inputs."""

from __future__ import annotations

from typing import Any

import pytest

from services.gateway import studio_form as studio
from services.gateway.problems import FieldError, ProblemError


@pytest.mark.parametrize(
    ("price", "currency", "expected"),
    [
        ("49.00", "USD", 4900),
        ("49", "usd", 4900),
        ("0", "USD", 0),
        ("", "USD", 0),
        ("1000", "JPY", 1000),
        ("12.5", "BHD", 12500),  # three decimals
        ("12.345", "USD", "12.345"),  # more decimals than the currency: the API refuses
        ("abc", "USD", "abc"),
        ("1e999", "USD", "1e999"),
        ("1e999999999", "USD", "1e999999999"),  # never built as an int
        ("NaN", "USD", "NaN"),
        ("-5", "USD", -500),  # the API refuses a negative amount
    ],
)
def test_prices_are_typed_in_major_units(price: str, currency: str, expected: Any) -> None:
    assert studio.amount_minor(price, currency) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12", 12),
        (" 7 ", 7),
        ("0", 0),
        ("-3", -3),
        ("1.5", "1.5"),
        ("x", "x"),
        ("9" * 40, "9" * 40),
    ],
)
def test_whole_numbers_pass_as_ints_and_anything_else_as_typed(typed: str, expected: Any) -> None:
    assert studio.number(typed) == expected


def test_the_form_becomes_the_api_body() -> None:
    body = studio.program_body(
        {
            "title": "SQL",
            "skills": " SQL , , analysis ",
            "duration_hours": "6",
            "price": "49.00",
            "price.currency": "usd",
            "capacity": "",
            "credential.name": "N",
            "credential.issuance": "ON_PAYMENT",
            "credential.valid_for_days": "365",
        }
    )
    assert body["skills"] == ["SQL", "analysis"]
    assert body["price"] == {"amount_minor": 4900, "currency": "USD"}
    assert body["capacity"] is None
    assert body["credential"]["valid_for_days"] == 365
    assert body["credential"]["issuance"] == "ON_PAYMENT"


def test_an_edit_sends_only_what_changed() -> None:
    current = {
        "title": "SQL",
        "summary": "",
        "capacity": None,
        "price": {"amount_minor": 4900, "currency": "USD"},
        "credential": {"name": "N", "valid_for_days": None},
    }
    body = {
        "title": "SQL",
        "summary": "New",
        "capacity": None,
        "price": {"amount_minor": 4900, "currency": "USD"},
        "credential": {"name": "N", "valid_for_days": 30},
    }
    assert studio.changes(body, current) == {
        "summary": "New",
        "credential": {"valid_for_days": 30},
    }
    assert studio.changes(current, current) == {}


def test_errors_land_on_their_inputs() -> None:
    problem = ProblemError(
        422,
        "invalid",
        errors=[
            FieldError(field="skills[2]", message="blank"),
            FieldError(field="price.amount_minor", message="too big"),
            FieldError(field="credential.name", message="empty"),
            FieldError(field="update_mask", message="odd"),
            FieldError(field="skills[3]", message="second error on skills"),
        ],
    )
    shown = studio.errors_for_form(problem)
    assert shown["errors"] == {"skills": "blank", "price": "too big", "credential.name": "empty"}
    assert shown["other_errors"] == ["update_mask: odd"]
    assert shown["message"] == "invalid"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("", []),
        (
            "10: 40.00, 25: 35",
            [
                {"min_seats": 10, "unit_amount_minor": 4000},
                {"min_seats": 25, "unit_amount_minor": 3500},
            ],
        ),
        ("10:40,", [{"min_seats": 10, "unit_amount_minor": 4000}]),
        # Passed on as typed, for the API to refuse at the tier's field.
        ("ten: 40", [{"min_seats": "ten", "unit_amount_minor": 4000}]),
        ("10: 4.001", [{"min_seats": 10, "unit_amount_minor": "4.001"}]),
        ("10 40", ["10 40"]),
    ],
)
def test_seat_pack_prices_are_typed_as_seats_and_a_price_per_seat(
    typed: str, expected: list[Any]
) -> None:
    assert studio.volume_tiers(typed, "USD") == expected


def test_a_programs_tiers_round_trip_through_the_form_unchanged() -> None:
    program = {
        "title": "T",
        "summary": "",
        "description": "",
        "skills": [],
        "duration_hours": 1,
        "price": {"amount_minor": 4900, "currency": "USD"},
        "capacity": None,
        "volume_tiers": [{"min_seats": 10, "unit_amount_minor": 4000}],
        "credential": {
            "name": "B",
            "description": "D",
            "criteria": "C",
            "issuance": "ON_COMPLETION",
            "valid_for_days": None,
        },
        "version": 1,
    }
    values = studio.values_of(program)
    assert values["volume_tiers"] == "10: 40.00"
    assert studio.changes(studio.program_body(values), program) == {}
    assert studio.input_for("volume_tiers[1].unit_amount_minor") == "volume_tiers"
    assert "volume_tiers" in studio.FORM_INPUTS
