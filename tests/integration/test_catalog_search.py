"""Finding programs: partial words, prefixes and small typos match; unrelated words do not;
paging walks the matches exactly; drafts are listed only when asked for."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.catalog import repository as catalog
from services.catalog.domain import CredentialTemplate, Program, ProgramSpec, Provider
from services.common import db
from services.common.errors import InvalidArgumentError
from services.common.paging import Page

TITLES = {
    "sql": ("SQL for Analysts", "Query data with confidence"),
    "kube": ("Kubernetes Basics", "Run containers in production"),
    "design": ("Product Design Sprint", "From sketch to prototype"),
    "rust": ("Systems Programming in Rust", "Ownership without fear"),
}


@pytest.fixture
async def catalog_db(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await db.create_pool(fresh_database)
    async with pool.acquire() as conn:
        await db.migrate(conn, "services.common", "services.catalog")
    yield pool
    await pool.close()


def _program(provider: Provider, title: str, summary: str, hours: int = 1) -> Program:
    return Program.draft(
        provider,
        ProgramSpec(
            title=title,
            summary=summary,
            description="",
            skills=(),
            duration_hours=hours,
            price_minor=100,
            currency="USD",
            capacity=None,
            credential=CredentialTemplate("Name", "Description", "Criteria"),
        ),
    )


async def _seed(pool: asyncpg.Pool) -> tuple[Provider, dict[str, str]]:
    provider = Provider(str(uuid.uuid4()), "Academy")
    ids = {}
    async with pool.acquire() as conn:
        await catalog.add_provider(conn, provider)
        for key, (title, summary) in TITLES.items():
            program = _program(provider, title, summary, hours=len(title))
            program.publish()
            await catalog.add_program(conn, program)
            ids[key] = program.id
        draft = _program(provider, "SQL Drafting Table", "not on sale")
        await catalog.add_program(conn, draft)
        ids["draft"] = draft.id
    return provider, ids


async def _search(pool: asyncpg.Pool, filters: catalog.CatalogFilter) -> set[str]:
    async with pool.acquire() as conn:
        programs, _ = await catalog.find_programs(conn, filters, catalog.PUBLISHED, "", 50)
    return {p.id for p in programs}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("SQ", {"sql"}),
        ("sql", {"sql"}),
        ("analyst", {"sql"}),
        ("Analysts", {"sql"}),
        ("Kube", {"kube"}),
        ("kubernetes", {"kube"}),
        ("Kubernets", {"kube"}),  # a letter missing
        ("Kubernetse", {"kube"}),  # two swapped
        ("dessign", {"design"}),  # a letter doubled
        ("sql analysts", {"sql"}),
        ("containers production", {"kube"}),
        ("zebrafinch", set()),
        ("ownership rust", {"rust"}),
    ],
)
async def test_search_matches_partial_words_and_typos(
    catalog_db: asyncpg.Pool, query: str, expected: set[str]
) -> None:
    _, ids = await _seed(catalog_db)
    found = await _search(catalog_db, catalog.CatalogFilter(query=query))
    assert found == {ids[k] for k in expected}


@pytest.mark.parametrize(
    "query", ["'", "a & b", "!!", "x:*", "(", "\\", "SQL | rust", "tab\there", "ünïcödé", "%_%"]
)
async def test_search_operators_typed_by_people_are_plain_text(
    catalog_db: asyncpg.Pool, query: str
) -> None:
    await _seed(catalog_db)
    await _search(catalog_db, catalog.CatalogFilter(query=query))  # no syntax error


async def test_duration_bounds_filter(catalog_db: asyncpg.Pool) -> None:
    _, ids = await _seed(catalog_db)
    short = await _search(catalog_db, catalog.CatalogFilter(max_duration_hours=17))
    assert short == {ids["sql"], ids["kube"]}  # titles of 16 and 17 characters
    long = await _search(catalog_db, catalog.CatalogFilter(min_duration_hours=18))
    assert long == {ids["design"], ids["rust"]}


async def test_provider_listing_includes_drafts_and_pages(catalog_db: asyncpg.Pool) -> None:
    provider, ids = await _seed(catalog_db)
    filters = catalog.CatalogFilter(provider_id=provider.id, include_unpublished=True)
    seen: list[str] = []
    token = ""
    while True:
        page = Page.request(catalog.PROVIDER_PROGRAMS, token, 2, filters)
        async with catalog_db.acquire() as conn:
            shown, token = page.split(
                await catalog.list_programs(conn, filters, page), lambda p: (p.created_at, p.id)
            )
        seen += [p.id for p in shown]
        if not token:
            break
    assert sorted(seen) == sorted(ids.values())
    assert len(seen) == len(set(seen))
    public = await _search(catalog_db, catalog.CatalogFilter(provider_id=provider.id))
    assert ids["draft"] not in public


async def test_search_pages_exactly(catalog_db: asyncpg.Pool) -> None:
    provider = Provider(str(uuid.uuid4()), "Academy")
    async with catalog_db.acquire() as conn:
        await catalog.add_provider(conn, provider)
        expected = []
        for i in range(7):
            program = _program(provider, f"Kubernetes level {i}", "")
            program.publish()
            await catalog.add_program(conn, program)
            expected.append(program.id)
    for query in ("kubernetes", "kube", "kubernets"):  # whole word, prefix, typo
        filters = catalog.CatalogFilter(query=query)
        seen: list[str] = []
        token = ""
        while True:
            async with catalog_db.acquire() as conn:
                rows, page = await catalog.find_programs(conn, filters, catalog.PUBLISHED, token, 3)
            shown, token = page.split(rows, lambda p: (p.created_at, p.id))
            seen += [p.id for p in shown]
            if not token:
                break
        assert seen == list(reversed(expected)), query


async def test_a_token_of_one_search_is_refused_by_another(catalog_db: asyncpg.Pool) -> None:
    provider = Provider(str(uuid.uuid4()), "Academy")
    async with catalog_db.acquire() as conn:
        await catalog.add_provider(conn, provider)
        for i in range(3):
            program = _program(provider, f"Kubernetes level {i}", "")
            program.publish()
            await catalog.add_program(conn, program)
        rows, page = await catalog.find_programs(
            conn, catalog.CatalogFilter(query="kubernets"), catalog.PUBLISHED, "", 1
        )
        _, token = page.split(rows, lambda p: (p.created_at, p.id))
        assert token
        with pytest.raises(InvalidArgumentError):
            await catalog.find_programs(
                conn, catalog.CatalogFilter(query="other"), catalog.PUBLISHED, token, 1
            )
        with pytest.raises(InvalidArgumentError):  # not a token of the studio's listing
            await catalog.find_programs(
                conn,
                catalog.CatalogFilter(query="kubernets", include_unpublished=True),
                catalog.PROVIDER_PROGRAMS,
                token,
                1,
            )


async def test_a_typo_walk_corrects_as_of_when_it_began(catalog_db: asyncpg.Pool) -> None:
    """A program published mid-walk with words nearer to the typo than the walk's
    corrections leaves the walk's later pages as they were (it corrected to the three
    nearest words; corrected anew, page 2 would drop the farthest and its programs)."""
    provider = Provider(str(uuid.uuid4()), "Academy")

    async def publish(title: str) -> str:
        program = _program(provider, title, "")
        program.publish()
        async with catalog_db.acquire() as conn:
            await catalog.add_program(conn, program)
        return program.id

    async with catalog_db.acquire() as conn:
        await catalog.add_provider(conn, provider)
    # Oldest first, so the farthest word's programs are on the walk's last pages.
    expected = [
        await publish(title)
        for title in ("Qubernetez", "Qubernetez", "Kubernetez", "Kubernetez", "Kubernetes")
    ]
    filters = catalog.CatalogFilter(query="kubernetex")
    seen: list[str] = []
    token = ""
    nearer = iter(["Kubernetea", "Kubernetee", "Kubernetei", "Kubernetey"])
    while True:
        async with catalog_db.acquire() as conn:
            rows, page = await catalog.find_programs(conn, filters, catalog.PUBLISHED, token, 1)
        shown, token = page.split(rows, lambda p: (p.created_at, p.id))
        seen += [p.id for p in shown]
        if not token:
            break
        await publish(next(nearer, "Kubernetez"))
    assert seen == list(reversed(expected))
    # Corrected anew (as tokens of before they carried the moment), the farthest word is
    # gone: the walk above would have lost its programs.
    async with catalog_db.acquire() as conn:
        [now] = await catalog.corrections(conn, ["kubernetex"])
    assert "qubernetez" not in now
