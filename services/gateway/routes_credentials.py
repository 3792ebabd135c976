"""Credentials: the API, the issuer key set and the revocation status lists."""

from __future__ import annotations

import json
import re
from typing import Annotated

from fastapi import APIRouter, Query, Response
from upskill.credentials.v1 import credentials_service_pb2

from services.gateway import mapping, routes_ob3
from services.gateway.clients import invoke
from services.gateway.dependencies import (
    OPTIONAL_BEARER,
    Caller,
    ClientsDep,
    MaybeCaller,
    resource_id,
    token_of,
    uuid_path,
)
from services.gateway.problems import not_found, problem_responses
from services.gateway.schemas import (
    Credential,
    CredentialList,
    CredentialRevoke,
    Text,
    UuidText,
    VerifyRequest,
    VerifyResult,
)

router = APIRouter(tags=["credentials"])
# The Open Badges 3.0 API for wallets: the same credentials, in the OB 3.0 protocol.
router.include_router(routes_ob3.router)

JWKS_MEDIA_TYPE = "application/jwk-set+json"
JWK_MEDIA_TYPE = "application/jwk+json"
VC_JWT_MEDIA_TYPE = "application/vc+jwt"
# Keys change rarely (rotation adds one); status lists change on every revocation, so
# verifiers may cache them only briefly.
JWKS_CACHE_CONTROL = "public, max-age=300"
STATUS_LIST_CACHE_CONTROL = "public, max-age=60"
# Other verifiers' browser apps fetch our keys and status lists: public data, so any origin
# may read them (these GET routes only; no credentials, nothing else is opened up).
PUBLIC_READ = {"Access-Control-Allow-Origin": "*"}
_STATUS_LIST_ID = re.compile(r"^[a-z0-9-]{1,64}$")
_THUMBPRINT = re.compile(r"^[A-Za-z0-9_-]{1,128}$")

_READ_ERRORS = problem_responses(401, 403, 404, 422, 502, 503)
_WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422, 502, 503)
CredentialId = Annotated[str, uuid_path("credential")]


@router.get(
    "/api/v1/credentials",
    response_model=CredentialList,
    responses=_READ_ERRORS,
    summary="List the credentials the caller may see",
)
async def list_credentials(
    caller: Caller,
    clients: ClientsDep,
    program_id: Annotated[UuidText | None, Query(max_length=64)] = None,
    page_size: Annotated[int, Query(ge=0, le=100, description="0: the server's default")] = 0,
    page_token: Annotated[Text, Query(max_length=200)] = "",
) -> CredentialList:
    reply = await invoke(
        clients.credentials.ListCredentials,
        credentials_service_pb2.ListCredentialsRequest(
            program_id=program_id or "", page_size=page_size, page_token=page_token
        ),
        token=caller.token,
    )
    return CredentialList(
        credentials=[mapping.credential_to_json(c) for c in reply.credentials],
        next_page_token=reply.next_page_token or None,
    )


@router.post(
    "/api/v1/credentials/verify",
    response_model=VerifyResult,
    responses=problem_responses(400, 401, 413, 422, 502, 503),
    summary="Verify a compact VC-JWT: signature, validity window, revocation (anyone)",
    openapi_extra=OPTIONAL_BEARER,
)
async def verify_credential(
    body: VerifyRequest, caller: MaybeCaller, clients: ClientsDep
) -> VerifyResult:
    reply = await invoke(
        clients.credentials.VerifyCredential,
        credentials_service_pb2.VerifyCredentialRequest(credential=body.credential),
        token=token_of(caller),
    )
    return mapping.verification_to_json(reply)


@router.get(
    "/api/v1/credentials/{credential_id}",
    response_model=Credential,
    responses=_READ_ERRORS,
    summary="Get a credential (anyone holding its id: credentials are shared by link)",
    openapi_extra=OPTIONAL_BEARER,
)
async def get_credential(
    credential_id: CredentialId, caller: MaybeCaller, clients: ClientsDep
) -> Credential:
    reply = await invoke(
        clients.credentials.GetCredential,
        credentials_service_pb2.GetCredentialRequest(
            credential_id=resource_id(credential_id, "credential")
        ),
        token=token_of(caller),
    )
    return mapping.credential_to_json(reply.credential)


