"""The pathway RPCs of CatalogService: authorisation and ownership here, rules in
services/catalog/pathways.py, persistence and events in services/catalog/pathway_store.py."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import grpc
from upskill.catalog.v1 import catalog_service_pb2 as pb

from services.catalog import memberships, pathway_store, repository
from services.catalog.domain import ensure_may_change
from services.catalog.pathways import Consent, ConsentDecision, Pathway, reconcile_consents
from services.common.auth import Role, authenticated, current_principal
from services.common.errors import (
    FailedPreconditionError,
    NotFoundError,
    PermissionDeniedError,
)
from services.common.paging import Page
from services.common.rpc import rpc

_DECISIONS = {
    pb.CONSENT_DECISION_GRANT: ConsentDecision.GRANT,
    pb.CONSENT_DECISION_REFUSE: ConsentDecision.REFUSE,
    pb.CONSENT_DECISION_WITHDRAW: ConsentDecision.WITHDRAW,
}


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
            refs = pathway_store.refs(shown)
            pathway = Pathway.draft(provider, spec, refs)
            await pathway_store.commit(conn, pathway, new=True)
            # Another provider's program: its consent is asked for at once.
            for program in pathway.foreign_programs(refs):
                await pathway_store.add_consent(conn, Consent.request(pathway, program))
            consents = await pathway_store.consent_statuses(conn, pathway.id)
        return pb.CreatePathwayResponse(
            pathway=pathway_store.pathway_to_pb(pathway, shown, consents)
        )

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
            consents = await pathway_store.consent_statuses(conn, pathway.id)
        return pb.GetPathwayResponse(pathway=pathway_store.pathway_to_pb(pathway, shown, consents))

    @rpc(public=True)
    async def ListPathways(
        self, request: pb.ListPathwaysRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPathwaysResponse:
        listing = pathway_store.PUBLISHED
        if request.include_unpublished:
            # The same rule as ListPrograms' drafts: the provider's own staff, admins.
            memberships.require_staff_of(request.provider_id, "pathways")
            listing = pathway_store.PROVIDER_PATHWAYS
        page = Page.request(
            listing, request.page_token, request.page_size, _Filter(request.provider_id)
        )
        async with self._pool.acquire() as conn:
            found = await pathway_store.list_published(
                conn, request.provider_id, page, include_unpublished=request.include_unpublished
            )
            found, next_token = page.split(found, lambda p: (p.created_at, p.id))
            ids = sorted({i for p in found for i in p.spec.program_ids})
            shown = await pathway_store.programs(conn, ids)
            consents = await pathway_store.consents_of(conn, [p.id for p in found])
        return pb.ListPathwaysResponse(
            pathways=[pathway_store.pathway_to_pb(p, shown, consents.get(p.id, {})) for p in found],
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
            # A consent is decided with the pathway locked (DecidePathwayConsent), so none
            # is withdrawn between this read and the commit.
            consents = await pathway_store.consent_statuses(conn, pathway.id)
            pathway.publish(pathway_store.refs(shown), consents)
            await pathway_store.commit(conn, pathway)
        return pb.PublishPathwayResponse(
            pathway=pathway_store.pathway_to_pb(pathway, shown, consents)
        )

    @rpc(Role.PROVIDER, Role.ADMIN)
    async def ArchivePathway(
        self, request: pb.ArchivePathwayRequest, context: grpc.aio.ServicerContext
    ) -> pb.ArchivePathwayResponse:
        async with self._pool.acquire() as conn, conn.transaction():
            pathway = await self._owned_pathway(conn, request.pathway_id)
            pathway.archive()
            await pathway_store.commit(conn, pathway)
            shown = await pathway_store.programs(conn, list(pathway.spec.program_ids))
            consents = await pathway_store.consent_statuses(conn, pathway.id)
        return pb.ArchivePathwayResponse(
            pathway=pathway_store.pathway_to_pb(pathway, shown, consents)
        )

    @rpc(Role.PROVIDER, Role.ADMIN)
    async def UpdatePathway(
        self, request: pb.UpdatePathwayRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdatePathwayResponse:
        paths = list(request.update_mask.paths)
        async with self._pool.acquire() as conn, conn.transaction():
            # The pathway's lock orders concurrent edits, consent decisions and publishing.
            pathway = await self._owned_pathway(conn, request.pathway_id)
            spec = pathway_store.spec_from_patch(pathway.spec, request.patch, paths)
            shown = await pathway_store.programs(conn, list(spec.program_ids))
            refs = pathway_store.refs(shown)
            pathway.revise(request.expected_version, spec, refs)
            consents = await pathway_store.consents_by_program(conn, pathway.id)
            added, changed = reconcile_consents(pathway, refs, consents)
            await pathway_store.save(conn, pathway)
            for consent in added:
                await pathway_store.add_consent(conn, consent)
            for consent in changed:
                await pathway_store.save_consent(conn, consent)
            statuses = await pathway_store.consent_statuses(conn, pathway.id)
        return pb.UpdatePathwayResponse(
            pathway=pathway_store.pathway_to_pb(pathway, shown, statuses)
        )

    # ------------------------------------------------------------ consents

    @rpc(Role.PROVIDER, Role.ADMIN)
    async def RequestPathwayConsent(
        self, request: pb.RequestPathwayConsentRequest, context: grpc.aio.ServicerContext
    ) -> pb.RequestPathwayConsentResponse:
        async with self._pool.acquire() as conn, conn.transaction():
            # The pathway's lock orders concurrent requests, decisions and publishing.
            pathway = await self._owned_pathway(conn, request.pathway_id)
            consent = await pathway_store.find_consent(conn, pathway.id, request.program_id)
            if consent is None:
                shown = await pathway_store.programs(conn, [request.program_id])
                program = pathway_store.refs(shown).get(request.program_id)
                if program is None or request.program_id not in pathway.spec.program_ids:
                    raise FailedPreconditionError(
                        f"pathway {pathway.id} names no program {request.program_id}"
                    )
                consent = await pathway_store.add_consent(conn, Consent.request(pathway, program))
            elif consent.ask_again(pathway):
                await pathway_store.save_consent(conn, consent)
            view = await pathway_store.view_consent(conn, consent.id)
        return pb.RequestPathwayConsentResponse(consent=pathway_store.consent_to_pb(view))

    @rpc(Role.PROVIDER, Role.ADMIN)
    async def DecidePathwayConsent(
        self, request: pb.DecidePathwayConsentRequest, context: grpc.aio.ServicerContext
    ) -> pb.DecidePathwayConsentResponse:
        principal = authenticated()
        async with self._pool.acquire() as conn, conn.transaction():
            found = await pathway_store.get_consent(conn, request.consent_id)
            # The program's provider decides; the requester may see it (403), anyone
            # else learns nothing of it (404).
            ensure_may_change(
                "consent",
                request.consent_id,
                found.provider_id,
                caller=principal.provider_id,
                admin=principal.role is Role.ADMIN,
                visible=principal.provider_id == found.requester_id,
            )
            # Pathway first, then the consent: the order PublishPathway locks them in.
            pathway = await pathway_store.get(conn, found.pathway_id, for_update=True)
            consent = await pathway_store.get_consent(conn, request.consent_id, for_update=True)
            consent.decide(_DECISIONS[request.decision], pathway, principal.subject)
            await pathway_store.save_consent(conn, consent)
            if pathway.events:  # a withdrawal archived the published pathway
                await pathway_store.commit(conn, pathway)
            view = await pathway_store.view_consent(conn, consent.id)
        return pb.DecidePathwayConsentResponse(consent=pathway_store.consent_to_pb(view))

    @rpc(Role.PROVIDER, Role.ADMIN)
    async def ListPathwayConsents(
        self, request: pb.ListPathwayConsentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPathwayConsentsResponse:
        principal = authenticated()
        if principal.role is not Role.ADMIN and principal.provider_id != request.provider_id:
            raise PermissionDeniedError("only the provider's own staff may list its consents")
        listing = (
            pathway_store.INCOMING
            if request.direction == pb.CONSENT_DIRECTION_INCOMING
            else pathway_store.OUTGOING
        )
        status = pathway_store.CONSENT_STATUS_FROM_PB.get(request.status)
        filters = pathway_store.ConsentFilter(
            request.provider_id, status.value if status is not None else ""
        )
        page = Page.request(listing, request.page_token, request.page_size, filters)
        async with self._pool.acquire() as conn:
            found = await pathway_store.list_consents(conn, filters, page)
        found, next_token = page.split(found, lambda v: (v.consent.created_at, v.consent.id))
        return pb.ListPathwayConsentsResponse(
            consents=[pathway_store.consent_to_pb(v) for v in found],
            next_page_token=next_token,
        )


@dataclass(frozen=True)
class _Filter:
    """The listing's filters, for the page token's fingerprint."""

    provider_id: str
