"""Pathway persistence, protobuf conversion, and the unit of work that saves a pathway and
writes the events it collected to the outbox in the same transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg
from google.protobuf.message import Message
from upskill.catalog.v1 import catalog_pb2, catalog_service_pb2, events_pb2
from upskill.type.v1 import money_pb2

from services.catalog.convert import _STATUS_TO_PB, apply_mask
from services.catalog.domain import ProgramStatus
from services.catalog.pathways import (
    Consent,
    ConsentStatus,
    Pathway,
    PathwayAchievement,
    PathwayArchived,
    PathwayEvent,
    PathwayPublished,
    PathwaySpec,
    PathwayStatus,
    ProgramRef,
)
from services.common import unit_of_work
from services.common.errors import FieldViolation, InvalidArgumentError, NotFoundError
from services.common.paging import Listing, Page
from services.common.protos import timestamp
from services.common.sql import Where, fetch_page

SOURCE = "upskill.catalog"

_COLUMNS = """w.id, w.provider_id, v.name AS provider_name, w.title, w.description,
    w.program_ids, w.required_count, w.achievement, w.status, w.version, w.created_at,
    w.updated_at"""
_FROM = "FROM pathways w JOIN providers v ON v.id = w.provider_id"

PUBLISHED = Listing("pathways", table="w")
# A provider's own pathways, drafts and archived ones too (its studio).
PROVIDER_PATHWAYS = Listing("provider-pathways", table="w")


@dataclass(frozen=True)
class ProgramRow:
    """A program as a pathway shows it: enough for the rules and the storefront."""

    ref: ProgramRef
    title: str
    price_minor: int
    currency: str
    provider_name: str


def _pathway(row: Any) -> Pathway:
    a = json.loads(row["achievement"])
    return Pathway(
        id=str(row["id"]),
        provider_id=str(row["provider_id"]),
        provider_name=row["provider_name"],
        spec=PathwaySpec(
            title=row["title"],
            description=row["description"],
            program_ids=tuple(str(p) for p in row["program_ids"]),
            required_count=row["required_count"],
            achievement=PathwayAchievement(
                name=a["name"],
                description=a["description"],
                criteria=a["criteria"],
                skills=tuple(a.get("skills", ())),
                image_url=a.get("image_url", ""),
            ),
        ),
        status=PathwayStatus(row["status"]),
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _achievement_json(a: PathwayAchievement) -> str:
    return json.dumps(
        {
            "name": a.name,
            "description": a.description,
            "criteria": a.criteria,
            "skills": list(a.skills),
            "image_url": a.image_url,
        }
    )


async def get(conn: asyncpg.Connection, pathway_id: str, *, for_update: bool = False) -> Pathway:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} {_FROM} WHERE w.id = $1 {'FOR UPDATE OF w' if for_update else ''}",
        pathway_id,
    )
    if row is None:
        raise NotFoundError(f"pathway {pathway_id} not found")
    return _pathway(row)


async def programs(conn: asyncpg.Connection, program_ids: list[str]) -> dict[str, ProgramRow]:
    """The catalog's programs among `program_ids` (unknown ids are simply absent)."""
    rows = await conn.fetch(
        """SELECT p.id, p.provider_id, p.status, p.title, p.price_minor, p.currency,
                  v.name AS provider_name
           FROM programs p JOIN providers v ON v.id = p.provider_id
           WHERE p.id = ANY($1::uuid[])""",
        program_ids,
    )
    return {
        str(r["id"]): ProgramRow(
            ProgramRef(str(r["id"]), str(r["provider_id"]), ProgramStatus(r["status"])),
            r["title"],
            r["price_minor"],
            r["currency"].strip(),
            r["provider_name"],
        )
        for r in rows
    }


def refs(rows: dict[str, ProgramRow]) -> dict[str, ProgramRef]:
    return {program_id: row.ref for program_id, row in rows.items()}


async def list_published(
    conn: asyncpg.Connection, provider_id: str, page: Page, *, include_unpublished: bool = False
) -> list[Pathway]:
    where = Where()
    if not include_unpublished:
        where.add("w.status = 'PUBLISHED'")
    if provider_id:
        where.add("w.provider_id = {}::uuid", provider_id)
    rows = await fetch_page(conn, f"SELECT {_COLUMNS} {_FROM}", where, page)
    return [_pathway(r) for r in rows]


