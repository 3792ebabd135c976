"""Every list endpoint walked to its last page over HTTP, under every filter, while rows are
added between pages: no item is lost or repeated, and none of the added ones shows up
(listings run newest first, so a walk sees exactly what existed when it started).
Page tokens are bound to their listing and filters; a foreign, changed or garbage token is
a 4xx problem naming `page_token`, never a 5xx."""

from __future__ import annotations

import base64
import html
import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from services.devstack.stack import Stack
from tests.e2e.test_saga_paths import Market, eventually

Headers = dict[str, str]
Params = dict[str, Any]

# A walk inserts a matching row before each of its first few next pages; listings that
# span the whole session's data (no filter, admin) get a few, scoped ones one per page.
INSERTS_PER_WALK = 3


@dataclass
class Walk:
    ids: list[str]
    pages: int
    tokens: list[str]


def walk(
    http: httpx.Client,
    path: str,
    key: str,
    params: Params,
    headers: Headers | None = None,
    *,
    page_size: int,
    between: Callable[[], str] | None = None,
    inserted: set[str] | None = None,
) -> Walk:
    """All pages of one listing; `between` adds a matching row (its id goes to `inserted`)
    before each of the first INSERTS_PER_WALK next pages."""
    ids: list[str] = []
    tokens: list[str] = []
    token = ""
    while True:
        query = params | {"page_size": page_size} | ({"page_token": token} if token else {})
        response = http.get(path, params=query, headers=headers or {})
        assert response.status_code == 200, (
            f"page {len(tokens) + 1} of {path} {params}: {response.status_code} {response.text}"
        )
        body = response.json()
        assert len(body[key]) <= page_size
        ids += [item["id"] for item in body[key]]
        token = body["next_page_token"] or ""
        if not token:
            return Walk(ids, len(tokens) + 1, tokens)
        tokens.append(token)
        assert len(tokens) < 500, "the walk does not end"
        if between is not None and inserted is not None and len(tokens) <= INSERTS_PER_WALK:
            inserted.add(between())


def snapshot(http: httpx.Client, path: str, key: str, params: Params, headers: Headers) -> set[str]:
    """The listing as it is now, in pages as large as the API allows (and no inserts)."""
    found = walk(http, path, key, params, headers, page_size=100).ids
    assert len(found) == len(set(found)), "a page repeats an item"
    return set(found)


def assert_walk_sees_what_existed(result: Walk, before: set[str], inserted: set[str]) -> None:
    repeated = {i for i in result.ids if result.ids.count(i) > 1}
    assert not repeated, f"repeated across pages: {repeated}"
    assert not set(result.ids) & inserted, "a row inserted behind the walk showed up"
    lost = before - set(result.ids)
    assert not lost, f"lost {len(lost)} of {len(before)}"
    assert set(result.ids) == before


