"""Catalog persistence: providers and programs in the catalog database."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import asyncpg

from services.catalog.domain import (
    CredentialTemplate,
    Issuance,
    Program,
    ProgramSpec,
    ProgramStatus,
    Provider,
)
from services.common.errors import NotFoundError
from services.common.paging import Listing, Page
from services.common.sql import Where, fetch_page

_PROGRAM_COLUMNS = """p.id, p.provider_id, v.name AS provider_name, p.title, p.summary, p.description,
    p.skills, p.duration_hours, p.price_minor, p.currency, p.capacity, p.credential, p.status,
    p.version, p.created_at, p.updated_at"""


def _provider(row: Any) -> Provider:
    return Provider(
        id=str(row["id"]),
        name=row["name"],
        website=row["website"],
        email=row["email"],
        created_at=row["created_at"],
    )


def _program(row: Any) -> Program:
    credential = json.loads(row["credential"])
    return Program(
        id=str(row["id"]),
        provider_id=str(row["provider_id"]),
        provider_name=row["provider_name"],
        spec=ProgramSpec(
            title=row["title"],
            summary=row["summary"],
            description=row["description"],
            skills=tuple(row["skills"]),
            duration_hours=row["duration_hours"],
            price_minor=row["price_minor"],
            currency=row["currency"],
            capacity=row["capacity"],
            credential=CredentialTemplate(
                name=credential["name"],
                description=credential["description"],
                criteria=credential["criteria"],
                issuance=Issuance(credential["issuance"]),
                valid_for_days=credential.get("valid_for_days"),
            ),
        ),
        status=ProgramStatus(row["status"]),
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _credential_json(template: CredentialTemplate) -> str:
    return json.dumps(
        {
            "name": template.name,
            "description": template.description,
            "criteria": template.criteria,
            "issuance": template.issuance.value,
            "valid_for_days": template.valid_for_days,
        }
    )


async def add_provider(conn: asyncpg.Connection, provider: Provider) -> None:
    await conn.execute(
        "INSERT INTO providers (id, name, website, email, created_at) VALUES ($1, $2, $3, $4, $5)",
        provider.id,
        provider.name,
        provider.website,
        provider.email,
        provider.created_at,
    )


async def get_provider(conn: asyncpg.Connection, provider_id: str) -> Provider:
    row = await conn.fetchrow("SELECT * FROM providers WHERE id = $1", provider_id)
    if row is None:
        raise NotFoundError(f"provider {provider_id} not found")
    return _provider(row)


async def get_program(
    conn: asyncpg.Connection, program_id: str, *, for_update: bool = False
) -> Program:
    row = await conn.fetchrow(
        f"""SELECT {_PROGRAM_COLUMNS} FROM programs p JOIN providers v ON v.id = p.provider_id
            WHERE p.id = $1 {"FOR UPDATE OF p" if for_update else ""}""",
        program_id,
    )
    if row is None:
        raise NotFoundError(f"program {program_id} not found")
    return _program(row)


async def add_program(conn: asyncpg.Connection, program: Program) -> None:
    s = program.spec
    await conn.execute(
        """INSERT INTO programs (id, provider_id, title, summary, description, skills,
               duration_hours, price_minor, currency, capacity, credential, status, version,
               created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)""",
        program.id,
        program.provider_id,
        s.title,
        s.summary,
        s.description,
        list(s.skills),
        s.duration_hours,
        s.price_minor,
        s.currency,
        s.capacity,
        _credential_json(s.credential),
        program.status.value,
        program.version,
        program.created_at,
        program.updated_at,
    )


async def save_program(conn: asyncpg.Connection, program: Program) -> None:
    s = program.spec
    await conn.execute(
        """UPDATE programs SET title = $2, summary = $3, description = $4, skills = $5,
               duration_hours = $6, price_minor = $7, currency = $8, capacity = $9,
               credential = $10, status = $11, version = $12, updated_at = $13
           WHERE id = $1""",
        program.id,
        s.title,
        s.summary,
        s.description,
        list(s.skills),
        s.duration_hours,
        s.price_minor,
        s.currency,
        s.capacity,
        _credential_json(s.credential),
        program.status.value,
        program.version,
        program.updated_at,
    )


PUBLISHED = Listing("programs", table="p")
# A provider's own listing (the studio): drafts and archived programs too. Its own kind, so
# a token of the public listing cannot page it, nor the other way round.
PROVIDER_PROGRAMS = Listing("provider-programs", table="p")

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class CatalogFilter:
    """The filters of a catalog listing (normalised: text stripped). `include_unpublished`
    lists every status, for the provider's own staff (the API checks who asks)."""

    query: str = ""
    skill: str = ""
    provider_id: str = ""
    max_price_minor: int | None = None
    min_duration_hours: int | None = None
    max_duration_hours: int | None = None
    include_unpublished: bool = False


