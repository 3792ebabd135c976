"""The studio's program form and the API's JSON body, both ways: what a person types
reaches the API as typed (the API validates it, nothing here does), prices are typed in
major units, and the API's field errors come back to the inputs they name."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from services.common.currency import minor_units
from services.gateway.problems import FieldError, ProblemError, field_path

# The form's fields, named as the API's JSON paths (so an error's `field` finds its input);
# the price is typed in major units, so its errors land on the one price input.
TEXT_FIELDS = ("title", "summary", "description")
CREDENTIAL_TEXT = ("name", "description", "criteria")
_INDEX = re.compile(r"\[\d+\].*$")
_INTEGER = re.compile(r"-?[0-9]{1,18}")


def blank_values() -> dict[str, str]:
    return {"price.currency": "USD", "duration_hours": "1", "credential.issuance": "ON_COMPLETION"}


def values_of(program: dict[str, Any]) -> dict[str, str]:
    """A program as the form shows it."""
    price = program["price"]
    exponent = minor_units(price["currency"]) or 0
    credential = program["credential"]
    return {
        **{name: program[name] for name in TEXT_FIELDS},
        "skills": ", ".join(program["skills"]),
        "duration_hours": str(program["duration_hours"]),
        "price": str(Decimal(price["amount_minor"]).scaleb(-exponent)),
        "price.currency": price["currency"],
        "capacity": "" if program["capacity"] is None else str(program["capacity"]),
        "volume_tiers": ", ".join(
            f"{t['min_seats']}: {Decimal(t['unit_amount_minor']).scaleb(-exponent)}"
            for t in program.get("volume_tiers", [])
        ),
        **{f"credential.{n}": credential[n] for n in CREDENTIAL_TEXT},
        "credential.issuance": credential["issuance"],
        "credential.valid_for_days": (
            "" if credential["valid_for_days"] is None else str(credential["valid_for_days"])
        ),
        "version": str(program["version"]),
    }


async def form_values(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def number(text: str) -> Any:
    """A whole number typed in a form as an int; anything else as typed, for the API's
    own validation to name ("Input should be a valid integer")."""
    text = text.strip()
    return int(text) if _INTEGER.fullmatch(text) else text


def optional_number(text: str) -> Any:
    return None if not text.strip() else number(text)


def amount_minor(price: str, currency: str) -> Any:
    """49.00 USD -> 4900. A price that is not a number, or has more decimals than the
    currency, is passed on as typed, for the API to refuse at `price.amount_minor`."""
    exponent = minor_units(currency.strip().upper())
    try:
        amount = Decimal(price.strip() or "0").scaleb(exponent or 0)
    except ArithmeticError:  # InvalidOperation (not a number), Overflow (1e999999999)
        return price
    # Past 19 digits no price is valid, and int() of "1e999999999" would be a very large
    # number to build: such input is passed on as typed, for the API to refuse.
    if not amount.is_finite() or amount.adjusted() > 18 or amount != amount.to_integral_value():
        return price
    return int(amount)


def volume_tiers(text: str, currency: str) -> list[Any]:
    """ "10: 40.00, 25: 35.00" (seats: price per seat) -> the API's tiers. A tier typed
    without its colon, or with a price that is not one, is passed on as typed, for the API
    to refuse at the field it breaks."""
    tiers: list[Any] = []
    for part in text.split(","):
        if not part.strip():
            continue
        seats, colon, price = part.partition(":")
        if not colon:
            tiers.append(part.strip())
            continue
        tiers.append(
            {"min_seats": number(seats), "unit_amount_minor": amount_minor(price.strip(), currency)}
        )
    return tiers


def program_body(values: dict[str, str]) -> dict[str, Any]:
    """The form, as the JSON body of POST /api/v1/programs."""
    skills = [s.strip() for s in values.get("skills", "").split(",")]
    return {
        **{name: values.get(name, "") for name in TEXT_FIELDS},
        "skills": [s for s in skills if s],
        "duration_hours": number(values.get("duration_hours", "")),
        "price": {
            "amount_minor": amount_minor(values.get("price", ""), values.get("price.currency", "")),
            "currency": values.get("price.currency", "").strip().upper(),
        },
        "capacity": optional_number(values.get("capacity", "")),
        "volume_tiers": volume_tiers(
            values.get("volume_tiers", ""), values.get("price.currency", "")
        ),
        "credential": {
            **{n: values.get(f"credential.{n}", "") for n in CREDENTIAL_TEXT},
            "issuance": values.get("credential.issuance", ""),
            "valid_for_days": optional_number(values.get("credential.valid_for_days", "")),
        },
    }


def changes(body: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """The PATCH body: the fields the form changed, and only those."""
    patch: dict[str, Any] = {}
    for name, value in body.items():
        if name == "credential":
            changed = {k: v for k, v in value.items() if current["credential"].get(k) != v}
            if changed:
                patch["credential"] = changed
        elif current.get(name) != value:
            patch[name] = value
    return patch


def as_problem(exc: ValidationError | ProblemError) -> ProblemError:
    if isinstance(exc, ProblemError):
        return exc
    errors = [
        FieldError(field=field_path(e["loc"]), message=str(e["msg"]).removeprefix("Value error, "))
        for e in exc.errors()[:20]
    ]
    return ProblemError(422, "the request has invalid fields", slug="invalid-input", errors=errors)


def input_for(field: str) -> str:
    """The form input an API error path belongs to: skills[2] -> skills,
    price.amount_minor -> price."""
    field = _INDEX.sub("", field)
    if field in ("price", "price.amount_minor"):
        return "price"
    return field


FORM_INPUTS = frozenset(
    {
        *TEXT_FIELDS,
        "skills",
        "duration_hours",
        "price",
        "price.currency",
        "capacity",
        "volume_tiers",
    }
    | {f"credential.{n}" for n in (*CREDENTIAL_TEXT, "issuance", "valid_for_days")}
)


def errors_for_form(problem: ProblemError, inputs: frozenset[str] = FORM_INPUTS) -> dict[str, Any]:
    """Each field error next to its input (one of `inputs`, the program form's by
    default); any other (no input of its own) above the form."""
    errors: dict[str, str] = {}
    other: list[str] = []
    for error in problem.errors:
        name = input_for(error.field)
        if name in inputs:
            errors.setdefault(name, error.message)
        else:
            other.append(f"{error.field}: {error.message}")
    return {"errors": errors, "other_errors": other, "message": problem.detail}