@router.post(
    "/api/v1/credentials/{credential_id}/revoke",
    response_model=Credential,
    responses=_WRITE_ERRORS,
    summary="Revoke a credential (admin, issuing provider)",
)
async def revoke_credential(
    credential_id: CredentialId, body: CredentialRevoke, caller: Caller, clients: ClientsDep
) -> Credential:
    reply = await invoke(
        clients.credentials.RevokeCredential,
        credentials_service_pb2.RevokeCredentialRequest(
            credential_id=resource_id(credential_id, "credential"), reason=body.reason
        ),
        token=caller.token,
    )
    return mapping.credential_to_json(reply.credential)


@router.get(
    "/api/v1/credentials/{credential_id}/download",
    response_class=Response,
    responses={
        200: {
            "description": "The credential as a .jwt file (compact VC-JWT) that Open Badges 3.0"
            " wallets import",
            "content": {VC_JWT_MEDIA_TYPE: {}},
        },
        **_READ_ERRORS,
    },
    summary="Download a credential as a file (anyone holding its id)",
)
async def download_credential(
    credential_id: CredentialId, caller: MaybeCaller, clients: ClientsDep
) -> Response:
    reply = await invoke(
        clients.credentials.GetCredential,
        credentials_service_pb2.GetCredentialRequest(
            credential_id=resource_id(credential_id, "credential")
        ),
        token=token_of(caller),
    )
    credential = reply.credential
    name = re.sub(r"[^a-z0-9]+", "-", credential.achievement_name.lower()).strip("-")[:60]
    filename = f"{name or 'credential'}-{credential.id}.jwt"
    return Response(
        credential.jwt,
        media_type=VC_JWT_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/.well-known/jwks.json",
    response_class=Response,
    responses={
        200: {"description": "The JWK Set", "content": {JWKS_MEDIA_TYPE: {}}},
        **problem_responses(502, 503),
    },
    summary="Every issuer public key that signs or once signed credentials",
)
async def jwks(clients: ClientsDep) -> Response:
    reply = await invoke(
        clients.credentials.GetJwks, credentials_service_pb2.GetJwksRequest(), token=""
    )
    return Response(
        content=reply.jwks_json,
        media_type=JWKS_MEDIA_TYPE,
        headers={"Cache-Control": JWKS_CACHE_CONTROL, **PUBLIC_READ},
    )


@router.get(
    "/keys/{kid}",
    response_class=Response,
    responses={
        200: {"description": "One issuer public key as a JWK", "content": {JWK_MEDIA_TYPE: {}}},
        **problem_responses(404, 502, 503),
    },
    summary="One issuer public key: what a credential's JOSE kid URL resolves to",
)
async def issuer_key(kid: str, clients: ClientsDep) -> Response:
    # OB 3.0 verifiers (the 1EdTech validator among them) dereference the kid URL and expect
    # one JWK, not a set; the set's entry is named by exactly this URL.
    if not _THUMBPRINT.match(kid):
        raise not_found("no such issuer key")
    reply = await invoke(
        clients.credentials.GetJwks, credentials_service_pb2.GetJwksRequest(), token=""
    )
    keys = json.loads(reply.jwks_json).get("keys", [])
    suffix = f"/keys/{kid}"
    for jwk in keys:
        if isinstance(jwk.get("kid"), str) and jwk["kid"].endswith(suffix):
            return Response(
                content=json.dumps(jwk),
                media_type=JWK_MEDIA_TYPE,
                headers={"Cache-Control": JWKS_CACHE_CONTROL, **PUBLIC_READ},
            )
    # Unknown or withdrawn: a withdrawn key must stop resolving, like it left the JWKS.
    raise not_found("no such issuer key")


@router.get(
    "/status-lists/{list_id}",
    response_class=Response,
    responses={
        200: {
            "description": "The BitstringStatusListCredential, secured as a VC-JWT (whatever"
            " the Accept header asks: an unsecured status list proves nothing)",
            "content": {VC_JWT_MEDIA_TYPE: {}},
        },
        **problem_responses(404, 422, 502, 503),
    },
    summary="A Bitstring Status List credential (revocation)",
)
async def status_list(list_id: str, clients: ClientsDep) -> Response:
    if not _STATUS_LIST_ID.match(list_id):
        raise not_found(f"no status list {list_id!r}")
    reply = await invoke(
        clients.credentials.GetStatusList,
        credentials_service_pb2.GetStatusListRequest(list_id=list_id),
        token="",
    )
    return Response(
        reply.jwt,
        media_type=VC_JWT_MEDIA_TYPE,
        headers={"Cache-Control": STATUS_LIST_CACHE_CONTROL, **PUBLIC_READ},
    )
