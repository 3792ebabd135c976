"""/api/v1/pathways: stackable credentials over HTTP (catalog owns the definitions, the
credentials service the learner's progress and the pathway credential)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response, status
from google.protobuf import field_mask_pb2
from pydantic import BaseModel, ConfigDict, Field, field_validator
from upskill.catalog.v1 import catalog_pb2, catalog_service_pb2
from upskill.credentials.v1 import credentials_service_pb2

from services.gateway import mapping
from services.gateway.clients import Clients, invoke
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
from services.gateway.routes_catalog import IF_MATCH_PATTERN, etag, parse_if_match
from services.gateway.schemas import (
    _ABSENT,
    DISTINCT,
    Money,
    NonBlank,
    Page,
    Skill,
    StrictModel,
    Text,
    UuidText,
    _refuse_null,
)

router = APIRouter(prefix="/api/v1", tags=["pathways"])
# A badge image's address: the catalog takes https URLs only (pathways.py). A JSON Schema
# pattern applies to strings only, so beside anyOf's null it leaves null allowed.
HTTPS_URL: dict[str, Any] = {"format": "uri", "pattern": "^https://"}

_READ_ERRORS = problem_responses(401, 404, 422, 502, 503)
_WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 422, 502, 503)
PathwayId = Annotated[str, uuid_path("pathway")]
ConsentId = Annotated[str, uuid_path("consent")]
ProviderId = Annotated[str, uuid_path("provider")]
PathwayStatus = Literal["DRAFT", "PUBLISHED", "ARCHIVED"]
ConsentStatus = Literal["PENDING", "GRANTED", "REFUSED", "WITHDRAWN", "CANCELLED"]
ConsentDirection = Literal["incoming", "outgoing"]
# Field paths of the RPC -> of the JSON body.
PATHWAY_SPEC_FIELDS = {"spec": "", "patch": ""}

# ---------------------------------------------------------------- shapes


class PathwayAchievementIn(StrictModel):
    name: NonBlank = Field(max_length=200, description="The badge's name; not blank")
    description: NonBlank = Field(max_length=4000, description="Not blank")
    criteria: NonBlank = Field(max_length=4000, description="What earns it; not blank")
    skills: list[Skill] = Field(
        default_factory=list, max_length=50, description="Distinct", json_schema_extra=DISTINCT
    )
    image_url: Text | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="An https URL of the badge's image",
        json_schema_extra=HTTPS_URL,
    )


class PathwayCreate(StrictModel):
    title: NonBlank = Field(max_length=200, description="Not blank")
    description: Text = Field(default="", max_length=4000)
    program_ids: list[UuidText] = Field(
        min_length=2,
        max_length=20,
        description=(
            "Distinct published programs: the provider's own, and other providers' (each"
            " asks its provider's consent, needed before the pathway can be published)"
        ),
        json_schema_extra=DISTINCT,
    )
    required_count: int = Field(
        default=0, ge=0, le=20, description="k of n: how many programs earn it; 0 = all"
    )
    achievement: PathwayAchievementIn


class PathwayAchievementPatch(StrictModel):
    """Only the fields present change; image_url may be null (no image)."""

    name: NonBlank = Field(default=_ABSENT, max_length=200)
    description: NonBlank = Field(default=_ABSENT, max_length=4000)
    criteria: NonBlank = Field(default=_ABSENT, max_length=4000)
    skills: list[Skill] = Field(
        default=_ABSENT, max_length=50, description="Distinct", json_schema_extra=DISTINCT
    )
    image_url: Text | None = Field(
        default=None, min_length=1, max_length=2000, json_schema_extra=HTTPS_URL
    )

    _not_null = field_validator("name", "description", "criteria", "skills", mode="before")(
        _refuse_null
    )


class PathwayPatch(StrictModel):
    """A JSON merge-style patch of a DRAFT pathway: present fields change (they form the
    update mask), absent ones stay; required_count may be null (all of the programs) and
    achievement.image_url null (none)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})  # {} changes nothing

    title: NonBlank = Field(default=_ABSENT, max_length=200)
    description: Text = Field(default=_ABSENT, max_length=4000)
    program_ids: list[UuidText] = Field(
        default=_ABSENT,
        min_length=2,
        max_length=20,
        description=(
            "The whole new list: another provider's program added asks its consent, one"
            " taken out cancels its request"
        ),
        json_schema_extra=DISTINCT,
    )
    required_count: int | None = Field(
        default=None, ge=0, le=20, description="k of n; 0 or null = all"
    )
    achievement: PathwayAchievementPatch = Field(default=_ABSENT)

    _not_null = field_validator(
        "title", "description", "program_ids", "achievement", mode="before"
    )(_refuse_null)


