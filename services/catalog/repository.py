"""Catalog persistence: providers and programs in the catalog database."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
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
from services.common.paging import Listing, Page, issued_by
from services.common.sql import Where, fetch_page
from services.common.volume_tiers import VolumeTier

_PROGRAM_COLUMNS = """p.id, p.provider_id, v.name AS provider_name, p.title, p.summary, p.description,
    p.skills, p.duration_hours, p.price_minor, p.currency, p.capacity, p.credential, p.status,
    p.version, p.created_at, p.updated_at, p.volume_tiers"""
PROGRAM_COLUMNS = _PROGRAM_COLUMNS  # for services/catalog/programs_batch.py


def _provider(row: Any) -> Provider:
    return Provider(
        id=str(row["id"]),
        name=row["name"],
        website=row["website"],
        email=row["email"],
        created_at=row["created_at"],
    )


def program_from_row(row: Any) -> Program:
    return _program(row)


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
            volume_tiers=tuple(
                VolumeTier(t["min_seats"], t["unit_amount_minor"])
                for t in json.loads(row["volume_tiers"])
            ),
        ),
        status=ProgramStatus(row["status"]),
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _tiers_json(tiers: tuple[VolumeTier, ...]) -> str:
    return json.dumps(
        [{"min_seats": t.min_seats, "unit_amount_minor": t.unit_amount_minor} for t in tiers]
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


# One program's columns, its provider's name read by a scalar subquery rather than a join
# (the provider always exists: a foreign key). The catalog's sessions plan every statement
# for its values (migration 0021), and GetProgram runs on every purchase: planning the
# subquery costs the planner no join search. Measured, 4,000 calls in 3 alternating pairs:
# 0.128-0.138 -> 0.093-0.113 PostgreSQL CPU-ms per call.
_ONE_PROGRAM_COLUMNS = _PROGRAM_COLUMNS.replace(
    "v.name AS provider_name",
    "(SELECT v.name FROM providers v WHERE v.id = p.provider_id) AS provider_name",
)


async def get_program(
    conn: asyncpg.Connection, program_id: str, *, for_update: bool = False
) -> Program:
    row = await conn.fetchrow(
        f"""SELECT {_ONE_PROGRAM_COLUMNS} FROM programs p
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
               created_at, updated_at, volume_tiers)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)""",
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
        _tiers_json(s.volume_tiers),
    )


async def save_program(conn: asyncpg.Connection, program: Program) -> None:
    s = program.spec
    await conn.execute(
        """UPDATE programs SET title = $2, summary = $3, description = $4, skills = $5,
               duration_hours = $6, price_minor = $7, currency = $8, capacity = $9,
               credential = $10, status = $11, version = $12, updated_at = $13,
               volume_tiers = $14
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
        _tiers_json(s.volume_tiers),
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


# Search is two listings. First every word as a word or word prefix, full text on the
# `search` GIN index ("SQ" finds "SQL", "analyst" finds "Analysts"). Only when that finds
# nothing, the same again with typos forgiven ("Kubernets" finds "Kubernetes"): each word
# may also be one of the few words programs use that are closest to it (pg_trgm trigram
# similarity over the small `search_lexicon`, on its trigram GIN index), still searched
# with the full-text index. Why not trigram similarity on the programs themselves: it is
# far costlier per row and far less selective, so the planner either walked every program
# testing each (seconds at 100,000 programs for a word nobody uses) or sorted thousands
# of near matches. Each listing has its own kind of page token, so a walk stays on the
# listing it started on.
# The corrections are read from the lexicon as it was when the walk began (its tokens carry
# that moment: a pinned listing): a program published mid-walk may bring a word nearer than
# one of them, and corrected anew a later page would search for other words, losing the
# programs only the displaced word found.
TYPO_TOLERANT = Listing("programs-typos", table="p", pinned=True)
MAX_SEARCH_WORDS = 8
# Per word, at most this many corrections, the nearest first, each at least this similar
# (pg_trgm similarity, 0.3 being its own default threshold for `%`).
MAX_CORRECTIONS = 3
MIN_SIMILARITY = 0.3


def search_words(query: str) -> list[str]:
    """The words of a query, lower-cased and distinct: only word characters ever reach
    the tsquery, so nothing a person types is query syntax."""
    return list(dict.fromkeys(_WORD.findall(query.lower())))[:MAX_SEARCH_WORDS]


def _correctable(word: str) -> bool:
    """What the lexicon holds (see migration 0050): letters only, 3 to 40 of them."""
    return 3 <= len(word) <= 40 and word.isalpha()


