"""The studio's pathway form <-> POST /api/v1/pathways: what is typed reaches the API as
typed (the API validates it), chosen programs once each and bounded, the API's error paths
back on their inputs, and only program ids carried back into the page."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import ValidationError
from starlette.requests import Request

from services.gateway import pathway_form as form
from services.gateway import studio_form
from services.gateway.problems import FieldError, ProblemError
from services.gateway.routes_pathways import PathwayCreate

A, B = str(uuid.uuid4()), str(uuid.uuid4())
TYPED = {
    "title": "Data path",
    "description": "",
    "required_count": "",
    "achievement.name": "Data Practitioner",
    "achievement.description": "Holds them all.",
    "achievement.criteria": "Earned them all.",
    "achievement.skills": " SQL, , Python ,",
    "achievement.image_url": "  ",
}


def _request(pairs: list[tuple[str, str]]) -> Request:
    body = urlencode(pairs).encode()
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
    }
    return Request(scope, receive)


def test_the_form_is_the_apis_body() -> None:
    body = form.pathway_body(TYPED, [A, B])
    assert body == {
        "title": "Data path",
        "description": "",
        "program_ids": [A, B],
        "required_count": 0,  # empty: all of them
        "achievement": {
            "name": "Data Practitioner",
            "description": "Holds them all.",
            "criteria": "Earned them all.",
            "skills": ["SQL", "Python"],
            "image_url": None,
        },
    }
    assert PathwayCreate.model_validate(body).required_count == 0


@pytest.mark.parametrize(
    ("typed", "expected"), [("2", 2), (" 1 ", 1), ("-1", -1), ("abc", "abc"), ("1e9", "1e9")]
)
def test_how_many_reaches_the_api_as_typed(typed: str, expected: Any) -> None:
    assert form.pathway_body({**TYPED, "required_count": typed}, [A, B])["required_count"] == (
        expected
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "Bad\x00title"}, "title"),
        ({"achievement.skills": "a\x00b"}, "achievement.skills[0]"),
        ({"required_count": "abc"}, "required_count"),
        ({"required_count": "21"}, "required_count"),
        ({"achievement.name": ""}, "achievement.name"),
    ],
)
def test_hostile_input_is_a_field_error_on_its_input(changes: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        PathwayCreate.model_validate(form.pathway_body({**TYPED, **changes}, [A, B]))
    problem = studio_form.as_problem(caught.value)
    assert field in {e.field for e in problem.errors}
    shown = studio_form.errors_for_form(problem, form.INPUTS)
    assert studio_form.input_for(field) in shown["errors"]
    assert shown["other_errors"] == []


def test_a_nul_program_id_is_refused_at_program_ids() -> None:
    with pytest.raises(ValidationError) as caught:
        PathwayCreate.model_validate(form.pathway_body(TYPED, [A, "x\x00y"]))
    shown = studio_form.errors_for_form(studio_form.as_problem(caught.value), form.INPUTS)
    assert "program_ids" in shown["errors"]


def test_catalog_paths_land_on_their_inputs_and_others_above_the_form() -> None:
    problem = ProblemError(
        422,
        "invalid pathway",
        slug="invalid-input",
        errors=[
            FieldError(field="program_ids[2]", message="no such program"),
            FieldError(field="achievement.image_url", message="must be an https URL"),
            FieldError(field="somewhere.else", message="odd"),
        ],
    )
    shown = studio_form.errors_for_form(problem, form.INPUTS)
    assert shown["errors"] == {
        "program_ids": "no such program",
        "achievement.image_url": "must be an https URL",
    }
    assert shown["other_errors"] == ["somewhere.else: odd"]


def test_chosen_programs_are_kept_once_in_order_and_bounded() -> None:
    many = [str(uuid.uuid4()) for _ in range(form.MAX_PROGRAMS + 10)]
    pairs = [("title", "T"), ("program_ids", B), ("program_ids", A), ("program_ids", B)]
    values, chosen = asyncio.run(form.form_values(_request(pairs)))
    assert values == {"title": "T"}
    assert chosen == [B, A]
    _, bounded = asyncio.run(form.form_values(_request([("program_ids", i) for i in many])))
    assert bounded == many[: form.MAX_PROGRAMS]


def test_only_program_ids_are_shown_again() -> None:
    typed = [A, "x\x00y", "not-a-uuid", A.upper(), "", "<script>", B]
    assert form.program_ids_to_show(typed) == [A, B]


def test_a_pathway_fills_the_form_it_came_from() -> None:
    body = form.pathway_body({**TYPED, "required_count": "1"}, [A, B])
    body["achievement"]["image_url"] = "https://badges.example/b.png"
    pathway = {**body, "required_count": 1}
    values, chosen = form.values_of(pathway)
    assert chosen == [A, B]
    assert form.pathway_body(values, chosen) == body
    # "all of them" shows as an empty "how many"
    values, _ = form.values_of({**pathway, "required_count": 2})
    assert values["required_count"] == ""