class PathwayAchievement(BaseModel):
    name: str
    description: str
    criteria: str
    skills: list[str]
    image_url: str | None


class PathwayProgram(BaseModel):
    program_id: str
    title: str
    price: Money
    status: Literal["DRAFT", "PUBLISHED", "ARCHIVED", "UNSPECIFIED"]
    provider_id: str = Field(description="The program's own provider")
    provider_name: str
    consent: ConsentStatus | None = Field(
        description="Another provider's program: where its consent stands; null for the"
        " pathway's own provider's programs"
    )


class ConsentRequest(StrictModel):
    program_id: UuidText = Field(
        max_length=64, description="Another provider's program that the pathway names"
    )


class PathwayConsent(BaseModel):
    id: str
    pathway_id: str
    pathway_title: str
    pathway_status: PathwayStatus
    requester_provider_id: str = Field(description="The pathway's provider, which asks")
    requester_provider_name: str
    program_id: str
    program_title: str
    provider_id: str = Field(description="The program's provider, which decides")
    provider_name: str
    status: ConsentStatus
    version: int
    decided_by: str | None = Field(description="Who last granted, refused or withdrew it")
    created_at: datetime | None
    updated_at: datetime | None


class PathwayConsentList(Page):
    consents: list[PathwayConsent]


class Pathway(BaseModel):
    id: str
    provider_id: str
    provider_name: str
    title: str
    description: str
    program_ids: list[str]
    required_count: int = Field(description="How many of the programs earn the pathway")
    programs: list[PathwayProgram]
    total_price: list[Money] = Field(
        description="The programs' prices added up, one entry per currency"
    )
    achievement: PathwayAchievement
    status: PathwayStatus
    version: int
    created_at: datetime | None
    updated_at: datetime | None


class PathwayList(Page):
    pathways: list[Pathway]


class PathwayRequirement(BaseModel):
    program_id: str
    title: str
    credential_id: str | None = Field(description="The learner's valid credential, if any")


class PathwayProgress(BaseModel):
    pathway_id: str
    required_count: int
    earned_count: int
    complete: bool
    requirements: list[PathwayRequirement]
    pathway_credential_id: str | None = Field(
        description="The learner's valid pathway credential, once earned"
    )
    open: bool = Field(description="False once archived: no new pathway credential")


# ---------------------------------------------------------------- mapping


def total_price(programs: list[catalog_pb2.PathwayProgram]) -> list[Money]:
    totals: dict[str, int] = {}
    for p in programs:
        totals[p.price.currency] = totals.get(p.price.currency, 0) + p.price.amount_minor
    return [Money(amount_minor=v, currency=k) for k, v in sorted(totals.items())]


def consent_status(value: int) -> ConsentStatus | None:
    name = mapping.enum_name(catalog_pb2.PathwayConsentStatus, value, "PATHWAY_CONSENT_STATUS_")
    return None if name == "UNSPECIFIED" else name  # type: ignore[return-value]