async def corrections(
    conn: asyncpg.Connection, words: list[str], as_of: datetime | None = None
) -> list[list[str]]:
    """Each word with the words programs use that are closest to it (of the words the
    lexicon had at `as_of`, when given)."""
    asked = [w if _correctable(w) else "" for w in words]
    if not any(asked):
        return [[word] for word in words]
    rows = await conn.fetch(
        """SELECT q.i, l.word FROM unnest($1::text[]) WITH ORDINALITY AS q(word, i)
           CROSS JOIN LATERAL (
               SELECT word, word <-> q.word AS distance FROM search_lexicon
               WHERE $4::timestamptz IS NULL OR added_at <= $4
               ORDER BY word <-> q.word LIMIT $2) AS l
           WHERE q.word <> '' AND l.distance <= $3 AND l.word <> q.word
           ORDER BY q.i, l.distance, l.word""",
        asked,
        MAX_CORRECTIONS + 1,  # the word itself may be the nearest
        1 - MIN_SIMILARITY,
        as_of,
    )
    groups = [[word] for word in words]
    for row in rows:
        group = groups[row["i"] - 1]
        # The same rule as a typed word: only word characters reach the tsquery.
        if len(group) <= MAX_CORRECTIONS and _WORD.fullmatch(row["word"]):
            group.append(row["word"])
    return groups


def search_condition(where: Where, groups: list[list[str]]) -> str:
    """Programs having, for every group, one of its words as a word or word prefix. Its
    value becomes a parameter of `where`; no group matches nothing."""
    if not groups:
        return "false"
    terms = " & ".join("(" + " | ".join(f"{w}:*" for w in group) + ")" for group in groups)
    return f"p.search @@ to_tsquery('simple', {where.param(terms)})"


# How a search finds its page, whatever the word's frequency: it first walks at most this
# many of the newest programs (after the page's cursor) that pass the other filters and
# keeps the matches; a word on more than one program in ~150 fills the page there, in a few
# milliseconds. Otherwise the word is rare (or absent), so all its matches, taken from the
# full-text GIN index, are few and sorting them is cheap. Left to the planner alone, the
# prefix and typo searches' poor row estimates made it walk all 100,000 programs for a
# word no program has (half a second), or sort tens of thousands for a common one.
SEARCH_WALK_ROWS = 2000


def _filters(where: Where, filters: CatalogFilter) -> Where:
    """Every filter but the search."""
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
    return where


async def list_programs(
    conn: asyncpg.Connection, filters: CatalogFilter, page: Page, *, typos: bool = False
) -> list[Program]:
    """One page of programs; `typos`: the typo-tolerant search (see TYPO_TOLERANT)."""
    joined = "JOIN providers v ON v.id = p.provider_id"
    if not filters.query:
        select = f"SELECT {_PROGRAM_COLUMNS} FROM programs p {joined}"
        return [
            _program(r) for r in await fetch_page(conn, select, _filters(Where(), filters), page)
        ]
    words = search_words(filters.query)
    groups = await corrections(conn, words, page.began) if typos and words else [[w] for w in words]

    # 1. The newest SEARCH_WALK_ROWS programs after the cursor, and the matches among them.
    walk = _filters(Where(), filters)
    if page.after is not None:
        walk.add("(p.created_at, p.id) < ({}, {}::uuid)", *page.after)
    matching = search_condition(walk, groups)
    order = "ORDER BY p.created_at DESC, p.id DESC"
    rows = await conn.fetch(
        f"""SELECT {_PROGRAM_COLUMNS}
            FROM (SELECT p.* FROM programs p {walk.sql()} {order}
                  LIMIT {walk.param(SEARCH_WALK_ROWS)}) p {joined}
            WHERE {matching} {order} LIMIT {walk.param(page.size + 1)}""",
        *walk.args,
    )
    if len(rows) > page.size:
        return [_program(r) for r in rows]

    # 2. Too few there: a rare word. All its matches from the index, then their page.
    where = _filters(Where(), filters)
    hits = search_condition(where, groups)
    select = (
        f"WITH hits AS MATERIALIZED (SELECT p.id FROM programs p WHERE {hits})"
        f" SELECT {_PROGRAM_COLUMNS} FROM programs p {joined} JOIN hits h ON h.id = p.id"
    )
    return [_program(r) for r in await fetch_page(conn, select, where, page)]


async def find_programs(
    conn: asyncpg.Connection, filters: CatalogFilter, listing: Listing, token: str, size: int
) -> tuple[list[Program], Page]:
    """One page of `listing` (fetched one row long, for Page.split) and the page it is. A
    public search that finds nothing is tried again forgiving typos (TYPO_TOLERANT); a
    page token says which of the two a walk is on."""
    fallback = bool(filters.query) and listing is PUBLISHED
    # A token names the listing its walk is on; any other is refused by the one asked for.
    typos = fallback and issued_by(token) == TYPO_TOLERANT.kind
    page = Page.request(TYPO_TOLERANT if typos else listing, token, size, filters)
    programs = await list_programs(conn, filters, page, typos=typos)
    if fallback and not programs and page.after is None and not typos:
        # The walk of the typo-tolerant listing begins: its corrections are as of now. (A
        # word whose program commits just after, in a transaction begun before, is still
        # taken by later pages: the same few milliseconds' race as any keyset listing has.)
        began = await conn.fetchval("SELECT now()")
        page = Page.request(TYPO_TOLERANT, "", size, filters).began_at(began)
        programs = await list_programs(conn, filters, page, typos=True)
    return programs, page


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