async def _insert(conn: asyncpg.Connection, p: Pathway) -> None:
    s = p.spec
    await conn.execute(
        """INSERT INTO pathways (id, provider_id, title, description, program_ids,
               required_count, achievement, status, version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5::uuid[], $6, $7, $8, $9, $10, $11)""",
        p.id,
        p.provider_id,
        s.title,
        s.description,
        list(s.program_ids),
        s.required_count,
        _achievement_json(s.achievement),
        p.status.value,
        p.version,
        p.created_at,
        p.updated_at,
    )


async def _update(conn: asyncpg.Connection, p: Pathway) -> None:
    # The spec changes only while a draft (Pathway.revise); writing it always is harmless.
    s = p.spec
    await conn.execute(
        """UPDATE pathways SET status = $2, version = $3, updated_at = $4, title = $5,
               description = $6, program_ids = $7::uuid[], required_count = $8,
               achievement = $9
           WHERE id = $1""",
        p.id,
        p.status.value,
        p.version,
        p.updated_at,
        s.title,
        s.description,
        list(s.program_ids),
        s.required_count,
        _achievement_json(s.achievement),
    )


async def save(conn: asyncpg.Connection, pathway: Pathway) -> None:
    """Save an edited pathway that raised no event (a draft's spec)."""
    assert not pathway.events
    await _update(conn, pathway)


async def commit(conn: asyncpg.Connection, pathway: Pathway, *, new: bool = False) -> None:
    """Save the pathway and stage its events, in the caller's transaction."""
    # The events name the pathway's programs as they stand now.
    shown = await programs(conn, list(pathway.spec.program_ids)) if pathway.events else {}
    consents = await consent_statuses(conn, pathway.id) if pathway.events else {}
    await unit_of_work.commit(
        conn,
        pathway,
        save=_insert if new else _update,
        message_of=lambda p, event: event_to_pb(p, event, shown, consents),
        source=SOURCE,
        subject=pathway.id,
    )


# ---------------------------------------------------------------- consents

_CONSENT_COLUMNS = """c.id, c.pathway_id, c.program_id, c.requester_id, c.provider_id, c.status,
    c.decided_by, c.version, c.created_at, c.updated_at, w.title AS pathway_title,
    w.status AS pathway_status, p.title AS program_title, r.name AS requester_name,
    v.name AS provider_name"""
_CONSENT_FROM = """FROM pathway_consents c JOIN pathways w ON w.id = c.pathway_id
    JOIN programs p ON p.id = c.program_id JOIN providers r ON r.id = c.requester_id
    JOIN providers v ON v.id = c.provider_id"""

INCOMING = Listing("pathway-consents-incoming", table="c")
OUTGOING = Listing("pathway-consents-outgoing", table="c")


@dataclass(frozen=True)
class ConsentView:
    """A consent with the names that a listing shows."""

    consent: Consent
    pathway_title: str
    pathway_status: PathwayStatus
    program_title: str
    requester_name: str
    provider_name: str


