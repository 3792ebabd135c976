"""BatchGetPrograms: several programs in one call, for pages that show many program titles
(the studio's earnings, a learner's pathways) without one GetProgram per row. Who may read
which program is GetProgram's rule (Program.visible_to), applied to each."""

from __future__ import annotations

import asyncpg
import grpc
from upskill.catalog.v1 import catalog_service_pb2 as pb

from services.catalog import repository
from services.catalog.convert import program_to_pb
from services.catalog.domain import Program
from services.common.auth import current_principal
from services.common.rpc import rpc


async def get_programs(conn: asyncpg.Connection, program_ids: list[str]) -> list[Program]:
    rows = await conn.fetch(
        f"""SELECT {repository.PROGRAM_COLUMNS} FROM programs p
            JOIN providers v ON v.id = p.provider_id
            WHERE p.id = ANY($1::uuid[]) ORDER BY p.id""",
        program_ids,
    )
    return [repository.program_from_row(r) for r in rows]


class ProgramsBatchApi:
    """Mixed into CatalogApi, which provides the pool."""

    _pool: asyncpg.Pool

    @rpc(public=True)
    async def BatchGetPrograms(
        self, request: pb.BatchGetProgramsRequest, context: grpc.aio.ServicerContext
    ) -> pb.BatchGetProgramsResponse:
        principal = current_principal()
        privileged = principal is not None and principal.is_privileged
        owner = principal.provider_id if principal is not None else ""
        if not request.program_ids:
            return pb.BatchGetProgramsResponse()
        async with self._pool.acquire() as conn:
            programs = await get_programs(conn, list(request.program_ids))
        return pb.BatchGetProgramsResponse(
            programs=[program_to_pb(p) for p in programs if p.visible_to(owner, privileged)]
        )
