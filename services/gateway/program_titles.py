"""Program titles for pages that list many programs by id (earnings rows, pathway
requirements): one BatchGetPrograms call per 200 ids, never one GetProgram per row. The
catalog decides which programs the caller may read; the others have no title here."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from upskill.catalog.v1 import catalog_service_pb2

from services.gateway.clients import Clients, invoke

BATCH = 200  # BatchGetProgramsRequest.program_ids max_items


async def program_titles(
    clients: Clients, token: str, program_ids: Iterable[str]
) -> dict[str, str]:
    ids = sorted(set(program_ids))
    if not ids:
        return {}
    replies = await asyncio.gather(
        *(
            invoke(
                clients.catalog.BatchGetPrograms,
                catalog_service_pb2.BatchGetProgramsRequest(program_ids=ids[i : i + BATCH]),
                token=token,
            )
            for i in range(0, len(ids), BATCH)
        )
    )
    return {p.id: p.spec.title for reply in replies for p in reply.programs}