def _consent(row: Any) -> Consent:
    return Consent(
        id=str(row["id"]),
        pathway_id=str(row["pathway_id"]),
        program_id=str(row["program_id"]),
        requester_id=str(row["requester_id"]),
        provider_id=str(row["provider_id"]),
        status=ConsentStatus(row["status"]),
        decided_by=row["decided_by"],
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _consent_view(row: Any) -> ConsentView:
    return ConsentView(
        _consent(row),
        row["pathway_title"],
        PathwayStatus(row["pathway_status"]),
        row["program_title"],
        row["requester_name"],
        row["provider_name"],
    )


async def consent_statuses(conn: asyncpg.Connection, pathway_id: str) -> dict[str, ConsentStatus]:
    """The status of each of the pathway's consent requests, by program id."""
    return (await consents_of(conn, [pathway_id])).get(pathway_id, {})


async def consents_of(
    conn: asyncpg.Connection, pathway_ids: list[str]
) -> dict[str, dict[str, ConsentStatus]]:
    """consent_statuses of several pathways at once, by pathway id."""
    rows = await conn.fetch(
        """SELECT pathway_id, program_id, status FROM pathway_consents
           WHERE pathway_id = ANY($1::uuid[])""",
        pathway_ids,
    )
    found: dict[str, dict[str, ConsentStatus]] = {}
    for r in rows:
        found.setdefault(str(r["pathway_id"]), {})[str(r["program_id"])] = ConsentStatus(
            r["status"]
        )
    return found


async def consents_by_program(conn: asyncpg.Connection, pathway_id: str) -> dict[str, Consent]:
    """The pathway's requests by program id, locked for update (the pathway is locked)."""
    rows = await conn.fetch(
        "SELECT * FROM pathway_consents WHERE pathway_id = $1 ORDER BY id FOR UPDATE",
        pathway_id,
    )
    return {str(r["program_id"]): _consent(r) for r in rows}


async def get_consent(
    conn: asyncpg.Connection, consent_id: str, *, for_update: bool = False
) -> Consent:
    row = await conn.fetchrow(
        f"SELECT * FROM pathway_consents WHERE id = $1 {'FOR UPDATE' if for_update else ''}",
        consent_id,
    )
    if row is None:
        raise NotFoundError(f"consent {consent_id} not found")
    return _consent(row)


async def find_consent(
    conn: asyncpg.Connection, pathway_id: str, program_id: str
) -> Consent | None:
    row = await conn.fetchrow(
        "SELECT * FROM pathway_consents WHERE pathway_id = $1 AND program_id = $2 FOR UPDATE",
        pathway_id,
        program_id,
    )
    return _consent(row) if row is not None else None


async def view_consent(conn: asyncpg.Connection, consent_id: str) -> ConsentView:
    row = await conn.fetchrow(
        f"SELECT {_CONSENT_COLUMNS} {_CONSENT_FROM} WHERE c.id = $1", consent_id
    )
    if row is None:
        raise NotFoundError(f"consent {consent_id} not found")
    return _consent_view(row)


async def add_consent(conn: asyncpg.Connection, c: Consent) -> Consent:
    """Insert a request; when one for the same pathway and program exists (a concurrent
    duplicate), that one is returned instead."""
    row = await conn.fetchrow(
        """INSERT INTO pathway_consents (id, pathway_id, program_id, requester_id, provider_id,
               status, decided_by, version, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (pathway_id, program_id) DO NOTHING RETURNING *""",
        c.id,
        c.pathway_id,
        c.program_id,
        c.requester_id,
        c.provider_id,
        c.status.value,
        c.decided_by,
        c.version,
        c.created_at,
        c.updated_at,
    )
    if row is not None:
        return _consent(row)
    found = await find_consent(conn, c.pathway_id, c.program_id)
    assert found is not None  # the conflict was with it, and requests are never deleted
    return found


async def save_consent(conn: asyncpg.Connection, c: Consent) -> None:
    await conn.execute(
        """UPDATE pathway_consents SET status = $2, decided_by = $3, version = $4,
               updated_at = $5 WHERE id = $1""",
        c.id,
        c.status.value,
        c.decided_by,
        c.version,
        c.updated_at,
    )


@dataclass(frozen=True)
class ConsentFilter:
    """A consent listing's filters, the caller's provider included (the token's fingerprint)."""

    provider_id: str
    status: str


async def list_consents(
    conn: asyncpg.Connection, filters: ConsentFilter, page: Page
) -> list[ConsentView]:
    column = "c.provider_id" if page.listing is INCOMING else "c.requester_id"
    where = Where().add(f"{column} = {{}}::uuid", filters.provider_id)
    if filters.status:
        where.add("c.status = {}", filters.status)
    rows = await fetch_page(conn, f"SELECT {_CONSENT_COLUMNS} {_CONSENT_FROM}", where, page)
    return [_consent_view(r) for r in rows]


# ---------------------------------------------------------------- protobuf

_PATHWAY_STATUS_TO_PB = {
    PathwayStatus.DRAFT: catalog_pb2.PATHWAY_STATUS_DRAFT,
    PathwayStatus.PUBLISHED: catalog_pb2.PATHWAY_STATUS_PUBLISHED,
    PathwayStatus.ARCHIVED: catalog_pb2.PATHWAY_STATUS_ARCHIVED,
}


def spec_from_pb(pb: catalog_pb2.PathwaySpec) -> PathwaySpec:
    a = pb.achievement
    return PathwaySpec(
        title=pb.title.strip(),
        description=pb.description,
        program_ids=tuple(pb.program_ids),
        required_count=pb.required_count,
        achievement=PathwayAchievement(
            name=a.name.strip(),
            description=a.description,
            criteria=a.criteria,
            skills=tuple(s.strip() for s in a.skills),
            image_url=a.image_url,
        ),
    )


# Paths of UpdatePathwayRequest.update_mask.
PATCH_PATHS = frozenset(
    {"title", "description", "program_ids", "required_count", "achievement"}
    | {f"achievement.{n}" for n in ("name", "description", "criteria", "skills", "image_url")}
)


def spec_from_patch(
    current: PathwaySpec, patch: catalog_service_pb2.PathwayPatch, paths: list[str]
) -> PathwaySpec:
    """`current` with each masked field taken from the patch (cleared where the patch
    leaves it unset), trimmed as spec_from_pb trims. Unknown paths are INVALID_ARGUMENT."""
    bad = [
        FieldViolation("update_mask", f"unknown or read-only path {p!r}")
        for p in paths
        if p not in PATCH_PATHS
    ]
    if not paths:
        bad.append(FieldViolation("update_mask", "must name at least one field"))
    if bad:
        raise InvalidArgumentError("invalid update_mask", bad)
    spec = catalog_pb2.PathwaySpec()
    spec.CopyFrom(_spec_to_pb(current))
    apply_mask(patch, spec, paths, nested="achievement")
    return spec_from_pb(spec)


_CONSENT_STATUS_TO_PB = {
    ConsentStatus.PENDING: catalog_pb2.PATHWAY_CONSENT_STATUS_PENDING,
    ConsentStatus.GRANTED: catalog_pb2.PATHWAY_CONSENT_STATUS_GRANTED,
    ConsentStatus.REFUSED: catalog_pb2.PATHWAY_CONSENT_STATUS_REFUSED,
    ConsentStatus.WITHDRAWN: catalog_pb2.PATHWAY_CONSENT_STATUS_WITHDRAWN,
    ConsentStatus.CANCELLED: catalog_pb2.PATHWAY_CONSENT_STATUS_CANCELLED,
}
CONSENT_STATUS_FROM_PB = {v: k for k, v in _CONSENT_STATUS_TO_PB.items()}


def consent_to_pb(view: ConsentView) -> catalog_pb2.PathwayConsent:
    c = view.consent
    return catalog_pb2.PathwayConsent(
        id=c.id,
        pathway_id=c.pathway_id,
        pathway_title=view.pathway_title,
        requester_provider_id=c.requester_id,
        requester_provider_name=view.requester_name,
        program_id=c.program_id,
        program_title=view.program_title,
        provider_id=c.provider_id,
        provider_name=view.provider_name,
        status=_CONSENT_STATUS_TO_PB[c.status],
        version=c.version,
        create_time=timestamp(c.created_at),
        update_time=timestamp(c.updated_at),
        decided_by=c.decided_by,
        pathway_status=_PATHWAY_STATUS_TO_PB[view.pathway_status],
    )


def _spec_to_pb(s: PathwaySpec) -> catalog_pb2.PathwaySpec:
    return catalog_pb2.PathwaySpec(
        title=s.title,
        description=s.description,
        program_ids=list(s.program_ids),
        required_count=s.required_count,
        achievement=catalog_pb2.PathwayAchievement(
            name=s.achievement.name,
            description=s.achievement.description,
            criteria=s.achievement.criteria,
            skills=list(s.achievement.skills),
            image_url=s.achievement.image_url,
        ),
    )


def pathway_to_pb(
    p: Pathway, shown: dict[str, ProgramRow], consents: dict[str, ConsentStatus]
) -> catalog_pb2.Pathway:
    s = p.spec
    return catalog_pb2.Pathway(
        id=p.id,
        provider_id=p.provider_id,
        provider_name=p.provider_name,
        spec=_spec_to_pb(s),
        status=_PATHWAY_STATUS_TO_PB[p.status],
        version=p.version,
        create_time=timestamp(p.created_at),
        update_time=timestamp(p.updated_at),
        programs=[
            catalog_pb2.PathwayProgram(
                program_id=program_id,
                title=row.title,
                price=money_pb2.Money(amount_minor=row.price_minor, currency=row.currency),
                status=_STATUS_TO_PB[row.ref.status.value],
                provider_id=row.ref.provider_id,
                provider_name=row.provider_name,
                consent_status=(
                    _CONSENT_STATUS_TO_PB[consents[program_id]]
                    if program_id in consents
                    else catalog_pb2.PATHWAY_CONSENT_STATUS_UNSPECIFIED
                ),
            )
            for program_id in s.program_ids
            if (row := shown.get(program_id)) is not None
        ],
    )


def event_to_pb(
    p: Pathway,
    event: PathwayEvent,
    shown: dict[str, ProgramRow],
    consents: dict[str, ConsentStatus],
) -> Message:
    now = timestamp(p.updated_at)
    match event:
        case PathwayPublished():
            return events_pb2.PathwayPublished(
                pathway=pathway_to_pb(p, shown, consents), occur_time=now
            )
        case PathwayArchived():
            return events_pb2.PathwayArchived(
                pathway_id=p.id, provider_id=p.provider_id, version=p.version, occur_time=now
            )
    raise TypeError(f"unknown pathway event {event!r}")
