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