def consent_to_json(c: catalog_pb2.PathwayConsent) -> PathwayConsent:
    return PathwayConsent(
        id=c.id,
        pathway_id=c.pathway_id,
        pathway_title=c.pathway_title,
        pathway_status=mapping.enum_name(  # type: ignore[arg-type]
            catalog_pb2.PathwayStatus, c.pathway_status, "PATHWAY_STATUS_"
        ),
        requester_provider_id=c.requester_provider_id,
        requester_provider_name=c.requester_provider_name,
        program_id=c.program_id,
        program_title=c.program_title,
        provider_id=c.provider_id,
        provider_name=c.provider_name,
        status=consent_status(c.status) or "PENDING",
        version=c.version,
        decided_by=mapping.or_none(c.decided_by),
        created_at=mapping.timestamp(c.create_time, c.HasField("create_time")),
        updated_at=mapping.timestamp(c.update_time, c.HasField("update_time")),
    )


def pathway_to_json(p: catalog_pb2.Pathway) -> Pathway:
    s = p.spec
    return Pathway(
        id=p.id,
        provider_id=p.provider_id,
        provider_name=p.provider_name,
        title=s.title,
        description=s.description,
        program_ids=list(s.program_ids),
        required_count=s.required_count or len(s.program_ids),
        programs=[
            PathwayProgram(
                program_id=x.program_id,
                title=x.title,
                price=mapping.money_to_json(x.price),
                status=mapping.enum_name(  # type: ignore[arg-type]
                    catalog_pb2.ProgramStatus, x.status, "PROGRAM_STATUS_"
                ),
                provider_id=x.provider_id,
                provider_name=x.provider_name,
                consent=consent_status(x.consent_status),
            )
            for x in p.programs
        ],
        total_price=total_price(list(p.programs)),
        achievement=PathwayAchievement(
            name=s.achievement.name,
            description=s.achievement.description,
            criteria=s.achievement.criteria,
            skills=list(s.achievement.skills),
            image_url=mapping.or_none(s.achievement.image_url),
        ),
        status=mapping.enum_name(  # type: ignore[arg-type]
            catalog_pb2.PathwayStatus, p.status, "PATHWAY_STATUS_"
        ),
        version=p.version,
        created_at=mapping.timestamp(p.create_time, p.HasField("create_time")),
        updated_at=mapping.timestamp(p.update_time, p.HasField("update_time")),
    )


def spec_to_proto(body: PathwayCreate) -> catalog_pb2.PathwaySpec:
    a = body.achievement
    return catalog_pb2.PathwaySpec(
        title=body.title,
        description=body.description,
        program_ids=body.program_ids,
        required_count=body.required_count,
        achievement=catalog_pb2.PathwayAchievement(
            name=a.name,
            description=a.description,
            criteria=a.criteria,
            skills=a.skills,
            image_url=a.image_url or "",
        ),
    )


def patch_to_proto(body: PathwayPatch) -> tuple[catalog_service_pb2.PathwayPatch, list[str]]:
    """The fields present in the body, as a PathwayPatch, and the update_mask naming them
    (a null is named in the mask and left unset: cleared)."""
    message = catalog_service_pb2.PathwayPatch()
    paths: list[str] = []
    for name in sorted(body.model_fields_set):
        value = getattr(body, name)
        if name == "achievement":
            for sub in sorted(value.model_fields_set):
                paths.append(f"achievement.{sub}")
                sub_value = getattr(value, sub)
                if sub == "skills":
                    message.achievement.skills.extend(sub_value)
                elif sub_value is not None:
                    setattr(message.achievement, sub, sub_value)
            continue
        paths.append(name)
        if name == "program_ids":
            message.program_ids.extend(value)
        elif value is not None:
            setattr(message, name, value)
    return message, paths


def _pathway_response(response: Response, pathway: catalog_pb2.Pathway) -> Pathway:
    response.headers["ETag"] = etag(pathway.version)
    return pathway_to_json(pathway)


# ---------------------------------------------------------------- routes


async def get_pathway(clients: Clients, pathway_id: str, token: str) -> catalog_pb2.Pathway:
    reply = await invoke(
        clients.catalog.GetPathway,
        catalog_service_pb2.GetPathwayRequest(pathway_id=resource_id(pathway_id, "pathway")),
        token=token,
    )
    pathway: catalog_pb2.Pathway = reply.pathway
    return pathway


