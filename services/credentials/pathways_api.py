"""The pathway RPC of CredentialsService: a learner's progress on a pathway."""

from __future__ import annotations

import asyncpg
import grpc
from upskill.credentials.v1 import credentials_pb2
from upskill.credentials.v1 import credentials_service_pb2 as pb

from services.common.auth import Role, authenticated
from services.common.rpc import rpc
from services.credentials import pathways


class PathwaysApi:
    """Mixed into CredentialsApi, which provides the pool."""

    _pool: asyncpg.Pool

    @rpc(Role.LEARNER)
    async def GetPathwayProgress(
        self, request: pb.GetPathwayProgressRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPathwayProgressResponse:
        learner_id = authenticated().subject
        async with self._pool.acquire() as conn:
            found = await pathways.progress(conn, request.pathway_id, learner_id)
        return pb.GetPathwayProgressResponse(
            progress=credentials_pb2.PathwayProgress(
                pathway_id=found.pathway.id,
                learner_id=learner_id,
                required_count=found.pathway.required,
                earned_count=min(len(found.components), found.pathway.required),
                requirements=[
                    credentials_pb2.PathwayRequirement(
                        program_id=program_id,
                        credential_id=c.id if (c := found.components.get(program_id)) else "",
                    )
                    for program_id in found.pathway.program_ids
                ],
                pathway_credential_id=found.pathway_credential_id,
                open=found.pathway.open,
            )
        )
