"""The rules behind the edge, where they live: text (services.common.text, applied to
every gRPC request by the shared interceptor), currencies (services.common.currency) and
the catalog's own rules for a program (services.catalog.domain)."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from google.protobuf import struct_pb2
from upskill.catalog.v1 import catalog_pb2, catalog_service_pb2
from upskill.credentials.v1 import credentials_service_pb2
from upskill.type.v1 import money_pb2

from services.catalog.domain import (
    CredentialTemplate,
    Program,
    ProgramSpec,
    Provider,
    provider_name,
)
from services.common.currency import currency_codes, is_currency, minor_units
from services.common.errors import InvalidArgumentError
from services.common.interceptors import text_violations, validate
from services.common.text import is_clean
from services.credentials import verification
from services.gateway.rendering import format_money
from tests.unit.test_verification import DURING, KEY, issue, verify

SPEC = ProgramSpec(
    title="Intro to SQL",
    summary="Query data",
    description="Six hours of SQL",
    skills=("sql",),
    duration_hours=6,
    price_minor=4900,
    currency="USD",
    capacity=None,
    credential=CredentialTemplate("SQL Basics", "Can query", "Pass the quiz"),
)
PROVIDER = Provider(id="v1", name="Acme")


# ---------------------------------------------------------------- text


@pytest.mark.parametrize("text", ["a\x00b", "\x1b[31m", "bell\x07", "\x0b", "\x1f"])
def test_control_characters_are_not_text(text: str) -> None:
    assert not is_clean(text)


@pytest.mark.parametrize("text", ["", "plain", "two\nlines\r\n", "tab\there", "é 日本 🙂", "\x7f"])
def test_text_with_tabs_newlines_and_unicode_is_clean(text: str) -> None:
    assert is_clean(text)


def test_every_string_of_a_request_is_checked_nested_and_repeated() -> None:
    request = catalog_service_pb2.CreateProgramRequest(
        spec=catalog_pb2.ProgramSpec(
            title="a\x00b",
            skills=["ok", "b\x00d"],
            price=money_pb2.Money(amount_minor=1, currency="US\x00"),
            credential=catalog_pb2.CredentialTemplate(name="n", description="x\x01", criteria="c"),
        )
    )
    fields = {v.field for v in text_violations(request)}
    assert fields == {
        "spec.title",
        "spec.skills[1]",
        "spec.price.currency",
        "spec.credential.description",
    }


def test_map_keys_and_values_are_checked() -> None:
    struct = struct_pb2.Struct()
    struct.update(
        {"fine": "yes", "k\x00": "v", "nested": {"deep": "x\x00"}, "list": ["ok", 1, "b\x07"]}
    )
    fields = {v.field for v in text_violations(struct)}
    assert "fields['k\\x00']" in fields
    assert any(field.endswith("['deep'].string_value") for field in fields)
    assert "fields['list'].list_value.values[2].string_value" in fields
    assert not any("fine" in field for field in fields)
    assert not any("values[0]" in field or "values[1]" in field for field in fields)


def test_validate_refuses_nul_in_a_revoke_reason_with_the_field() -> None:
    request = credentials_service_pb2.RevokeCredentialRequest(
        credential_id="6c1f7a52-8f44-4c56-9f7b-0d3c1c2b9e11", reason="fraud\x00"
    )
    with pytest.raises(InvalidArgumentError) as caught:
        validate(request)
    assert [v.field for v in caught.value.violations] == ["reason"]


# ---------------------------------------------------------------- currencies


@pytest.mark.parametrize(("code", "digits"), [("JPY", 0), ("USD", 2), ("EUR", 2), ("KWD", 3)])
def test_iso_currencies_know_their_minor_units(code: str, digits: int) -> None:
    assert minor_units(code) == digits
    assert is_currency(code)


@pytest.mark.parametrize("code", ["XYZ", "usd", "", "US", "XAU", "XTS", "XXX", "DEM"])
def test_unknown_and_unit_less_codes_are_not_currencies(code: str) -> None:
    assert minor_units(code) is None
    assert code not in currency_codes()


# ---------------------------------------------------------------- the catalog's rules


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "   "}, "spec.title"),
        ({"title": "\t\n"}, "spec.title"),
        ({"skills": ("sql", "  ")}, "spec.skills[1]"),
        ({"skills": ("sql", " sql ")}, "spec.skills"),
        ({"duration_hours": 0}, "spec.duration_hours"),
        ({"currency": "XYZ"}, "spec.price.currency"),
        ({"credential": CredentialTemplate(" ", "d", "c")}, "spec.credential.name"),
        ({"credential": CredentialTemplate("n", " ", "c")}, "spec.credential.description"),
    ],
)
def test_a_program_breaking_a_catalog_rule_is_invalid_argument(
    changes: dict[str, object], field: str
) -> None:
    spec = dataclasses.replace(SPEC, **changes)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError) as caught:
        Program.draft(PROVIDER, spec)
    assert [v.field for v in caught.value.violations] == [field]
    program = Program.draft(PROVIDER, SPEC)
    with pytest.raises(InvalidArgumentError):
        program.update(program.version, spec)
    assert program.spec == SPEC
    assert program.version == 1


def test_a_blank_provider_name_is_invalid_argument() -> None:
    assert provider_name("  Acme ") == "Acme"
    with pytest.raises(InvalidArgumentError) as caught:
        provider_name(" \t ")
    assert [v.field for v in caught.value.violations] == ["name"]


# ---------------------------------------------------------------- no internals in verdicts


def test_an_unforeseen_failure_in_verification_names_no_exception(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: object) -> str:
        raise AttributeError("'list' object has no attribute 'get'")

    monkeypatch.setattr(verification, "_check_validity", broken)
    with caplog.at_level(logging.WARNING, logger=verification.__name__):
        verdict = verify(issue(), [KEY.public_jwk()], DURING)
    assert verdict.status is verification.VerificationStatus.MALFORMED
    detail = verdict.checks[-1].detail
    assert detail == "could not be checked"
    assert "has no attribute" in caplog.text  # the detail went to the log instead


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [(5000, "JPY", "5,000 JPY"), (4900, "USD", "49.00 USD"), (1234, "KWD", "1.234 KWD")],
)
def test_pages_show_prices_in_the_currencys_own_units(
    amount: int, currency: str, shown: str
) -> None:
    assert format_money({"amount_minor": amount, "currency": currency}) == shown
