"""The studio's pathway form and the API's JSON body (POST /api/v1/pathways, and PATCH
/api/v1/pathways/{id} to edit a draft), both ways:
what a person types reaches the API as typed (the API and the catalog validate it, nothing
here does), and their field errors come back to the inputs they name. The programs are
checkboxes named `program_ids`, one per chosen or found program."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request

from services.gateway.studio_form import number

# The form's inputs, named as the API's JSON paths (so an error's `field` finds its input).
TEXT_FIELDS = ("title", "description")
ACHIEVEMENT_TEXT = ("name", "description", "criteria")
INPUTS = frozenset(
    {*TEXT_FIELDS, "program_ids", "required_count", "achievement.skills", "achievement.image_url"}
    | {f"achievement.{n}" for n in ACHIEVEMENT_TEXT}
)
# A form never sends more programs than this on to the API (which allows 20): enough for
# the API to name "too many", and a bound on what a hostile form makes us carry.
MAX_PROGRAMS = 50


async def form_values(request: Request) -> tuple[dict[str, str], list[str]]:
    """The form's text inputs, and the chosen program ids in the order sent (repeats
    dropped: ticking a program that is listed twice on the page chooses it once)."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str) and k != "program_ids"}
    chosen = [v for v in form.getlist("program_ids") if isinstance(v, str)]
    return values, list(dict.fromkeys(chosen))[:MAX_PROGRAMS]


def pathway_body(values: dict[str, str], program_ids: list[str]) -> dict[str, Any]:
    """The form, as the JSON body of POST /api/v1/pathways. An empty "how many" is the
    API's default, 0: all of them."""
    skills = [s.strip() for s in values.get("achievement.skills", "").split(",")]
    image_url = values.get("achievement.image_url", "").strip()
    required = values.get("required_count", "").strip()
    return {
        **{name: values.get(name, "") for name in TEXT_FIELDS},
        "program_ids": program_ids,
        "required_count": number(required) if required else 0,
        "achievement": {
            **{n: values.get(f"achievement.{n}", "") for n in ACHIEVEMENT_TEXT},
            "skills": [s for s in skills if s],
            "image_url": image_url or None,
        },
    }


def patch_body(values: dict[str, str], program_ids: list[str]) -> dict[str, Any]:
    """The edit form, as the JSON body of PATCH /api/v1/pathways/{id}: every field, as the
    form shows them all (an empty "how many" is null: all of them)."""
    body = pathway_body(values, program_ids)
    if not values.get("required_count", "").strip():
        body["required_count"] = None
    return body


def values_of(pathway: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """A pathway (the API's JSON) as the form shows it, to edit it or start a new draft
    from it."""
    achievement = pathway["achievement"]
    required = pathway["required_count"]
    return (
        {
            **{name: pathway[name] for name in TEXT_FIELDS},
            "required_count": "" if required == len(pathway["program_ids"]) else str(required),
            **{f"achievement.{n}": achievement[n] for n in ACHIEVEMENT_TEXT},
            "achievement.skills": ", ".join(achievement["skills"]),
            "achievement.image_url": achievement["image_url"] or "",
        },
        list(pathway["program_ids"]),
    )


def program_ids_to_show(program_ids: list[str]) -> list[str]:
    """The chosen ids the form shows again as ticked boxes: ids of programs (canonical
    UUIDs). Anything else cannot have come from the form's own boxes; the API names it in
    its error, and it is not carried into the page."""
    shown = []
    for text in program_ids:
        try:
            shown.append(str(uuid.UUID(text)))
        except ValueError:
            continue
    return list(dict.fromkeys(shown))
