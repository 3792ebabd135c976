"""The "Pathways" section of /learning: the learner's progress on each pathway they started
(the credentials service decides which and how far), with the titles of its programs read
from the catalog in one batch call."""

from __future__ import annotations

from typing import Any

from upskill.credentials.v1 import credentials_service_pb2

from services.common.auth import Principal
from services.gateway.clients import Clients, invoke
from services.gateway.problems import ProblemError
from services.gateway.program_titles import program_titles

# The learner's furthest-along pathways shown; at most 20 programs each, one title batch.
LEARNING_PATHWAYS = 10


async def my_pathways(clients: Clients, learner: Principal) -> tuple[list[dict[str, Any]], bool]:
    """(one row per pathway, whether the learner started more than are shown)."""
    try:
        reply = await invoke(
            clients.credentials.ListMyPathwayProgress,
            credentials_service_pb2.ListMyPathwayProgressRequest(page_size=LEARNING_PATHWAYS),
            token=learner.token,
        )
    except ProblemError as exc:
        if exc.status == 403:
            return [], False  # not a learner (staff, admin): no pathways of their own
        raise
    titles = await program_titles(
        clients, learner.token, (r.program_id for p in reply.progress for r in p.requirements)
    )
    rows = []
    for p in reply.progress:
        earned = [r for r in p.requirements if r.credential_id]
        missing = [r for r in p.requirements if not r.credential_id]
        rows.append(
            {
                "id": p.pathway_id,
                "name": p.achievement_name,
                "earned_count": p.earned_count,
                "required_count": p.required_count,
                "of_count": len(p.requirements),
                "open": p.open,
                "credential_id": p.pathway_credential_id,
                "earned": [_program(r, titles) for r in earned],
                # A program the catalog no longer shows (archived) cannot be taken: no link.
                "missing": [_program(r, titles) for r in missing],
            }
        )
    return rows, reply.truncated


def _program(requirement: Any, titles: dict[str, str]) -> dict[str, Any]:
    title = titles.get(requirement.program_id, "")
    return {
        "program_id": requirement.program_id,
        "title": title or "A program no longer offered",
        "offered": bool(title),
        "credential_id": requirement.credential_id,
    }
