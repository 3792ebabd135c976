"""CredentialsService gRPC API."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg
import grpc
from google.protobuf import struct_pb2
from upskill.credentials.v1 import credentials_pb2, credentials_service_pb2_grpc
from upskill.credentials.v1 import credentials_service_pb2 as pb

from services.common.auth import Role, authenticated
from services.common.errors import NotFoundError, PermissionDeniedError
from services.common.protos import timestamp
from services.common.rpc import rpc
from services.common.sql import owned_page
from services.credentials import pathways, profiles, public_profiles, repository
from services.credentials.domain import CredentialRecord
from services.credentials.issuer import Issuer
from services.credentials.pathways_api import PathwaysApi


def credential_to_pb(c: CredentialRecord, earner_name: str = "") -> credentials_pb2.Credential:
    return credentials_pb2.Credential(
        id=c.id,
        enrollment_id=c.enrollment_id,
        program_id=c.program_id,
        provider_id=c.provider_id,
        learner_id=c.learner_id,
        status=credentials_pb2.CredentialStatus.Value(f"CREDENTIAL_STATUS_{c.status}"),
        jwt=c.jwt,
        issue_time=timestamp(c.issued_at),
        revoke_time=timestamp(c.revoked_at),
        revocation_reason=c.revocation_reason,
        achievement_name=c.achievement_name,
        pathway_id=c.pathway_id,
        earner_name=earner_name,
    )


def profile_to_pb(
    p: profiles.Profile, public: public_profiles.Settings
) -> credentials_pb2.LearnerProfile:
    return credentials_pb2.LearnerProfile(
        learner_id=p.learner_id,
        display_name=p.display_name,
        show_name=p.show_name,
        update_time=timestamp(p.updated_at),
        handle=public.handle,
        public=public.public,
        shown_credential_ids=public.credential_ids,
    )


async def _own_profile(conn: asyncpg.Connection, learner_id: str) -> credentials_pb2.LearnerProfile:
    return profile_to_pb(
        await profiles.get(conn, learner_id), await public_profiles.settings(conn, learner_id)
    )


def _verification_status(value: str) -> str:
    """The proto enum's name (messages take enum values by name)."""
    return f"VERIFICATION_STATUS_{value}"


