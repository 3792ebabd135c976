"""CatalogService gRPC API: authorisation and ownership here, rules in the domain."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import fields

import asyncpg
import grpc
from upskill.catalog.v1 import catalog_service_pb2 as pb
from upskill.catalog.v1 import catalog_service_pb2_grpc

from services.catalog import memberships, repository, unit_of_work
from services.catalog.convert import program_to_pb, provider_to_pb, spec_from_patch, spec_from_pb
from services.catalog.domain import (
    UPDATABLE,
    CredentialTemplate,
    Program,
    Provider,
    ensure_may_change,
    merge,
    provider_name,
)
from services.catalog.pathways_api import PathwaysApi
from services.catalog.programs_batch import ProgramsBatchApi
from services.common.auth import Role, authenticated, current_principal
from services.common.errors import (
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from services.common.rpc import rpc

_CREDENTIAL_FIELDS = frozenset(f.name for f in fields(CredentialTemplate))


def _check_mask(paths: list[str]) -> None:
    bad = []
    for path in paths:
        top, _, sub = path.partition(".")
        if top not in UPDATABLE or (sub and (top != "credential" or sub not in _CREDENTIAL_FIELDS)):
            bad.append(FieldViolation("update_mask", f"unknown or read-only path {path!r}"))
    if not paths:
        bad.append(FieldViolation("update_mask", "must name at least one field"))
    if bad:
        raise InvalidArgumentError("invalid update_mask", bad)


class CatalogApi(PathwaysApi, ProgramsBatchApi, catalog_service_pb2_grpc.CatalogServiceServicer):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def _owned_program(self, conn: asyncpg.Connection, program_id: str) -> Program:
        """The program, locked for update, if the caller owns it (or is an admin)."""
        principal = authenticated()
        program = await repository.get_program(conn, program_id, for_update=True)
        ensure_may_change(
            "program",
            program_id,
            program.provider_id,
            caller=principal.provider_id,
            admin=principal.role is Role.ADMIN,
            visible=program.visible_to(principal.provider_id, privileged=False),
        )
        return program

    @rpc(Role.ADMIN)
    async def CreateProvider(
        self, request: pb.CreateProviderRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateProviderResponse:
        provider = Provider(
            id=str(uuid.uuid4()),
            name=provider_name(request.name),
            website=request.website,
            email=request.email,
        )
        async with self._pool.acquire() as conn:
            await repository.add_provider(conn, provider)
        return pb.CreateProviderResponse(provider=provider_to_pb(provider))

    @rpc(public=True)
    async def GetProvider(
        self, request: pb.GetProviderRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetProviderResponse:
        async with self._pool.acquire() as conn:
            provider = await repository.get_provider(conn, request.provider_id)
        return pb.GetProviderResponse(provider=provider_to_pb(provider))

    @rpc(Role.PROVIDER)
    async def CreateProgram(
        self, request: pb.CreateProgramRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateProgramResponse:
        principal = authenticated()
        async with self._pool.acquire() as conn, conn.transaction():
            try:
                provider = await repository.get_provider(conn, principal.provider_id)
            except NotFoundError:
                raise PermissionDeniedError(
                    f"provider {principal.provider_id} in the token does not exist"
                ) from None
            program = Program.draft(provider, spec_from_pb(request.spec))
            await unit_of_work.commit(conn, program, new=True)
        return pb.CreateProgramResponse(program=program_to_pb(program))

    @rpc(Role.PROVIDER, Role.ADMIN)
    async def UpdateProgram(
        self, request: pb.UpdateProgramRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateProgramResponse:
        paths = list(request.update_mask.paths)
        _check_mask(paths)
        async with self._pool.acquire() as conn, conn.transaction():
            program = await self._owned_program(conn, request.program_id)
            values = (
                spec_from_patch(program.spec, request.patch, paths)
                if request.HasField("patch")
                else spec_from_pb(request.spec)
            )
            program.update(request.expected_version, merge(program.spec, values, paths))
            await unit_of_work.commit(conn, program)
        return pb.UpdateProgramResponse(program=program_to_pb(program))

    @rpc(Role.PROVIDER, Role.ADMIN)
    async def PublishProgram(
        self, request: pb.PublishProgramRequest, context: grpc.aio.ServicerContext
    ) -> pb.PublishProgramResponse:
        async with self._pool.acquire() as conn, conn.transaction():
            program = await self._owned_program(conn, request.program_id)
            program.publish()
            await unit_of_work.commit(conn, program)
        return pb.PublishProgramResponse(program=program_to_pb(program))

    @rpc(Role.PROVIDER, Role.ADMIN)
    async def ArchiveProgram(
        self, request: pb.ArchiveProgramRequest, context: grpc.aio.ServicerContext
    ) -> pb.ArchiveProgramResponse:
        async with self._pool.acquire() as conn, conn.transaction():
            program = await self._owned_program(conn, request.program_id)
            program.archive()
            await unit_of_work.commit(conn, program)
        return pb.ArchiveProgramResponse(program=program_to_pb(program))

    @rpc(public=True)
    async def GetProgram(
        self, request: pb.GetProgramRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetProgramResponse:
        principal = current_principal()
        async with self._pool.acquire() as conn:
            program = await repository.get_program(conn, request.program_id)
        privileged = principal is not None and principal.is_privileged
        owner = principal.provider_id if principal is not None else ""
        if not program.visible_to(owner, privileged):
            raise NotFoundError(f"program {request.program_id} not found")
        return pb.GetProgramResponse(program=program_to_pb(program))

    @rpc(public=True)
    async def ListPrograms(
        self, request: pb.ListProgramsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProgramsResponse:
        filters = repository.CatalogFilter(
            query=request.query.strip(),
            skill=request.skill.strip(),
            provider_id=request.provider_id,
            max_price_minor=(
                request.max_price_minor if request.HasField("max_price_minor") else None
            ),
            min_duration_hours=(
                request.min_duration_hours if request.HasField("min_duration_hours") else None
            ),
            max_duration_hours=(
                request.max_duration_hours if request.HasField("max_duration_hours") else None
            ),
            include_unpublished=request.include_unpublished,
        )
        listing = repository.PUBLISHED
        if filters.include_unpublished:
            memberships.require_staff_of(request.provider_id, "programs")
            listing = repository.PROVIDER_PROGRAMS
        async with self._pool.acquire() as conn:
            programs, page = await repository.find_programs(
                conn, filters, listing, request.page_token, request.page_size
            )
        programs, next_token = page.split(programs, lambda p: (p.created_at, p.id))
        return pb.ListProgramsResponse(
            programs=[program_to_pb(p) for p in programs], next_page_token=next_token
        )

    @rpc(Role.LEARNER, Role.PROVIDER, Role.ADMIN)
    async def ListMyProviders(
        self, request: pb.ListMyProvidersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListMyProvidersResponse:
        principal = authenticated()
        async with self._pool.acquire() as conn:
            rows = await repository.my_providers(conn, principal.subject)
            if principal.role is Role.PROVIDER and principal.provider_id not in {
                provider.id for provider, _ in rows
            }:
                # A dev-mode provider token (or one acting for its provider) names its
                # provider itself: that one is the caller's too.
                with contextlib.suppress(NotFoundError):
                    own = await repository.get_provider(conn, principal.provider_id)
                    rows.insert(0, (own, memberships.STAFF))
        return pb.ListMyProvidersResponse(
            memberships=[
                pb.ProviderMembership(
                    provider=provider_to_pb(provider), role=memberships.role_value(role)
                )
                for provider, role in rows
            ]
        )

    @rpc(Role.ADMIN)
    async def FindProviders(
        self, request: pb.FindProvidersRequest, context: grpc.aio.ServicerContext
    ) -> pb.FindProvidersResponse:
        async with self._pool.acquire() as conn:
            providers = await repository.find_providers(conn, request.name)
        return pb.FindProvidersResponse(providers=[provider_to_pb(p) for p in providers])

    # ------------------------------------------------------------ provider staff

    @rpc(Role.LEARNER, Role.PROVIDER, Role.ADMIN)
    async def InviteMember(
        self, request: pb.InviteMemberRequest, context: grpc.aio.ServicerContext
    ) -> pb.InviteMemberResponse:
        async with self._pool.acquire() as conn:
            row = await memberships.invite(
                conn,
                authenticated(),
                request.provider_id,
                request.email,
                memberships.role_name(request.role),
            )
        return pb.InviteMemberResponse(invitation=memberships.invitation_to_pb(row))

    @rpc(Role.LEARNER, Role.PROVIDER, Role.ADMIN)
    async def AddMember(
        self, request: pb.AddMemberRequest, context: grpc.aio.ServicerContext
    ) -> pb.AddMemberResponse:
        async with self._pool.acquire() as conn:
            row = await memberships.add(
                conn,
                authenticated(),
                request.provider_id,
                request.subject,
                memberships.role_name(request.role),
            )
        return pb.AddMemberResponse(member=memberships.member_to_pb(row))

    @rpc(Role.LEARNER, Role.PROVIDER, Role.ADMIN)
    async def AcceptInvitation(
        self, request: pb.AcceptInvitationRequest, context: grpc.aio.ServicerContext
    ) -> pb.AcceptInvitationResponse:
        async with self._pool.acquire() as conn:
            row = await memberships.accept(conn, authenticated(), request.invitation_id)
        return pb.AcceptInvitationResponse(member=memberships.member_to_pb(row))

    @rpc(Role.LEARNER, Role.PROVIDER, Role.ADMIN, Role.SERVICE)
    async def ListMembers(
        self, request: pb.ListMembersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListMembersResponse:
        async with self._pool.acquire() as conn:
            members, invitations = await memberships.listing(
                conn, authenticated(), request.provider_id
            )
        return pb.ListMembersResponse(
            members=[memberships.member_to_pb(m) for m in members],
            invitations=[memberships.invitation_to_pb(i) for i in invitations],
        )

    @rpc(Role.LEARNER, Role.PROVIDER, Role.ADMIN)
    async def GetMembership(
        self, request: pb.GetMembershipRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetMembershipResponse:
        principal = authenticated()
        async with self._pool.acquire() as conn:
            row = await memberships.membership(conn, request.provider_id, principal.subject)
        if row is None:
            raise NotFoundError(f"you are not a member of provider {request.provider_id}")
        return pb.GetMembershipResponse(member=memberships.member_to_pb(row))