MAX_SEARCH_WORDS = 8


def search_condition(where: Where, query: str) -> str:
    """Programs matching every word of `query`, each word either as a word or word prefix
    of the title, summary or description (full text, the `search` GIN index: "SQ" finds
    "SQL", "analyst" finds "Analysts") or, typo and all, close to a stretch of the title
    or summary (trigrams, the `search_words` GIN index: "Kubernets" finds "Kubernetes";
    `%>` holds at pg_trgm's default word_similarity_threshold, 0.6). Only word characters
    reach either operator, so nothing a person types is query syntax. Its values become
    parameters of `where`; a query with no word matches nothing."""
    words = list(dict.fromkeys(_WORD.findall(query.lower())))[:MAX_SEARCH_WORDS]
    if not words:
        return "false"
    return " AND ".join(
        f"(search @@ to_tsquery('simple', {where.param(word + ':*')})"
        f" OR search_words %> {where.param(word)})"
        for word in words
    )


async def list_programs(
    conn: asyncpg.Connection, filters: CatalogFilter, page: Page
) -> list[Program]:
    where = Where()
    select = f"SELECT {_PROGRAM_COLUMNS} FROM programs p JOIN providers v ON v.id = p.provider_id"
    if filters.query:
        # The matches first, from the two GIN indexes (a bitmap OR), then their newest
        # page. Left to itself the planner may walk the whole newest-first listing testing
        # each row's trigrams instead: fast for a word every program has, a scan of every
        # program for a rare one. MATERIALIZED makes the cost follow the number of matches.
        select = (
            "WITH hits AS MATERIALIZED"
            f" (SELECT id FROM programs WHERE {search_condition(where, filters.query)})"
            f" {select} JOIN hits h ON h.id = p.id"
        )
    if not filters.include_unpublished:
        where.add("p.status = 'PUBLISHED'")
    if filters.skill:
        # Containment, not `= ANY`: only @> can use the GIN index on skills.
        where.add("p.skills @> ARRAY[{}]::text[]", filters.skill)
    if filters.provider_id:
        where.add("p.provider_id = {}::uuid", filters.provider_id)
    if filters.max_price_minor is not None:
        where.add("p.price_minor <= {}", filters.max_price_minor)
    if filters.min_duration_hours is not None:
        where.add("p.duration_hours >= {}", filters.min_duration_hours)
    if filters.max_duration_hours is not None:
        where.add("p.duration_hours <= {}", filters.max_duration_hours)
    return [_program(r) for r in await fetch_page(conn, select, where, page)]


async def find_providers(conn: asyncpg.Connection, name: str) -> list[Provider]:
    rows = await conn.fetch(
        "SELECT * FROM providers WHERE name = $1 ORDER BY created_at, id LIMIT 100", name
    )
    return [_provider(r) for r in rows]


async def my_providers(conn: asyncpg.Connection, subject: str) -> list[tuple[Provider, str]]:
    """The providers `subject` is a member of, with the member's role, oldest first."""
    rows = await conn.fetch(
        """SELECT v.*, m.role AS member_role FROM provider_members m
           JOIN providers v ON v.id = m.provider_id
           WHERE m.subject = $1 ORDER BY m.created_at, v.id LIMIT 100""",
        subject,
    )
    return [(_provider(r), r["member_role"]) for r in rows]