class CredentialsApi(PathwaysApi, credentials_service_pb2_grpc.CredentialsServiceServicer):
    def __init__(self, pool: asyncpg.Pool, issuer: Issuer) -> None:
        self._pool = pool
        self._issuer = issuer

    @rpc(public=True)
    async def GetCredential(
        self, request: pb.GetCredentialRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetCredentialResponse:
        # Credentials are shared by link: holding the id is the permission.
        async with self._pool.acquire() as conn:
            record = await repository.get(conn, request.credential_id)
            profile = await profiles.get(conn, record.learner_id)
            found = credential_to_pb(record, profile.shown_name)
            if record.pathway_id:
                found.component_credential_ids.extend(await pathways.components_of(conn, record.id))
        return pb.GetCredentialResponse(credential=found)

    @rpc(Role.LEARNER)
    async def GetLearnerProfile(
        self, request: pb.GetLearnerProfileRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetLearnerProfileResponse:
        async with self._pool.acquire() as conn:
            profile = await _own_profile(conn, authenticated().subject)
        return pb.GetLearnerProfileResponse(profile=profile)

    @rpc(Role.LEARNER)
    async def UpdateLearnerProfile(
        self, request: pb.UpdateLearnerProfileRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateLearnerProfileResponse:
        name = profiles.clean_display_name(request.display_name)
        learner_id = authenticated().subject
        async with self._pool.acquire() as conn:
            await profiles.save(conn, learner_id, name, request.show_name and bool(name))
            profile = await _own_profile(conn, learner_id)
        return pb.UpdateLearnerProfileResponse(profile=profile)

    @rpc(Role.LEARNER)
    async def UpdatePublicProfile(
        self, request: pb.UpdatePublicProfileRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdatePublicProfileResponse:
        handle = public_profiles.clean_handle(request.handle)
        name = (
            profiles.clean_display_name(request.display_name)
            if request.HasField("display_name")
            else None
        )
        learner_id = authenticated().subject
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                if name is not None or request.HasField("show_name"):
                    current = await profiles.get(conn, learner_id)
                    name = current.display_name if name is None else name
                    show = request.show_name if request.HasField("show_name") else current.show_name
                    await profiles.save(conn, learner_id, name, show and bool(name))
                await public_profiles.save(
                    conn,
                    learner_id,
                    handle=handle,
                    public=request.public,
                    credential_ids=list(request.credential_ids),
                )
            profile = await _own_profile(conn, learner_id)
        return pb.UpdatePublicProfileResponse(profile=profile)

    @rpc(public=True)
    async def GetPublicProfile(
        self, request: pb.GetPublicProfileRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPublicProfileResponse:
        async with self._pool.acquire() as conn:
            found = await public_profiles.find_public(conn, request.handle)
            verdicts = await self._issuer.verify_many(conn, [c.jwt for c in found.credentials])
        now = datetime.now(UTC)
        shown = []
        for record, verdict in zip(found.credentials, verdicts, strict=True):
            facts = public_profiles.achievement_facts(record.jwt)
            credential = credential_to_pb(record, found.display_name)
            credential.learner_id = ""  # the profile is the learner's public face, not their id
            item = credentials_pb2.ShownCredential(
                credential=credential,
                skills=facts.skills,
                issuer_name=facts.issuer_name,
                status=_verification_status(verdict.status.value),
                verified=verdict.verified,
                checks=[
                    credentials_pb2.VerificationCheck(name=c.name, passed=c.passed, detail=c.detail)
                    for c in verdict.checks
                ],
                valid_until=timestamp(facts.valid_until),
            )
            shown.append(item)
        return pb.GetPublicProfileResponse(
            profile=credentials_pb2.PublicProfile(
                handle=found.handle,
                display_name=found.display_name,
                credentials=shown,
                verify_time=timestamp(now),
            )
        )

    @rpc(Role.LEARNER, Role.PROVIDER, Role.ADMIN, Role.SERVICE)
    async def ListCredentials(
        self, request: pb.ListCredentialsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCredentialsResponse:
        rows, next_token = await owned_page(
            self._pool,
            request,
            repository.LISTING,
            repository.list_for,
            lambda r: (r.issued_at, r.id),
        )
        return pb.ListCredentialsResponse(
            credentials=[credential_to_pb(c) for c in rows], next_page_token=next_token
        )

    @rpc(public=True)
    async def VerifyCredential(
        self, request: pb.VerifyCredentialRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyCredentialResponse:
        async with self._pool.acquire() as conn:
            verdict = await self._issuer.verify(conn, request.credential.strip())
        response = pb.VerifyCredentialResponse(
            verified=verdict.verified,
            status=_verification_status(verdict.status.value),
            checks=[
                credentials_pb2.VerificationCheck(name=c.name, passed=c.passed, detail=c.detail)
                for c in verdict.checks
            ],
        )
        if verdict.credential is not None:
            decoded = struct_pb2.Struct()
            decoded.update(json.loads(json.dumps(verdict.credential)))
            response.credential.CopyFrom(decoded)
        return response

    @rpc(Role.ADMIN, Role.PROVIDER)
    async def RevokeCredential(
        self, request: pb.RevokeCredentialRequest, context: grpc.aio.ServicerContext
    ) -> pb.RevokeCredentialResponse:
        principal = authenticated()
        async with self._pool.acquire() as conn, conn.transaction():
            record = await repository.get(conn, request.credential_id, for_update=True)
            if principal.role is Role.PROVIDER and principal.provider_id != record.provider_id:
                raise PermissionDeniedError("only the issuing provider may revoke this credential")
            await self._issuer.revoke(conn, record, request.reason.strip())
        return pb.RevokeCredentialResponse(credential=credential_to_pb(record))

    @rpc(public=True)
    async def GetJwks(
        self, request: pb.GetJwksRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetJwksResponse:
        async with self._pool.acquire() as conn:
            jwks = await self._issuer.jwks(conn)
        return pb.GetJwksResponse(jwks_json=json.dumps(jwks))

    @rpc(public=True)
    async def GetStatusList(
        self, request: pb.GetStatusListRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetStatusListResponse:
        async with self._pool.acquire() as conn:
            found = await self._issuer.status_list(conn, request.list_id)
        if found is None:
            raise NotFoundError(f"status list {request.list_id} not found")
        jwt, credential = found
        return pb.GetStatusListResponse(jwt=jwt, credential_json=json.dumps(credential))
