"""Catalog search latency with a large catalog, through the public route.

Seeds `programs` published programs straight into the catalog's database of the bench's
stack (one COPY: the API would take minutes for 100,000), then times GET /api/v1/programs
one request at a time for a mix of searches a visitor makes: a common word, a rare word,
two words, a skill, a price bound and the plain first page. p50/p95 per kind and overall.
"""

from __future__ import annotations

import math
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

# Titles are drawn from these: "python" lands in about a third of the catalog (a word a
# visitor types that matches thousands), a generated code word in a handful.
COMMON = ["python", "data", "cloud", "design", "leadership", "security", "finance", "sales"]
SKILLS = ["python", "sql", "aws", "figma", "negotiation", "excel", "kubernetes", "rust"]
REPEATS = 60  # requests per kind


@dataclass
class SearchResult:
    programs: int
    seed_seconds: float
    by_kind: dict[str, dict[str, float]]
    overall: dict[str, float]


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def rank(p: float) -> float:
        return round(ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)], 1)

    return {"p50_ms": rank(50), "p95_ms": rank(95), "max_ms": round(ordered[-1], 1)}


async def seed(database_url: str, count: int, rng: random.Random) -> float:
    """`count` published programs, by COPY, like the one program the bench published through
    the API (its provider, credential template and currency); returns the seconds it took."""
    started = time.perf_counter()
    now = datetime.now(UTC)

    def rows() -> Any:
        for n in range(count):
            words = [*rng.sample(COMMON, 2), f"topic{n % 5000}", f"code{n}"]
            rng.shuffle(words)
            title = " ".join(words).title()
            created = now - timedelta(seconds=n)
            yield (
                uuid.uuid4(),
                template["provider_id"],
                title,
                f"Learn {words[0]} and {words[1]} in practice",
                f"A program about {' '.join(words)}. " * 3,
                rng.sample(SKILLS, 2),
                rng.randint(1, 200),
                rng.randint(0, 500_000),
                template["currency"],
                None,
                template["credential"],
                "PUBLISHED",
                created,
                created,
            )

    conn = await asyncpg.connect(database_url)
    try:
        template = await conn.fetchrow(
            """SELECT provider_id, currency, credential FROM programs
                WHERE status = 'PUBLISHED' ORDER BY created_at LIMIT 1"""
        )
        if template is None:
            raise RuntimeError("seeding needs one program published through the API first")
        await conn.copy_records_to_table(
            "programs",
            records=rows(),
            columns=[
                "id",
                "provider_id",
                "title",
                "summary",
                "description",
                "skills",
                "duration_hours",
                "price_minor",
                "currency",
                "capacity",
                "credential",
                "status",
                "created_at",
                "updated_at",
            ],
        )
        # A catalog in steady state: the GIN pending list merged, statistics current (else
        # autovacuum does both in the middle of the measurement).
        await conn.execute("VACUUM (ANALYZE) programs")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def measure(http: httpx.AsyncClient, count: int, rng: random.Random) -> SearchResult:
    kinds: dict[str, list[dict[str, str]]] = {
        "first page": [{}],
        "common word": [{"q": w} for w in COMMON],
        "rare word": [{"q": f"code{rng.randrange(count)}"} for _ in range(20)],
        "two words": [{"q": f"{a} {b}"} for a, b in zip(COMMON, reversed(COMMON), strict=True)],
        "skill": [{"skill": s} for s in SKILLS],
        "max price": [{"max_price": str(p)} for p in (1_000, 50_000, 250_000)],
        "word + skill": [{"q": w, "skill": s} for w, s in zip(COMMON, SKILLS, strict=True)],
    }
    for params in kinds["first page"] + kinds["common word"]:  # warm-up: plans, caches
        (await http.get("/api/v1/programs", params=params)).raise_for_status()
    by_kind: dict[str, list[float]] = {}
    for kind, choices in kinds.items():
        for i in range(REPEATS):
            params = choices[i % len(choices)]
            started = time.perf_counter()
            response = await http.get("/api/v1/programs", params=params)
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            by_kind.setdefault(kind, []).append(elapsed)
    every = [v for values in by_kind.values() for v in values]
    return SearchResult(
        programs=count,
        seed_seconds=0.0,
        by_kind={kind: _percentiles(values) for kind, values in by_kind.items()},
        overall=_percentiles(every),
    )


def print_result(result: SearchResult) -> None:
    print(
        f"catalog search, {result.programs:,} published programs (seeded in "
        f"{result.seed_seconds:.1f} s), {REPEATS} requests per kind, one at a time:"
    )
    print(f"  {'kind':<14} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for kind, p in [*result.by_kind.items(), ("all", result.overall)]:
        print(f"  {kind:<14} {p['p50_ms']:>8.1f} {p['p95_ms']:>8.1f} {p['max_ms']:>8.1f}")
