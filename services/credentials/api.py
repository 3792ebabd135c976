"""CredentialsService gRPC API."""

from __future__ import annotations

import json

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
from services.credentials import pathways, profiles, repository
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


def profile_to_pb(p: profiles.Profile) -> credentials_pb2.LearnerProfile:
    return credentials_pb2.LearnerProfile(
        learner_id=p.learner_id,
        display_name=p.display_name,
        show_name=p.show_name,
        update_time=timestamp(p.updated_at),
    )


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
            profile = await profiles.get(conn, authenticated().subject)
        return pb.GetLearnerProfileResponse(profile=profile_to_pb(profile))

    @rpc(Role.LEARNER)
    async def UpdateLearnerProfile(
        self, request: pb.UpdateLearnerProfileRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateLearnerProfileResponse:
        name = profiles.clean_display_name(request.display_name)
        async with self._pool.acquire() as conn:
            profile = await profiles.save(
                conn, authenticated().subject, name, request.show_name and bool(name)
            )
        return pb.UpdateLearnerProfileResponse(profile=profile_to_pb(profile))

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
            status=credentials_pb2.VerificationStatus.Value(
                f"VERIFICATION_STATUS_{verdict.status.value}"
            ),
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