def problem_names_page_token(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    fields = {e["field"] for e in body.get("errors", [])}
    assert any("page_token" in f for f in fields), body
    # A stable message for clients: no exception class names or Python internals.
    text = json.dumps(body)
    assert not re.search(r"[A-Z][a-z]+(Error|Exception)\b|Traceback|asyncpg", text), text


# ---------------------------------------------------------------- programs


@dataclass
class Listed:
    id: str
    word: bool
    skill: bool
    price: int


@dataclass
class Catalog:
    market: Market
    provider_id: str
    word: str = field(default_factory=lambda: f"zq{uuid.uuid4().hex[:10]}")
    skill: str = field(default_factory=lambda: f"paging-{uuid.uuid4().hex[:10]}")
    programs: list[Listed] = field(default_factory=list)

    def publish(self, *, word: bool, skill: bool, price: int) -> str:
        program = self.market.program(
            title=f"Paging {self.word if word else 'plain'} course",
            skills=[self.skill] if skill else ["unrelated"],
            price={"amount_minor": price, "currency": "USD"},
        )
        self.programs.append(Listed(program["id"], word, skill, price))
        return str(program["id"])

    def matching(self) -> str:
        """A new program that every filter below matches."""
        return self.publish(word=True, skill=True, price=1000)


@pytest.fixture(scope="module")
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def catalog(http: httpx.Client) -> Catalog:
    market = Market(http)
    first = market.program()
    made = Catalog(market, first["provider_id"])
    made.programs.append(Listed(first["id"], False, False, first["price"]["amount_minor"]))
    for i in range(12):
        made.publish(word=i % 2 == 0, skill=i % 3 != 0, price=1000 + 250 * i)
    return made


# (query parameters, predicate on our programs; None: the filter spans every provider's
# programs, so only the snapshot says what it holds)
PROGRAM_FILTERS: dict[str, Callable[[Catalog], tuple[Params, Callable[[Listed], bool] | None]]] = {
    "none": lambda c: ({}, None),
    "q": lambda c: ({"q": c.word}, lambda p: p.word),
    "skill": lambda c: ({"skill": c.skill}, lambda p: p.skill),
    "max_price": lambda c: ({"max_price": 3000}, None),
    "provider_id": lambda c: ({"provider_id": c.provider_id}, lambda p: True),
    "q+skill": lambda c: ({"q": c.word, "skill": c.skill}, lambda p: p.word and p.skill),
    "skill+max_price": lambda c: (
        {"skill": c.skill, "max_price": 3000},
        lambda p: p.skill and p.price <= 3000,
    ),
    "provider_id+max_price": lambda c: (
        {"provider_id": c.provider_id, "max_price": 3000},
        lambda p: p.price <= 3000,
    ),
    "all": lambda c: (
        {"q": f"  {c.word} ", "skill": c.skill, "max_price": 4000, "provider_id": c.provider_id},
        lambda p: p.word and p.skill and p.price <= 4000,
    ),
}


@pytest.mark.parametrize("name", list(PROGRAM_FILTERS))
def test_programs_walk_every_page_under_each_filter(
    http: httpx.Client, catalog: Catalog, name: str
) -> None:
    params, ours = PROGRAM_FILTERS[name](catalog)
    before = snapshot(http, "/api/v1/programs", "programs", params, {})
    if ours is not None:
        assert before == {p.id for p in catalog.programs if ours(p)}
    assert len(before) > 3, "the filter must span more than one page of 3"
    inserted: set[str] = set()
    result = walk(
        http,
        "/api/v1/programs",
        "programs",
        params,
        page_size=3,
        between=catalog.matching,
        inserted=inserted,
    )
    assert result.pages >= 2
    assert inserted
    assert_walk_sees_what_existed(result, before, inserted)


_PROGRAM_LINK = re.compile(r'href="/programs/([0-9a-f-]{36})"')
_MORE_LINK = re.compile(r'<a class="button" href="([^"]+)">More programs</a>')


def storefront_walk(
    http: httpx.Client, params: Params, between: Callable[[], str], inserted: set[str]
) -> Walk:
    ids: list[str] = []
    tokens: list[str] = []
    response = http.get("/", params=params)
    while True:
        assert response.status_code == 200, response.text[:500]
        ids += _PROGRAM_LINK.findall(response.text)
        more = _MORE_LINK.search(response.text)
        if more is None:
            return Walk(ids, len(tokens) + 1, tokens)
        url = html.unescape(more.group(1))
        tokens.append(str(httpx.URL(url).params["page_token"]))
        assert len(tokens) < 200, "the walk does not end"
        if len(tokens) <= INSERTS_PER_WALK:
            inserted.add(between())
        response = http.get(url)


@pytest.mark.parametrize("name", ["none", "q", "skill", "q+skill"])
def test_the_storefront_more_link_walks_every_page(
    http: httpx.Client, catalog: Catalog, name: str
) -> None:
    params, _ = PROGRAM_FILTERS[name](catalog)
    # The storefront shows 12 a page: make sure each filter spans at least two.
    while sum(p.word and p.skill for p in catalog.programs) < 14:
        catalog.matching()
    before = snapshot(http, "/api/v1/programs", "programs", params, {})
    inserted: set[str] = set()
    result = storefront_walk(http, params, catalog.matching, inserted)
    assert result.pages >= 2
    assert_walk_sees_what_existed(result, before, inserted)


# ---------------------------------------------------------------- enrollments, credentials


@dataclass
class School:
    """One provider's free programs that issue on payment (so every enrollment is ACTIVE at
    once and earns a credential), one paid program, and a learner enrolled in all of them."""

    market: Market
    http: httpx.Client
    learner: Headers
    admin: Headers
    free: list[dict[str, Any]]
    paid: dict[str, Any]
    enrollments: list[dict[str, Any]] = field(default_factory=list)

    def free_program(self) -> dict[str, Any]:
        program = self.market.program(
            price={"amount_minor": 0, "currency": "USD"}, issuance="ON_PAYMENT", capacity=None
        )
        self.free.append(program)
        return program

    def enroll(self, learner: Headers, program: dict[str, Any]) -> dict[str, Any]:
        response = self.market.enroll(learner, program["id"])
        assert response.status_code == 201, response.text
        enrollment = dict(response.json())
        self.enrollments.append(enrollment)
        return enrollment

    def credential_of(self, learner: Headers, enrollment: dict[str, Any]) -> str:
        done = eventually(
            lambda: (e := self.market.get(learner, enrollment["id"]))["credential_id"] and e
        )
        return str(done["credential_id"])

    def enroll_and_cancel(self, learner: Headers) -> str:
        enrollment = self.enroll(learner, self.paid)
        cancel = self.http.post(f"/api/v1/enrollments/{enrollment['id']}/cancel", headers=learner)
        assert cancel.status_code == 200, cancel.text
        return str(enrollment["id"])

    # Inserts between pages, each matching the listing it is used on.
    def learner_enrolls_anew(self) -> str:
        return str(self.enroll(self.learner, self.free_program())["id"])

    def someone_enrolls_in_the_first(self) -> str:
        return str(self.enroll(self.market.learner(), self.free[0])["id"])

    def learner_earns_anew(self) -> str:
        enrollment = self.enroll(self.learner, self.free_program())
        return self.credential_of(self.learner, enrollment)

    def someone_earns_in_the_first(self) -> str:
        learner = self.market.learner()
        return self.credential_of(learner, self.enroll(learner, self.free[0]))


@pytest.fixture(scope="module")
def school(http: httpx.Client) -> School:
    market = Market(http)
    made = School(
        market=market,
        http=http,
        learner=market.learner(),
        admin=market.token(role="admin", sub=f"admin-{uuid.uuid4().hex[:8]}"),
        free=[],
        paid=market.program(),
    )
    for _ in range(5):
        made.free_program()
    for program in list(made.free):
        made.enroll(made.learner, program)
    for _ in range(4):
        made.enroll(market.learner(), made.free[0])
    for _ in range(3):
        made.enroll_and_cancel(made.learner)
    # Every free enrollment earns its credential (asynchronously): wait for all of them.
    eventually(
        lambda: (
            len(snapshot(http, "/api/v1/credentials", "credentials", {}, made.market.provider)) == 9
        )
    )
    return made


def _who(school: School, role: str) -> Headers:
    return {"learner": school.learner, "provider": school.market.provider, "admin": school.admin}[
        role
    ]


ENROLLMENT_WALKS: dict[str, tuple[str, Callable[[School], Params], Callable[[School], str]]] = {
    "learner": ("learner", lambda s: {}, School.learner_enrolls_anew),
    "learner+program_id": (
        "learner",
        lambda s: {"program_id": s.paid["id"]},
        lambda s: s.enroll_and_cancel(s.learner),
    ),
    "provider": ("provider", lambda s: {}, School.someone_enrolls_in_the_first),
    "provider+program_id": (
        "provider",
        lambda s: {"program_id": s.free[0]["id"]},
        School.someone_enrolls_in_the_first,
    ),
    "admin": ("admin", lambda s: {}, School.someone_enrolls_in_the_first),
    "admin+program_id": (
        "admin",
        lambda s: {"program_id": s.free[0]["id"]},
        School.someone_enrolls_in_the_first,
    ),
}


@pytest.mark.parametrize("name", list(ENROLLMENT_WALKS))
def test_enrollments_walk_every_page(http: httpx.Client, school: School, name: str) -> None:
    role, params_of, insert = ENROLLMENT_WALKS[name]
    who, params = _who(school, role), params_of(school)
    before = snapshot(http, "/api/v1/enrollments", "enrollments", params, who)
    assert len(before) >= 3
    inserted: set[str] = set()
    result = walk(
        http,
        "/api/v1/enrollments",
        "enrollments",
        params,
        who,
        page_size=2,
        between=lambda: insert(school),
        inserted=inserted,
    )
    assert result.pages >= 2
    assert inserted
    assert_walk_sees_what_existed(result, before, inserted)


CREDENTIAL_WALKS: dict[str, tuple[str, Callable[[School], Params], Callable[[School], str]]] = {
    "learner": ("learner", lambda s: {}, School.learner_earns_anew),
    "learner+program_id": (
        "learner",
        lambda s: {"program_id": s.free[0]["id"]},
        School.learner_earns_anew,
    ),
    "provider": ("provider", lambda s: {}, School.someone_earns_in_the_first),
    "provider+program_id": (
        "provider",
        lambda s: {"program_id": s.free[0]["id"]},
        School.someone_earns_in_the_first,
    ),
    "admin": ("admin", lambda s: {}, School.someone_earns_in_the_first),
    "admin+program_id": (
        "admin",
        lambda s: {"program_id": s.free[0]["id"]},
        School.someone_earns_in_the_first,
    ),
}


@pytest.mark.parametrize("name", list(CREDENTIAL_WALKS))
def test_credentials_walk_every_page(http: httpx.Client, school: School, name: str) -> None:
    role, params_of, insert = CREDENTIAL_WALKS[name]
    who, params = _who(school, role), params_of(school)
    before = snapshot(http, "/api/v1/credentials", "credentials", params, who)
    assert before
    page_size = 2 if len(before) > 2 else 1
    inserted: set[str] = set()
    result = walk(
        http,
        "/api/v1/credentials",
        "credentials",
        params,
        who,
        page_size=page_size,
        between=lambda: insert(school),
        inserted=inserted,
    )
    assert_walk_sees_what_existed(result, before, inserted)
    if len(before) > 1:
        assert result.pages >= 2
        assert inserted


# ---------------------------------------------------------------- tokens out of place


def first_token(
    http: httpx.Client, path: str, key: str, params: Params, headers: Headers | None = None
) -> str:
    response = http.get(path, params=params | {"page_size": 1}, headers=headers or {})
    assert response.status_code == 200, response.text
    token = response.json()["next_page_token"]
    assert token, f"{path} {params} has a single page"
    return str(token)


def test_a_token_works_only_on_the_listing_that_issued_it(
    http: httpx.Client, catalog: Catalog, school: School
) -> None:
    tokens = {
        "/api/v1/programs": first_token(http, "/api/v1/programs", "programs", {}),
        "/api/v1/enrollments": first_token(
            http, "/api/v1/enrollments", "enrollments", {}, school.learner
        ),
        "/api/v1/credentials": first_token(
            http, "/api/v1/credentials", "credentials", {}, school.learner
        ),
    }
    for issued_by, token in tokens.items():
        for path in tokens:
            if path == issued_by:
                continue
            response = http.get(
                path, params={"page_token": token, "page_size": 1}, headers=school.learner
            )
            problem_names_page_token(response)


def test_a_token_works_only_with_the_filters_it_was_issued_for(
    http: httpx.Client, catalog: Catalog, school: School
) -> None:
    programs = {"q": catalog.word, "skill": catalog.skill}
    token = first_token(http, "/api/v1/programs", "programs", programs)
    # The same filters (q with other surrounding blanks is the same search) go on.
    same = http.get(
        "/api/v1/programs",
        params={"q": f" {catalog.word}", "skill": catalog.skill, "page_token": token},
    )
    assert same.status_code == 200, same.text
    for changed in (
        {"q": "other", "skill": catalog.skill},
        {"skill": catalog.skill},
        programs | {"max_price": 3000},
        programs | {"provider_id": catalog.provider_id},
        {"q": catalog.word, "skill": "other"},
    ):
        problem_names_page_token(
            http.get("/api/v1/programs", params=changed | {"page_token": token, "page_size": 1})
        )
    # The storefront's link carries a catalog token: bound to its filters too.
    refused = http.get("/", params={"skill": "other", "page_token": token})
    assert 400 <= refused.status_code < 500, refused.status_code

    for path, key in (
        ("/api/v1/enrollments", "enrollments"),
        ("/api/v1/credentials", "credentials"),
    ):
        scoped = first_token(http, path, key, {"program_id": school.free[0]["id"]}, school.admin)
        for params, who in (
            ({"program_id": school.free[1]["id"]}, school.admin),
            ({}, school.admin),
            # Another caller's scope is another listing.
            ({"program_id": school.free[0]["id"]}, school.market.provider),
        ):
            problem_names_page_token(
                http.get(path, params=params | {"page_token": scoped}, headers=who)
            )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _mutations(value: Any) -> Iterator[Any]:
    """Each way of replacing one scalar inside `value` with something out of place."""
    hostile: list[Any] = [
        10**30,
        -(10**30),
        2**63,
        1.5,
        None,
        True,
        [],
        {},
        "",
        "x",
        "\x00",
        "99999-12-31T23:59:59+00:00",
        "0001-01-01T00:00:00-23:59",
        "9999-12-31T23:59:59.999999-23:59",
        "not-a-uuid",
    ]
    if isinstance(value, list):
        for i, item in enumerate(value):
            for changed in _mutations(item):
                yield [*value[:i], changed, *value[i + 1 :]]
        yield value[:-1]
        yield [*value, "extra"]
    elif isinstance(value, dict):
        for k, item in value.items():
            for changed in _mutations(item):
                yield value | {k: changed}
        yield {}
    else:
        yield from hostile


def garbage_tokens(real: str) -> list[str]:
    decoded = json.loads(base64.urlsafe_b64decode(real + "=" * (-len(real) % 4)))
    return [
        "!!!",
        "A" * 5000,
        "a\x00b",
        real + "!",
        real[:-3],
        "é",
        _b64(b"{not json"),
        _b64(b"12345"),
        _b64(b'"a string"'),
        _b64(b"null"),
        _b64(b'["2026-01-01T00:00:00+00:00"]'),
        _b64(b"[1, 2, 3, 4, 5]"),
        _b64(b'["99999-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"]'),
        _b64(b'["9999-12-31T23:59:59.999999-23:59", "00000000-0000-0000-0000-000000000000"]'),
        _b64(b"\xff\xfe"),
        *(_b64(json.dumps(m).encode()) for m in _mutations(decoded)),
    ]


@pytest.mark.parametrize(
    "path", ["/api/v1/programs", "/api/v1/enrollments", "/api/v1/credentials", "/"]
)
def test_garbage_tokens_are_a_4xx_never_a_5xx(
    http: httpx.Client, catalog: Catalog, school: School, path: str
) -> None:
    key = path.rsplit("/", 1)[-1] or "programs"
    api = path if path != "/" else "/api/v1/programs"
    real = first_token(http, api, key, {}, school.admin)
    for token in garbage_tokens(real):
        response = http.get(path, params={"page_token": token}, headers=school.admin)
        assert 400 <= response.status_code < 500, (
            f"{token[:80]!r}: {response.status_code} {response.text[:300]}"
        )
        if path != "/":
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "page_token" in response.text
            problem_names_page_token(response)