@router.post(
    "/pathways",
    status_code=status.HTTP_201_CREATED,
    response_model=Pathway,
    responses=_WRITE_ERRORS,
    summary="Define a DRAFT pathway (provider); other providers' programs ask their consent",
)
async def create_pathway(
    body: PathwayCreate, caller: Caller, clients: ClientsDep, response: Response
) -> Pathway:
    reply = await invoke(
        clients.catalog.CreatePathway,
        catalog_service_pb2.CreatePathwayRequest(spec=spec_to_proto(body)),
        token=caller.token,
        renames=PATHWAY_SPEC_FIELDS,
    )
    response.headers["Location"] = f"/api/v1/pathways/{reply.pathway.id}"
    return pathway_to_json(reply.pathway)


@router.get(
    "/pathways",
    response_model=PathwayList,
    responses=_READ_ERRORS,
    summary="List published pathways",
    openapi_extra=OPTIONAL_BEARER,
)
async def list_pathways(
    caller: MaybeCaller,
    clients: ClientsDep,
    provider_id: Annotated[UuidText | None, Query(max_length=64)] = None,
    page_size: Annotated[int, Query(ge=0, le=100, description="0: the server's default")] = 0,
    page_token: Annotated[Text, Query(max_length=200)] = "",
) -> PathwayList:
    reply = await invoke(
        clients.catalog.ListPathways,
        catalog_service_pb2.ListPathwaysRequest(
            provider_id=provider_id or "", page_size=page_size, page_token=page_token
        ),
        token=token_of(caller),
    )
    return PathwayList(
        pathways=[pathway_to_json(p) for p in reply.pathways],
        next_page_token=reply.next_page_token or None,
    )


@router.get(
    "/pathways/{pathway_id}",
    response_model=Pathway,
    responses=_READ_ERRORS,
    summary="Get a pathway (drafts: their provider only)",
    openapi_extra=OPTIONAL_BEARER,
)
async def read_pathway(
    pathway_id: PathwayId, caller: MaybeCaller, clients: ClientsDep, response: Response
) -> Pathway:
    return _pathway_response(response, await get_pathway(clients, pathway_id, token_of(caller)))


@router.patch(
    "/pathways/{pathway_id}",
    response_model=Pathway,
    responses={**_WRITE_ERRORS, **problem_responses(412, 428)},
    summary="Change a DRAFT pathway's fields (owning provider; needs If-Match: <version>)",
    description=(
        "The fields present in the body change and nothing else (null clears"
        " required_count to all, or achievement.image_url). Only a DRAFT: 409 otherwise."
        " Another provider's program added asks its consent (PENDING); one taken out"
        " cancels its open request (CANCELLED), which publishing then no longer needs."
        " `If-Match` must carry the version last read (the pathway's ETag): missing is 428,"
        " stale is 412."
    ),
)
async def update_pathway(
    pathway_id: PathwayId,
    body: PathwayPatch,
    caller: Caller,
    clients: ClientsDep,
    response: Response,
    if_match: Annotated[
        str,
        Header(
            alias="If-Match",
            # Documented, not enforced here: parse_if_match says what is wrong in words.
            json_schema_extra={"pattern": IF_MATCH_PATTERN, "maxLength": 32},
            description='The pathway\'s version as last read (its ETag, e.g. "3")',
        ),
    ],
) -> Pathway:
    expected_version = parse_if_match(if_match)
    patch, paths = patch_to_proto(body)
    if not paths:
        raise invalid_input(
            "the body names no field to change", [FieldError(field="body", message="empty")]
        )
    reply = await invoke(
        clients.catalog.UpdatePathway,
        catalog_service_pb2.UpdatePathwayRequest(
            pathway_id=resource_id(pathway_id, "pathway"),
            expected_version=expected_version,
            patch=patch,
            update_mask=field_mask_pb2.FieldMask(paths=paths),
        ),
        token=caller.token,
        renames=PATHWAY_SPEC_FIELDS,
    )
    return _pathway_response(response, reply.pathway)


