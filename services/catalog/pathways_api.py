"""The pathway RPCs of CatalogService: authorisation and ownership here, rules in
services/catalog/pathways.py, persistence and events in services/catalog/pathway_store.py."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import grpc
from upskill.catalog.v1 import catalog_service_pb2 as pb

from services.catalog import pathway_store, repository
from services.catalog.domain import ensure_may_change
from services.catalog.pathways import Pathway
from services.common.auth import Role, authenticated, current_principal
from services.common.errors import NotFoundError, PermissionDeniedError
from services.common.paging import Page
from services.common.rpc import rpc


class PathwaysApi:
    """Mixed into CatalogApi, which provides the pool."""

    _pool: asyncpg.Pool

    async def _owned_pathway(self, conn: asyncpg.Connection, pathway_id: str) -> Pathway:
        """The pathway, locked for update, if the caller's provider owns it (or an admin)."""
        principal = authenticated()
        pathway = await pathway_store.get(conn, pathway_id, for_update=True)
        ensure_may_change(
            "pathway",
            pathway_id,
            pathway.provider_id,
            caller=principal.provider_id,
            admin=principal.role is Role.ADMIN,
            visible=pathway.visible_to(principal.provider_id, privileged=False),
        )
        return pathway

    @rpc(Role.PROVIDER)
    async def CreatePathway(
        self, request: pb.CreatePathwayRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreatePathwayResponse:
        principal = authenticated()
        spec = pathway_store.spec_from_pb(request.spec)
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                provider = await repository.get_provider(conn, principal.provider_id)
            except NotFoundError:
                raise PermissionDeniedError(
                    f"provider {principal.provider_id} in the token does not exist"
                ) from None
            shown = await pathway_store.programs(conn, list(spec.program_ids))
            pathway = Pathway.draft(provider, spec, pathway_store.refs(shown))
            await pathway_store.commit(conn, pathway, new=True)
        return pb.CreatePathwayResponse(pathway=pathway_store.pathway_to_pb(pathway, shown))

    @rpc(public=True)
    async def GetPathway(
        self, request: pb.GetPathwayRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPathwayResponse:
        principal = current_principal()
        async with self._pool.acquire() as conn:
            pathway = await pathway_store.get(conn, request.pathway_id)
            privileged = principal is not None and principal.is_privileged
            owner = principal.provider_id if principal is not None else ""
            if not pathway.visible_to(owner, privileged):
                raise NotFoundError(f"pathway {request.pathway_id} not found")
            shown = await pathway_store.programs(conn, list(pathway.spec.program_ids))
        return pb.GetPathwayResponse(pathway=pathway_store.pathway_to_pb(pathway, shown))

    @rpc(public=True)
    async def ListPathways(
        self, request: pb.ListPathwaysRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPathwaysResponse:
        page = Page.request(
            pathway_store.PUBLISHED,
            request.page_token,
            request.page_size,
            _Filter(request.provider_id),
        )
        async with self._pool.acquire() as conn:
            found = await pathway_store.list_published(conn, request.provider_id, page)
            found, next_token = page.split(found, lambda p: (p.created_at, p.id))
            ids = sorted({i for p in found for i in p.spec.program_ids})
            shown = await pathway_store.programs(conn, ids)
        return pb.ListPathwaysResponse(
            pathways=[pathway_store.pathway_to_pb(p, shown) for p in found],
            next_page_token=next_token,
        )

    @rpc(Role.PROVIDER, Role.ADMIN)
    async def PublishPathway(
        self, request: pb.PublishPathwayRequest, context: grpc.aio.ServicerContext
    ) -> pb.PublishPathwayResponse:
        async with self._pool.acquire() as conn, conn.transaction():
            pathway = await self._owned_pathway(conn, request.pathway_id)
            # Lock the programs too: none may be archived between the check and the commit.
            await conn.execute(
                "SELECT 1 FROM programs WHERE id = ANY($1::uuid[]) FOR SHARE",
                list(pathway.spec.program_ids),
            )
            shown = await pathway_store.programs(conn, list(pathway.spec.program_ids))
            pathway.publish(pathway_store.refs(shown))
            await pathway_store.commit(conn, pathway)
        return pb.PublishPathwayResponse(pathway=pathway_store.pathway_to_pb(pathway, shown))

    @rpc(Role.PROVIDER, Role.ADMIN)
    async def ArchivePathway(
        self, request: pb.ArchivePathwayRequest, context: grpc.aio.ServicerContext
    ) -> pb.ArchivePathwayResponse:
        async with self._pool.acquire() as conn, conn.transaction():
            pathway = await self._owned_pathway(conn, request.pathway_id)
            pathway.archive()
            await pathway_store.commit(conn, pathway)
            shown = await pathway_store.programs(conn, list(pathway.spec.program_ids))
        return pb.ArchivePathwayResponse(pathway=pathway_store.pathway_to_pb(pathway, shown))


@dataclass(frozen=True)
class _Filter:
    """The listing's filters, for the page token's fingerprint."""

    provider_id: str
