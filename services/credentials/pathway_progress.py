"""Every pathway a learner has started, with their progress on each (what /learning shows).

"Started" means: an open pathway naming a program the learner holds a valid credential
for, or any pathway whose credential the learner holds (an archived pathway they can no
longer earn is not shown until they hold it). Validity is pathways.py's rule
(`_valid_components`): ISSUED and not past validUntil.
"""

from __future__ import annotations

import asyncpg

from services.credentials import repository
from services.credentials.pathways import Progress, _definition


async def learner_progress(
    conn: asyncpg.Connection, learner_id: str, limit: int
) -> tuple[list[Progress], bool]:
    """Up to `limit` pathways the learner started, most advanced first (then by id, so the
    order is stable), and whether there were more."""
    held = await conn.fetch(
        """SELECT DISTINCT ON (program_id) * FROM credentials
           WHERE learner_id = $1 AND program_id IS NOT NULL AND status = 'ISSUED'
             AND (valid_until IS NULL OR valid_until > now())
           ORDER BY program_id, issued_at DESC, id DESC""",
        learner_id,
    )
    components = {str(r["program_id"]): repository.record_from_row(r) for r in held}
    standing = {
        str(r["pathway_id"]): str(r["id"])
        for r in await conn.fetch(
            """SELECT pathway_id, id FROM credentials
               WHERE learner_id = $1 AND pathway_id IS NOT NULL AND status = 'ISSUED'""",
            learner_id,
        )
    }
    if not components and not standing:
        return [], False
    rows = await conn.fetch(
        """SELECT * FROM pathways WHERE achievement IS NOT NULL
             AND ((open AND program_ids && $1::uuid[]) OR id = ANY($2::uuid[]))""",
        list(components),
        list(standing),
    )
    found = []
    for row in rows:
        pathway = _definition(row)
        mine = {p: components[p] for p in pathway.program_ids if p in components}
        found.append(Progress(pathway, learner_id, mine, standing.get(pathway.id, "")))
    found.sort(
        key=lambda p: (
            not p.pathway_credential_id,
            -min(len(p.components), p.pathway.required) / p.pathway.required,
            p.pathway.id,
        )
    )
    return found[:limit], len(found) > limit