@router.post(
    "/pathways/{pathway_id}/publish",
    response_model=Pathway,
    responses=_WRITE_ERRORS,
    summary="Make a DRAFT pathway count credentials (owning provider; programs published)",
    description=(
        "409 while a program is not published, or another provider's program has no"
        " GRANTED consent."
    ),
)
async def publish_pathway(pathway_id: PathwayId, caller: Caller, clients: ClientsDep) -> Pathway:
    reply = await invoke(
        clients.catalog.PublishPathway,
        catalog_service_pb2.PublishPathwayRequest(pathway_id=resource_id(pathway_id, "pathway")),
        token=caller.token,
    )
    return pathway_to_json(reply.pathway)


@router.post(
    "/pathways/{pathway_id}/archive",
    response_model=Pathway,
    responses=_WRITE_ERRORS,
    summary="Stop a pathway awarding new credentials, for good (owning provider)",
)
async def archive_pathway(pathway_id: PathwayId, caller: Caller, clients: ClientsDep) -> Pathway:
    reply = await invoke(
        clients.catalog.ArchivePathway,
        catalog_service_pb2.ArchivePathwayRequest(pathway_id=resource_id(pathway_id, "pathway")),
        token=caller.token,
    )
    return pathway_to_json(reply.pathway)


@router.post(
    "/pathways/{pathway_id}/consents",
    response_model=PathwayConsent,
    responses=_WRITE_ERRORS,
    summary="Ask (again) for the consent to another provider's program (owning provider)",
    description=(
        "Creating a draft pathway already asks once for each other provider's program;"
        " this asks again after a refusal or a withdrawal, while the pathway is a DRAFT."
        " Idempotent: a PENDING or GRANTED request is returned as it is, and concurrent"
        " requests yield one."
    ),
)
async def request_consent(
    pathway_id: PathwayId, body: ConsentRequest, caller: Caller, clients: ClientsDep
) -> PathwayConsent:
    reply = await invoke(
        clients.catalog.RequestPathwayConsent,
        catalog_service_pb2.RequestPathwayConsentRequest(
            pathway_id=resource_id(pathway_id, "pathway"), program_id=body.program_id
        ),
        token=caller.token,
    )
    return consent_to_json(reply.consent)


_DECISIONS = {
    "grant": (catalog_service_pb2.CONSENT_DECISION_GRANT, "Grant a PENDING consent request"),
    "refuse": (catalog_service_pb2.CONSENT_DECISION_REFUSE, "Refuse a PENDING consent request"),
    "withdraw": (
        catalog_service_pb2.CONSENT_DECISION_WITHDRAW,
        "Withdraw a GRANTED consent: a published pathway that counted on it is archived"
        " (issued pathway credentials stay valid)",
    ),
}


async def decide_consent(
    consent_id: str, action: str, caller: Caller, clients: Clients
) -> PathwayConsent:
    reply = await invoke(
        clients.catalog.DecidePathwayConsent,
        catalog_service_pb2.DecidePathwayConsentRequest(
            consent_id=resource_id(consent_id, "consent"), decision=_DECISIONS[action][0]
        ),
        token=caller.token,
    )
    return consent_to_json(reply.consent)


def _decision_route(action: str) -> None:
    async def decide(consent_id: ConsentId, caller: Caller, clients: ClientsDep) -> PathwayConsent:
        return await decide_consent(consent_id, action, caller, clients)

    decide.__name__ = f"{action}_consent"
    router.post(
        f"/pathway-consents/{{consent_id}}/{action}",
        response_model=PathwayConsent,
        responses=_WRITE_ERRORS,
        summary=f"{_DECISIONS[action][1]} (the program's provider, admin)",
        description=(
            "Only the program's provider's staff and admins decide: the requesting provider"
            " gets 403, anyone else 404. 409 when the request is not in the state the"
            " decision needs."
        ),
    )(decide)


