"""Every listing's repository walked page by page through real page tokens, on a real
database, under every combination of its filters, while other connections insert matching
rows between and during the page fetches: each walk returns exactly the rows that existed
when it started, in (time DESC, id DESC) order, none twice, none of the new ones. Rows that
share one timestamp (written in one transaction) page by their id."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import asyncpg
import pytest

from services.catalog import repository as catalog
from services.catalog.domain import CredentialTemplate, Program, ProgramSpec, Provider
from services.common import db
from services.common.errors import InvalidArgumentError
from services.common.paging import Listing, Page
from services.common.sql import OwnerScope
from services.credentials import repository as credentials
from services.enrollment import repository as enrollments
from services.enrollment.domain import Enrollment, Price

pytestmark = pytest.mark.asyncio(loop_scope="session")

T = TypeVar("T")

# The rows under test were written a while ago, several to each timestamp: page sizes 1, 3
# and 4 put page boundaries inside those groups.
AGO = datetime.now(UTC) - timedelta(days=1)
GROUP = 4
# Rows inserted between pages (first few gaps) and, concurrently, by another task.
BETWEEN_PAGES = 2
CONCURRENT = 4


@dataclass
class Row:
    id: str
    at: datetime
    attrs: dict[str, Any]


def newest_first(rows: list[Row]) -> list[str]:
    # PostgreSQL orders uuids bytewise, as Python's UUID does.
    ordered = sorted(rows, key=lambda r: (r.at, uuid.UUID(r.id)), reverse=True)
    return [r.id for r in ordered]


def tied(i: int) -> datetime:
    return AGO + timedelta(seconds=i // GROUP)


async def migrated_pool(dsn: str, package: str) -> asyncpg.Pool:
    pool = await db.create_pool(dsn)
    async with pool.acquire() as conn:
        await db.migrate(conn, "services.common", package)
    return pool


async def walk(
    pool: asyncpg.Pool,
    listing: Listing,
    filters: Any,
    size: int,
    fetch: Callable[[asyncpg.Connection, Any, Page], Awaitable[list[Any]]],
    key: Callable[[Any], tuple[datetime, str]],
    insert: Callable[[], Awaitable[Row]],
) -> tuple[list[str], list[Row]]:
    """(ids of every page in order, rows inserted while walking)."""
    inserted: list[Row] = []
    ids: list[str] = []

    started = asyncio.Event()  # the first page is read: the walk has begun

    async def concurrently() -> None:
        await started.wait()
        for _ in range(CONCURRENT):
            inserted.append(await insert())

    async def pages() -> None:
        token, gaps = "", 0
        while True:
            page = Page.request(listing, token, size, filters)
            async with pool.acquire() as conn:
                rows = await fetch(conn, filters, page)
            assert len(rows) <= size + 1
            shown, token = page.split(rows, key)
            ids.extend(r.id for r in shown)
            started.set()
            if not token:
                return
            gaps += 1
            assert gaps < 1000, "the walk does not end"
            if gaps <= BETWEEN_PAGES:
                inserted.append(await insert())

    # Each on its own connection from the pool: the inserts commit while the walk runs.
    # (A task group: a failing walk cancels the inserter instead of leaving it running.)
    async with asyncio.TaskGroup() as group:
        group.create_task(pages())
        group.create_task(concurrently())
    return ids, inserted


def assert_exact(ids: list[str], expected: list[str], inserted: list[Row]) -> None:
    assert len(ids) == len(set(ids)), "an item repeats across pages"
    assert not set(ids) & {r.id for r in inserted}, "a row inserted behind the walk showed up"
    assert ids == expected


# ---------------------------------------------------------------- catalog

WORD = "zebrafinch"
SKILL = "sql"


@pytest.fixture
async def catalog_db(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_pool(fresh_database, "services.catalog")
    yield pool
    await pool.close()


def _program(provider: Provider, *, word: bool, skill: bool, price: int) -> Program:
    spec = ProgramSpec(
        title=f"Course {WORD if word else 'plain'}",
        summary="Summary",
        description="Description",
        skills=(SKILL,) if skill else ("other",),
        duration_hours=1,
        price_minor=price,
        currency="USD",
        capacity=None,
        credential=CredentialTemplate("Name", "Description", "Criteria"),
    )
    return Program.draft(provider, spec)


def _catalog_row(program: Program) -> Row:
    s = program.spec
    return Row(
        program.id,
        program.created_at,
        {
            "word": WORD in s.title,
            "skill": SKILL in s.skills,
            "provider_id": program.provider_id,
            "price": s.price_minor,
        },
    )


def _matches(row: Row, f: catalog.CatalogFilter) -> bool:
    a = row.attrs
    return (
        (not f.query or a["word"])
        and (not f.skill or a["skill"])
        and (not f.provider_id or a["provider_id"] == f.provider_id)
        and (f.max_price_minor is None or a["price"] <= f.max_price_minor)
    )


async def test_catalog_walks_exactly_under_every_filter(catalog_db: asyncpg.Pool) -> None:
    a, b = Provider(str(uuid.uuid4()), "A"), Provider(str(uuid.uuid4()), "B")
    rows: list[Row] = []
    async with catalog_db.acquire() as conn:
        for provider in (a, b):
            await catalog.add_provider(conn, provider)
        for start in range(0, 28, GROUP):
            async with conn.transaction():  # one group, one timestamp, one transaction
                for i in range(start, start + GROUP):
                    p = _program(
                        a if i % 2 else b, word=i % 3 == 0, skill=i % 4 != 1, price=i * 100
                    )
                    p.publish()
                    p.created_at = tied(i)
                    await catalog.add_program(conn, p)
                    rows.append(_catalog_row(p))
                # Drafts match every filter and never show.
                draft = _program(a, word=True, skill=True, price=0)
                draft.created_at = tied(start)
                await catalog.add_program(conn, draft)

    async def insert() -> Row:
        p = _program(a, word=True, skill=True, price=0)
        p.publish()
        async with catalog_db.acquire() as conn:
            await catalog.add_program(conn, p)
        return _catalog_row(p)

    combos = itertools.product(["", WORD], ["", SKILL], ["", a.id], [None, 1500])
    for query, skill, provider_id, max_price in combos:
        filters = catalog.CatalogFilter(query, skill, provider_id, max_price)
        for size in (1, 3, 4) if not (query or skill) else (3,):
            expected = newest_first([r for r in rows if _matches(r, filters)])
            assert expected
            ids, inserted = await walk(
                catalog_db,
                catalog.PUBLISHED,
                filters,
                size,
                catalog.list_programs,
                lambda p: (p.created_at, p.id),
                insert,
            )
            assert_exact(ids, expected, inserted)
            rows += inserted  # they existed before the next walk


async def test_rows_with_one_timestamp_page_by_id(catalog_db: asyncpg.Pool) -> None:
    provider = Provider(str(uuid.uuid4()), "A")
    rows: list[Row] = []
    async with catalog_db.acquire() as conn, conn.transaction():
        await catalog.add_provider(conn, provider)
        for _ in range(11):
            p = _program(provider, word=True, skill=True, price=0)
            p.publish()
            p.created_at = AGO
            await catalog.add_program(conn, p)
            rows.append(_catalog_row(p))
        # And the same instant from the database's own clock (DEFAULT now()).
        await conn.execute("UPDATE programs SET created_at = now()")
    async with catalog_db.acquire() as conn:
        [[at]] = await conn.fetch("SELECT DISTINCT created_at FROM programs")
    for row in rows:
        row.at = at
    for size in range(1, 13):
        ids: list[str] = []
        token = ""
        while True:
            page = Page.request(catalog.PUBLISHED, token, size, catalog.CatalogFilter())
            async with catalog_db.acquire() as conn:
                shown, token = page.split(
                    await catalog.list_programs(conn, catalog.CatalogFilter(), page),
                    lambda p: (p.created_at, p.id),
                )
            ids += [p.id for p in shown]
            if not token:
                break
        assert ids == newest_first(rows), f"page size {size}"


# ---------------------------------------------------------------- enrollments

LEARNERS = ("alice", "bob", "carol")


@pytest.fixture
async def enrollment_db(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_pool(fresh_database, "services.enrollment")
    yield pool
    await pool.close()


def _enrollment(learner: str, program: tuple[str, str], at: datetime | None = None) -> Enrollment:
    e = Enrollment.open(
        learner_id=learner,
        learner_email=f"{learner}@example.com",
        program_id=program[0],
        provider_id=program[1],
        price=Price(4900, "USD"),
        snapshot=b"",
    )
    e.cancel()  # cancelled: a learner may hold any number of these in one program
    if at is not None:
        e.created_at = at
    return e


def _owned_row(id_: str, at: datetime, learner: str, program: tuple[str, str]) -> Row:
    return Row(
        id_, at, {"learner_id": learner, "program_id": program[0], "provider_id": program[1]}
    )


def _visible(row: Row, scope: OwnerScope) -> bool:
    a = row.attrs
    return (
        (scope.learner_id is None or a["learner_id"] == scope.learner_id)
        and (scope.provider_id is None or a["provider_id"] == scope.provider_id)
        and (not scope.program_id or a["program_id"] == scope.program_id)
    )


def _scopes(programs: list[tuple[str, str]]) -> list[OwnerScope]:
    providers = sorted({p[1] for p in programs})
    return [
        OwnerScope(None, None, ""),  # admin
        OwnerScope(None, None, programs[0][0]),
        *(OwnerScope(learner, None, "") for learner in LEARNERS),
        OwnerScope(LEARNERS[0], None, programs[1][0]),
        OwnerScope(None, providers[0], ""),
        OwnerScope(None, providers[0], next(p for p in programs if p[1] == providers[0])[0]),
    ]


def _programs() -> list[tuple[str, str]]:
    providers = [str(uuid.uuid4()) for _ in range(2)]
    return [(str(uuid.uuid4()), providers[i % 2]) for i in range(4)]


async def test_enrollments_walk_exactly_in_every_scope(enrollment_db: asyncpg.Pool) -> None:
    programs = _programs()
    rows: list[Row] = []
    async with enrollment_db.acquire() as conn:
        for start in range(0, 36, GROUP):
            async with conn.transaction():
                for i in range(start, start + GROUP):
                    learner, program = LEARNERS[i % 3], programs[i % 4]
                    e = _enrollment(learner, program, tied(i))
                    await enrollments.add(conn, e)
                    rows.append(_owned_row(e.id, e.created_at, learner, program))

    for scope in _scopes(programs):
        learner = scope.learner_id or LEARNERS[0]
        program = next(
            p
            for p in programs
            if (not scope.program_id or p[0] == scope.program_id)
            and (scope.provider_id is None or p[1] == scope.provider_id)
        )

        async def insert(learner: str = learner, program: tuple[str, str] = program) -> Row:
            e = _enrollment(learner, program)
            async with enrollment_db.acquire() as conn:
                await enrollments.add(conn, e)
            return _owned_row(e.id, e.created_at, learner, program)

        for size in (1, 3, 4):
            expected = newest_first([r for r in rows if _visible(r, scope)])
            assert len(expected) >= 3
            ids, inserted = await walk(
                enrollment_db,
                enrollments.LISTING,
                scope,
                size,
                enrollments.list_for,
                lambda e: (e.created_at, e.id),
                insert,
            )
            assert_exact(ids, expected, inserted)
            rows += inserted


# ---------------------------------------------------------------- credentials


@pytest.fixture
async def credential_db(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await migrated_pool(fresh_database, "services.credentials")
    async with pool.acquire() as conn:
        await credentials.register_key(conn, "k1", "ES256", {"kty": "EC"})
    yield pool
    await pool.close()


async def _add_credential(
    conn: asyncpg.Connection, learner: str, program: tuple[str, str], at: datetime
) -> Row:
    list_id, index = await credentials.allocate_status_index(conn, program[1], "Provider")
    record = credentials.CredentialRecord(
        id=str(uuid.uuid4()),
        enrollment_id=str(uuid.uuid4()),
        program_id=program[0],
        provider_id=program[1],
        learner_id=learner,
        achievement_name="Name",
        status="ISSUED",
        jwt="x.y.z",
        kid="k1",
        status_list_id=list_id,
        status_index=index,
        issued_at=at,
    )
    insert = credentials.add(record)
    assert await conn.fetchval(insert.sql, *insert.args)
    return _owned_row(record.id, at, learner, program)


async def test_credentials_walk_exactly_in_every_scope(credential_db: asyncpg.Pool) -> None:
    programs = _programs()
    rows: list[Row] = []
    async with credential_db.acquire() as conn:
        for start in range(0, 36, GROUP):
            async with conn.transaction():
                for i in range(start, start + GROUP):
                    rows.append(
                        await _add_credential(conn, LEARNERS[i % 3], programs[i % 4], tied(i))
                    )

    for scope in _scopes(programs):
        learner = scope.learner_id or LEARNERS[0]
        program = next(
            p
            for p in programs
            if (not scope.program_id or p[0] == scope.program_id)
            and (scope.provider_id is None or p[1] == scope.provider_id)
        )

        async def insert(learner: str = learner, program: tuple[str, str] = program) -> Row:
            async with credential_db.acquire() as conn, conn.transaction():
                return await _add_credential(conn, learner, program, datetime.now(UTC))

        for size in (1, 3, 4):
            expected = newest_first([r for r in rows if _visible(r, scope)])
            assert len(expected) >= 3
            ids, inserted = await walk(
                credential_db,
                credentials.LISTING,
                scope,
                size,
                credentials.list_for,
                lambda c: (c.issued_at, c.id),
                insert,
            )
            assert_exact(ids, expected, inserted)
            rows += inserted


# ---------------------------------------------------------------- tokens out of place


async def test_a_token_pages_only_its_own_listing_and_filters(catalog_db: asyncpg.Pool) -> None:
    provider = Provider(str(uuid.uuid4()), "A")
    async with catalog_db.acquire() as conn:
        await catalog.add_provider(conn, provider)
        for _ in range(3):
            p = _program(provider, word=True, skill=True, price=0)
            p.publish()
            await catalog.add_program(conn, p)
    filters = catalog.CatalogFilter(query=WORD)
    first = Page.request(catalog.PUBLISHED, "", 1, filters)
    async with catalog_db.acquire() as conn:
        _, token = first.split(
            await catalog.list_programs(conn, filters, first), lambda p: (p.created_at, p.id)
        )
    assert token
    assert Page.request(catalog.PUBLISHED, token, 1, filters).after is not None
    for listing, other in (
        (enrollments.LISTING, OwnerScope(None, None, "")),
        (credentials.LISTING, OwnerScope(None, None, "")),
        (catalog.PUBLISHED, catalog.CatalogFilter(query="other")),
        (catalog.PUBLISHED, catalog.CatalogFilter(query=WORD, skill=SKILL)),
        (catalog.PUBLISHED, catalog.CatalogFilter(query=WORD, max_price_minor=0)),
    ):
        with pytest.raises(InvalidArgumentError) as refused:
            Page.request(listing, token, 1, other)
        assert [v.field for v in refused.value.violations] == ["page_token"]
