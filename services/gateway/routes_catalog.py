"""/api/v1/providers and /api/v1/programs: the catalog over HTTP."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from google.protobuf import field_mask_pb2
from upskill.catalog.v1 import catalog_pb2, catalog_service_pb2

from services.gateway import mapping
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
from services.gateway.problems import FieldError, invalid_input, problem_responses
from services.gateway.schemas import (
    INT32_MAX,
    INT64_MAX,
    Program,
    ProgramCreate,
    ProgramList,
    ProgramPatch,
    Provider,
    ProviderCreate,
    ProviderList,
    Text,
    UuidText,
)

router = APIRouter(prefix="/api/v1", tags=["catalog"])

_READ_ERRORS = problem_responses(401, 404, 422, 502, 503)
_WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422, 502, 503)
ProviderId = Annotated[str, uuid_path("provider")]
ProgramId = Annotated[str, uuid_path("program")]
# If-Match as RFC 9110 allows it for our ETags ("3", or W/"3", or a bare 3): a version, an
# int64 of at least 1, in at most 18 digits (so always below int64's bound). The document
# publishes this pattern and parse_if_match checks it, so what the document calls valid is
# what the server takes (before, the pattern let "0" and 19 digits through to a 422).
IF_MATCH_PATTERN = r'^(W/)?"?[1-9][0-9]{0,17}"?$'
_IF_MATCH = re.compile(IF_MATCH_PATTERN)


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(value: str) -> int:
    """`If-Match: 3` or `If-Match: "3"` (our ETag) -> 3; 422 naming If-Match otherwise.

    Missing is 428 Precondition Required (RFC 6585), answered before this runs (see
    problems.PRECONDITION_HEADERS): a PATCH without a version would be a lost update
    waiting to happen.
    """
    if _IF_MATCH.fullmatch(value.strip()) is None:
        raise invalid_input(
            "If-Match must be the version last read (the resource's ETag)",
            [FieldError(field="If-Match", message='expected a version number such as "3"')],
            status=422,
        )
    return int(value.strip().removeprefix("W/").strip('"'))


def _program_response(response: Response, program: catalog_pb2.Program) -> Program:
    response.headers["ETag"] = etag(program.version)
    return mapping.program_to_json(program)


@router.post(
    "/providers",
    status_code=status.HTTP_201_CREATED,
    response_model=Provider,
    responses=_WRITE_ERRORS,
    summary="Register a provider (admin)",
)
async def create_provider(
    body: ProviderCreate, caller: Caller, clients: ClientsDep, response: Response
) -> Provider:
    reply = await invoke(
        clients.catalog.CreateProvider,
        catalog_service_pb2.CreateProviderRequest(
            name=body.name, website=body.website or "", email=body.email or ""
        ),
        token=caller.token,
    )
    response.headers["Location"] = f"/api/v1/providers/{reply.provider.id}"
    return mapping.provider_to_json(reply.provider)


@router.get(
    "/providers",
    response_model=ProviderList,
    responses=problem_responses(400, 401, 403, 422, 502, 503),
    summary="Find the providers with exactly this name (admin)",
    description="For set-up scripts that must not register the same provider twice.",
)
async def find_providers(
    caller: Caller,
    clients: ClientsDep,
    name: Annotated[Text, Query(min_length=1, max_length=200)],
) -> ProviderList:
    reply = await invoke(
        clients.catalog.FindProviders,
        catalog_service_pb2.FindProvidersRequest(name=name),
        token=caller.token,
    )
    return ProviderList(providers=[mapping.provider_to_json(p) for p in reply.providers])


@router.get(
    "/providers/{provider_id}",
    response_model=Provider,
    responses=_READ_ERRORS,
    summary="Get a provider",
    openapi_extra=OPTIONAL_BEARER,
)
async def get_provider(
    provider_id: ProviderId, caller: MaybeCaller, clients: ClientsDep
) -> Provider:
    reply = await invoke(
        clients.catalog.GetProvider,
        catalog_service_pb2.GetProviderRequest(provider_id=resource_id(provider_id, "provider")),
        token=token_of(caller),
    )
    return mapping.provider_to_json(reply.provider)


@router.post(
    "/programs",
    status_code=status.HTTP_201_CREATED,
    response_model=Program,
    responses=_WRITE_ERRORS,
    summary="Create a DRAFT program (provider)",
)
async def create_program(
    body: ProgramCreate, caller: Caller, clients: ClientsDep, response: Response
) -> Program:
    reply = await invoke(
        clients.catalog.CreateProgram,
        catalog_service_pb2.CreateProgramRequest(spec=mapping.program_spec_to_proto(body)),
        token=caller.token,
        renames=mapping.PROGRAM_SPEC_FIELDS,
    )
    response.headers["Location"] = f"/api/v1/programs/{reply.program.id}"
    return _program_response(response, reply.program)


@router.get(
    "/programs",
    response_model=ProgramList,
    responses=_READ_ERRORS,
    summary="List published programs",
    openapi_extra=OPTIONAL_BEARER,
)
async def list_programs(
    caller: MaybeCaller,
    clients: ClientsDep,
    q: Annotated[
        Text,
        Query(
            max_length=200,
            description="Search: words, word prefixes and words with a small typo match",
        ),
    ] = "",
    skill: Annotated[Text, Query(max_length=100)] = "",
    provider_id: Annotated[UuidText | None, Query(max_length=64)] = None,
    max_price: Annotated[
        int | None, Query(ge=0, le=INT64_MAX, description="Upper bound, minor units")
    ] = None,
    min_duration_hours: Annotated[int | None, Query(ge=0, le=INT32_MAX)] = None,
    max_duration_hours: Annotated[int | None, Query(ge=0, le=INT32_MAX)] = None,
    page_size: Annotated[int, Query(ge=0, le=100, description="0: the server's default")] = 0,
    page_token: Annotated[Text, Query(max_length=200)] = "",
) -> ProgramList:
    request = catalog_service_pb2.ListProgramsRequest(
        query=q,
        skill=skill,
        provider_id=provider_id or "",
        page_size=page_size,
        page_token=page_token,
    )
    if max_price is not None:
        request.max_price_minor = max_price
    if min_duration_hours is not None:
        request.min_duration_hours = min_duration_hours
    if max_duration_hours is not None:
        request.max_duration_hours = max_duration_hours
    reply = await invoke(
        clients.catalog.ListPrograms,
        request,
        token=token_of(caller),
        renames=mapping.LIST_PROGRAMS_FIELDS,
    )
    return ProgramList(
        programs=[mapping.program_to_json(p) for p in reply.programs],
        next_page_token=reply.next_page_token or None,
    )


async def _get_program(clients: ClientsDep, program_id: str, token: str) -> catalog_pb2.Program:
    reply = await invoke(
        clients.catalog.GetProgram,
        catalog_service_pb2.GetProgramRequest(program_id=resource_id(program_id, "program")),
        token=token,
    )
    program: catalog_pb2.Program = reply.program
    return program


@router.get(
    "/programs/{program_id}",
    response_model=Program,
    responses=_READ_ERRORS,
    summary="Get a program (drafts: their provider only)",
    openapi_extra=OPTIONAL_BEARER,
)
async def get_program(
    program_id: ProgramId, caller: MaybeCaller, clients: ClientsDep, response: Response
) -> Program:
    return _program_response(response, await _get_program(clients, program_id, token_of(caller)))


@router.patch(
    "/programs/{program_id}",
    response_model=Program,
    responses={**_WRITE_ERRORS, **problem_responses(412, 428)},
    summary="Change a program's fields (owning provider; needs If-Match: <version>)",
    description=(
        "The fields present in the body change and nothing else (null clears capacity or"
        " credential.valid_for_days). `If-Match` must carry the version last read (the"
        " program's ETag): missing is 428, stale is 412."
    ),
)
async def update_program(
    program_id: ProgramId,
    body: ProgramPatch,
    caller: Caller,
    clients: ClientsDep,
    response: Response,
    if_match: Annotated[
        str,
        Header(
            alias="If-Match",
            # Documented, not enforced here: parse_if_match says what is wrong in words.
            json_schema_extra={"pattern": IF_MATCH_PATTERN, "maxLength": 32},
            description='The program\'s version as last read (its ETag, e.g. "3")',
        ),
    ],
) -> Program:
    expected_version = parse_if_match(if_match)
    patch, paths = mapping.program_patch_to_proto(body)
    if not paths:
        raise invalid_input(
            "the body names no field to change", [FieldError(field="body", message="empty")]
        )
    # The catalog merges the patch into the program: the gateway sends what changed.
    reply = await invoke(
        clients.catalog.UpdateProgram,
        catalog_service_pb2.UpdateProgramRequest(
            program_id=resource_id(program_id, "program"),
            expected_version=expected_version,
            patch=patch,
            update_mask=field_mask_pb2.FieldMask(paths=paths),
        ),
        token=caller.token,
        renames=mapping.PROGRAM_SPEC_FIELDS,
    )
    return _program_response(response, reply.program)


@router.post(
    "/programs/{program_id}/publish",
    response_model=Program,
    responses=_WRITE_ERRORS,
    summary="Put a DRAFT program on sale (owning provider)",
)
async def publish_program(
    program_id: ProgramId, caller: Caller, clients: ClientsDep, response: Response
) -> Program:
    reply = await invoke(
        clients.catalog.PublishProgram,
        catalog_service_pb2.PublishProgramRequest(program_id=resource_id(program_id, "program")),
        token=caller.token,
        renames=mapping.PROGRAM_SPEC_FIELDS,
    )
    return _program_response(response, reply.program)


@router.post(
    "/programs/{program_id}/archive",
    response_model=Program,
    responses=_WRITE_ERRORS,
    summary="Take a program off sale for good (owning provider)",
)
async def archive_program(
    program_id: ProgramId, caller: Caller, clients: ClientsDep, response: Response
) -> Program:
    reply = await invoke(
        clients.catalog.ArchiveProgram,
        catalog_service_pb2.ArchiveProgramRequest(program_id=resource_id(program_id, "program")),
        token=caller.token,
    )
    return _program_response(response, reply.program)