for _action in _DECISIONS:
    _decision_route(_action)


async def list_consents(
    clients: Clients,
    token: str,
    provider_id: str,
    direction: ConsentDirection,
    consent: ConsentStatus | None = None,
    page_size: int = 0,
    page_token: str = "",
) -> PathwayConsentList:
    status_value = (
        catalog_pb2.PathwayConsentStatus.Value(f"PATHWAY_CONSENT_STATUS_{consent}")
        if consent
        else catalog_pb2.PATHWAY_CONSENT_STATUS_UNSPECIFIED
    )
    reply = await invoke(
        clients.catalog.ListPathwayConsents,
        catalog_service_pb2.ListPathwayConsentsRequest(
            provider_id=resource_id(provider_id, "provider"),
            direction=(
                catalog_service_pb2.CONSENT_DIRECTION_INCOMING
                if direction == "incoming"
                else catalog_service_pb2.CONSENT_DIRECTION_OUTGOING
            ),
            status=status_value,
            page_size=page_size,
            page_token=page_token,
        ),
        token=token,
    )
    return PathwayConsentList(
        consents=[consent_to_json(c) for c in reply.consents],
        next_page_token=reply.next_page_token or None,
    )


@router.get(
    "/providers/{provider_id}/pathway-consents",
    response_model=PathwayConsentList,
    responses=problem_responses(401, 403, 404, 422, 502, 503),
    summary="A provider's consent requests, newest first (its own staff, admin)",
    description=(
        "incoming: requests to count the provider's programs towards other providers'"
        " pathways (it decides them); outgoing: requests it made for its own pathways."
        " A page_token is good only for the listing and filters that issued it."
    ),
)
async def provider_consents(
    provider_id: ProviderId,
    caller: Caller,
    clients: ClientsDep,
    direction: Annotated[ConsentDirection, Query(description="Which side")] = "incoming",
    status: Annotated[ConsentStatus | None, Query(description="Only this status")] = None,
    page_size: Annotated[int, Query(ge=0, le=100, description="0: the server's default")] = 0,
    page_token: Annotated[Text, Query(max_length=200)] = "",
) -> PathwayConsentList:
    return await list_consents(
        clients, caller.token, provider_id, direction, status, page_size, page_token
    )


async def learner_progress(
    clients: Clients, pathway: catalog_pb2.Pathway, token: str
) -> PathwayProgress:
    reply = await invoke(
        clients.credentials.GetPathwayProgress,
        credentials_service_pb2.GetPathwayProgressRequest(pathway_id=pathway.id),
        token=token,
    )
    found = reply.progress
    titles = {p.program_id: p.title for p in pathway.programs}
    return PathwayProgress(
        pathway_id=found.pathway_id,
        required_count=found.required_count,
        earned_count=found.earned_count,
        complete=found.earned_count >= found.required_count,
        requirements=[
            PathwayRequirement(
                program_id=r.program_id,
                title=titles.get(r.program_id, ""),
                credential_id=mapping.or_none(r.credential_id),
            )
            for r in found.requirements
        ],
        pathway_credential_id=mapping.or_none(found.pathway_credential_id),
        open=found.open,
    )


@router.get(
    "/pathways/{pathway_id}/progress",
    response_model=PathwayProgress,
    responses=problem_responses(401, 403, 404, 422, 502, 503),
    summary="The signed-in learner's progress on a published pathway",
    description=(
        "Which programs the learner holds a valid credential for, how many the pathway"
        " needs, and the pathway credential once earned. 404 also while a just-published"
        " pathway has not reached the credentials service yet."
    ),
)
async def pathway_progress(
    pathway_id: PathwayId, caller: Caller, clients: ClientsDep
) -> PathwayProgress:
    pathway = await get_pathway(clients, pathway_id, caller.token)
    return await learner_progress(clients, pathway, caller.token)
