"""Every list endpoint walked to its last page over HTTP, under every filter, while rows are
added between pages and by a concurrent thread: no item is lost or repeated, none of the
added ones shows up (listings run newest first, so a walk sees exactly what existed when it
started), and the order is the listing's own. Page tokens are bound to their listing and
filters; a foreign, changed or garbage token, or a page_size out of bounds, is a 4xx problem
naming the parameter, never a 5xx.

WALKERS is the table of every paged operation (one that takes `page_token`) and the walks
made of it; test_every_paged_operation_is_walked reads the live gateway's OpenAPI document
and fails on an operation, or a filter of one, that the table does not walk."""

from __future__ import annotations

import base64
import html
import json
import re
import string
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from services.devstack.stack import Stack
from services.gateway.security import SESSION_COOKIE
from services.payments.stripe_events import stripe_id
from tests.e2e.test_employers import employer, invite, paid_pack, person, redeem
from tests.e2e.test_pathways import pathway_body, published_pathway
from tests.e2e.test_refunds import intent_of, paid_enrollment, send_webhook
from tests.e2e.test_saga_paths import Market
from tests.polling import eventually

Headers = dict[str, str]
Params = dict[str, Any]

# A walk inserts a matching row before each of its first few next pages (and, with `noise`,
# a row its filters leave out), and a thread inserts more while the walk runs.
INSERTS_PER_WALK = 3
CONCURRENT_INSERTS = 2


@dataclass
class Walk:
    ids: list[str]
    pages: int
    tokens: list[str]


Reader = Callable[[str], tuple[list[str], str]]
"""Reads one page: its token ("" for the first) -> (the ids on it, the next page's token,
"" on the last page). For a web page the token is the URL its "more" link points to."""


def api_pages(
    http: httpx.Client,
    path: str,
    key: str,
    params: Params,
    headers: Headers | None = None,
    *,
    page_size: int,
    field: str = "id",
) -> Reader:
    """The pages of one API listing, `page_size` items each (each item as its `field`)."""

    def read(token: str) -> tuple[list[str], str]:
        query = params | {"page_size": page_size} | ({"page_token": token} if token else {})
        response = http.get(path, params=query, headers=headers or {})
        assert response.status_code == 200, (
            f"{path} {query}: {response.status_code} {response.text}"
        )
        body = response.json()
        assert len(body[key]) <= page_size
        return [item[field] for item in body[key]], body["next_page_token"] or ""

    return read


def web_pages(
    http: httpx.Client,
    url: str,
    rows: re.Pattern[str],
    more: str,
    *,
    headers: Headers | None = None,
    section: str = "",
) -> Reader:
    """The pages of a list on a web page: the ids `rows` finds (after `section`, when the
    page has several lists), and the link labelled `more` to the next page."""
    link = re.compile(rf'<a (?:class="button" )?href="([^"]+)">{re.escape(more)}</a>')

    def read(token: str) -> tuple[list[str], str]:
        response = http.get(token or url, headers=headers or {})
        assert response.status_code == 200, f"{token or url}: {response.text[:500]}"
        text = response.text.split(section, 1)[1] if section else response.text
        found = link.search(text)
        return rows.findall(text), html.unescape(found.group(1)) if found else ""

    return read


def walk(
    read: Reader,
    *,
    between: Callable[[], str] | None = None,
    inserted: set[str] | None = None,
    concurrent: int = 0,
) -> Walk:
    """Every page of one listing; `between` adds a matching row (its id goes to `inserted`)
    before each of the first INSERTS_PER_WALK next pages, and `concurrent` more from another
    thread, started once the first page is read (joined before this returns)."""
    ids: list[str] = []
    tokens: list[str] = []
    failed: list[BaseException] = []

    def insert_concurrently() -> None:
        assert between is not None
        assert inserted is not None
        try:
            for _ in range(concurrent):
                inserted.add(between())
        except BaseException as exc:  # reported by the walk, not lost in the thread
            failed.append(exc)

    inserter = threading.Thread(target=insert_concurrently, daemon=True)

    def pages() -> Walk:
        token = ""
        while True:
            shown, token = read(token)
            ids.extend(shown)
            if not tokens and concurrent and between is not None and inserted is not None:
                inserter.start()
            if not token:
                return Walk(ids, len(tokens) + 1, tokens)
            tokens.append(token)
            assert len(tokens) < 500, "the walk does not end"
            if between is not None and inserted is not None and len(tokens) <= INSERTS_PER_WALK:
                inserted.add(between())

    try:
        result = pages()
    finally:
        if inserter.ident is not None:
            inserter.join()
    if failed:  # the walk itself went well: the thread's failure is the one to show
        raise failed[0]
    return result


def snapshot(
    http: httpx.Client, path: str, key: str, params: Params, headers: Headers, field: str = "id"
) -> list[str]:
    """The listing as it is now, in order, in pages as large as the API allows (no inserts)."""
    found = walk(api_pages(http, path, key, params, headers, page_size=100, field=field)).ids
    assert len(found) == len(set(found)), "a page repeats an item"
    return found


def assert_walk_sees_what_existed(result: Walk, before: list[str], inserted: set[str]) -> None:
    repeated = {i for i in result.ids if result.ids.count(i) > 1}
    assert not repeated, f"repeated across pages: {repeated}"
    assert not set(result.ids) & inserted, "a row inserted behind the walk showed up"
    lost = set(before) - set(result.ids)
    assert not lost, f"lost {len(lost)} of {len(before)}"
    assert set(result.ids) == set(before)
    assert result.ids == before, "the walk's order is not the listing's"


def problem_names(response: httpx.Response, parameter: str) -> None:
    assert 400 <= response.status_code < 500, f"{response.status_code}: {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    fields = {e["field"] for e in body.get("errors", [])}
    assert any(parameter in f for f in fields), body
    # A stable message for clients: no exception class names or Python internals.
    text = json.dumps(body)
    assert not re.search(r"[A-Z][a-z]+(Error|Exception)\b|Traceback|asyncpg", text), text


def problem_names_page_token(response: httpx.Response, because: str = "") -> None:
    """A refused page token; `because`: the message its field error must be."""
    problem_names(response, "page_token")
    if because:
        messages = {e["message"] for e in response.json()["errors"] if e["field"] == "page_token"}
        assert messages == {because}, response.text


# The two reasons a well-formed token is refused (services/common/paging.py), word for word:
# clients may show them.
OTHER_LISTING = "issued by another listing; start again without page_token"
OTHER_FILTERS = "issued for other filters; start again without page_token"


def token_kind(token: str) -> str:
    """The listing a token says it was issued by (tokens are opaque to clients; the test
    reads one only to check which of the catalog's two search listings a walk is on)."""
    return str(json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))[0])


@pytest.fixture(scope="module")
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=15, trust_env=False) as client:
        yield client


# ---------------------------------------------------------------- programs


def _letters() -> str:
    """A made-up word of letters only: the typo-tolerant search corrects such words."""
    return "zq" + "".join(string.ascii_lowercase[b % 26] for b in uuid.uuid4().bytes[:10])


@dataclass
class Listed:
    id: str
    word: bool
    skill: bool
    price: int
    hours: int


@dataclass
class Catalog:
    market: Market
    provider_id: str
    word: str = field(default_factory=lambda: f"zq{uuid.uuid4().hex[:10]}")
    letters: str = field(default_factory=_letters)
    skill: str = field(default_factory=lambda: f"paging-{uuid.uuid4().hex[:10]}")
    programs: list[Listed] = field(default_factory=list)

    def publish(self, *, word: bool, skill: bool, price: int, hours: int = 12) -> str:
        program = self.market.program(
            title=f"Paging {f'{self.word} {self.letters}' if word else 'plain'} course",
            skills=[self.skill] if skill else ["unrelated"],
            price={"amount_minor": price, "currency": "USD"},
            duration_hours=hours,
        )
        self.programs.append(Listed(program["id"], word, skill, price, hours))
        return str(program["id"])

    def matching(self, hours: int = 12) -> str:
        """A new program that every filter below matches (with durations: `hours` long)."""
        return self.publish(word=True, skill=True, price=1000, hours=hours)

    def not_matching(self) -> str:
        """A new program of this provider that no filter below but provider_id matches."""
        return self.publish(word=False, skill=False, price=10**6, hours=25)

    def typo(self) -> str:
        """`letters` misspelt: the exact search finds nothing, the typo-tolerant one ours."""
        last = self.letters[-1]
        return self.letters[:-1] + ("a" if last != "a" else "b")

    def ours(self, keep: Callable[[Listed], bool]) -> list[str]:
        return [p.id for p in self.programs if keep(p)]


# Durations of the programs the catalog starts with: the duration filters below cut them.
HOURS = (2, 12, 40, 80)


@pytest.fixture(scope="module")
def catalog(http: httpx.Client) -> Catalog:
    market = Market(http)
    first = market.program()
    made = Catalog(market, first["provider_id"])
    made.programs.append(Listed(first["id"], False, False, first["price"]["amount_minor"], 12))
    for i in range(14):
        made.publish(
            word=i % 2 == 0, skill=i % 3 != 0, price=1000 + 250 * i, hours=HOURS[i % len(HOURS)]
        )
    return made


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
    paid_lock: threading.Lock = field(default_factory=threading.Lock)

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

    def enroll_unpaid(self, learner: Headers) -> str:
        """An enrollment left PENDING_PAYMENT (in a paid program of its own: a learner has
        one live enrollment per program)."""
        return str(self.enroll(learner, self.market.program())["id"])

    def enroll_and_cancel(self, learner: Headers) -> str:
        # One at a time (a walk's thread inserts too): one live enrollment per program.
        with self.paid_lock:
            enrollment = self.enroll(learner, self.paid)
            cancel = self.http.post(
                f"/api/v1/enrollments/{enrollment['id']}/cancel", headers=learner
            )
            assert cancel.status_code == 200, cancel.text
        return str(enrollment["id"])

    # Inserts between pages, each matching the listing it is used on.
    def learner_enrolls_anew(self) -> str:
        return str(self.enroll(self.learner, self.free_program())["id"])

    def learner_enrolls_unpaid(self) -> str:
        return self.enroll_unpaid(self.learner)

    def learner_enrolls_and_cancels(self) -> str:
        return self.enroll_and_cancel(self.learner)

    def someone_enrolls_and_cancels(self) -> str:
        return self.enroll_and_cancel(self.market.learner())

    def someone_enrolls_in_the_first(self) -> str:
        return str(self.enroll(self.market.learner(), self.free[0])["id"])

    def someone_new_enrolls_in_the_first(self) -> str:
        """Who: the studio lists a program's enrollments by learner."""
        return str(self.enroll(self.market.learner(), self.free[0])["learner_id"])

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
        made.enroll_unpaid(made.learner)
    # Every free enrollment earns its credential (asynchronously): wait for all of them.
    eventually(
        lambda: (
            len(snapshot(http, "/api/v1/credentials", "credentials", {}, made.market.provider)) == 9
        )
    )
    return made


# ---------------------------------------------------------------- pathways


@dataclass
class Atlas:
    """One provider's published pathways (and a draft), another provider's programs."""

    market: Market
    other: Market
    provider_id: str
    programs: list[str]
    others_programs: list[str]
    pathways: list[str] = field(default_factory=list)

    def publish(self) -> str:
        made = published_pathway(self.market, self.programs)
        self.pathways.append(made["id"])
        return str(made["id"])

    def draft(self) -> str:
        made = self.market.http.post(
            "/api/v1/pathways", json=pathway_body(self.programs), headers=self.market.provider
        )
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    def others_publish(self) -> str:
        return str(published_pathway(self.other, self.others_programs)["id"])


@pytest.fixture(scope="module")
def atlas(http: httpx.Client) -> Atlas:
    market, other = Market(http), Market(http)
    programs = [market.program() for _ in range(2)]
    made = Atlas(
        market,
        other,
        programs[0]["provider_id"],
        [p["id"] for p in programs],
        [other.program()["id"] for _ in range(2)],
    )
    for _ in range(5):
        made.publish()
    made.draft()
    made.others_publish()
    return made


# ---------------------------------------------------------------- refunds, disputes


@dataclass
class Books:
    """Paid enrollments with refunds (several partial ones on one) and disputes."""

    market: Market
    stack: Stack
    admin: Headers
    partly: dict[str, Any]
    other: dict[str, Any]
    refunds: list[str] = field(default_factory=list)
    keys: Iterator[int] = field(default_factory=lambda: iter(range(1, 10**6)))

    def refund(self, enrollment: dict[str, Any], amount_minor: int | None = None) -> str:
        body = None if amount_minor is None else {"amount_minor": amount_minor}
        key = f"paging-{next(self.keys)}" if amount_minor is not None else ""
        headers = self.admin | ({"Idempotency-Key": key} if key else {})
        made = self.market.http.post(
            f"/api/v1/enrollments/{enrollment['id']}/refund", json=body, headers=headers
        )
        assert made.status_code == 202, made.text
        return str(made.json()["id"])

    def partial_refund(self) -> str:
        made = self.refund(self.partly, 100)
        self.refunds.append(made)
        return made

    def partial_refund_of_another(self) -> str:
        return self.refund(self.other, 100)

    def full_refund_anew(self) -> str:
        _, _, enrolled = paid_enrollment(self.market, issuance="ON_COMPLETION")
        return self.refund(enrolled)

    def dispute(self) -> str:
        """A dispute opened on the partly refunded payment; our id of it."""
        intent = intent_of(self.stack, self.partly["payment_id"])
        gateway_id = stripe_id("dp_")
        send_webhook(
            self.market,
            self.stack,
            "charge.dispute.created",
            {
                "id": gateway_id,
                "object": "dispute",
                "amount": 100,
                "currency": "usd",
                "payment_intent": intent,
                "reason": "general",
                "status": "needs_response",
            },
        )

        def recorded() -> str:
            page = self.market.http.get(
                "/api/v1/disputes", params={"page_size": 100}, headers=self.admin
            )
            assert page.status_code == 200, page.text
            found = [
                d["id"] for d in page.json()["disputes"] if d["gateway_dispute_id"] == gateway_id
            ]
            return found[0] if found else ""

        return str(eventually(recorded, what=f"dispute {gateway_id} listed"))


@pytest.fixture(scope="module")
def books(http: httpx.Client, stack: Stack) -> Books:
    market = Market(http)
    made = Books(
        market,
        stack,
        market.token(role="admin", sub=f"finance-{uuid.uuid4().hex[:8]}"),
        paid_enrollment(market, issuance="ON_COMPLETION")[2],
        paid_enrollment(market, issuance="ON_COMPLETION")[2],
    )
    for _ in range(4):
        made.partial_refund()
    for _ in range(2):
        made.full_refund_anew()
    for _ in range(3):
        made.dispute()
    return made


# ---------------------------------------------------------------- employers, seat packs


@dataclass
class Staffing:
    """A manager's employers (owned, and one joined as a manager), the seat packs of one of
    them (a free program's: paid at once), one pack's invitations in every state; and a
    stranger's employers, all older than the manager's, that the manager joins mid-walk."""

    market: Market
    email: str
    manager: Headers
    stranger: Headers
    program_id: str
    older: list[str]
    employers: list[str] = field(default_factory=list)
    packs: list[str] = field(default_factory=list)
    invitations: list[str] = field(default_factory=list)
    pack: dict[str, Any] = field(default_factory=dict)
    """The pack whose invitations are walked."""
    other_pack: dict[str, Any] = field(default_factory=dict)

    @property
    def employer_id(self) -> str:
        """The employer whose packs are walked: the manager's first."""
        return self.employers[0]

    def create_employer(self) -> str:
        made = employer(self.market, self.manager)["id"]
        self.employers.append(made)
        return str(made)

    def stranger_creates_employer(self) -> str:
        return str(employer(self.market, self.stranger)["id"])

    def joins_an_older_employer(self) -> str:
        """The manager accepts the stranger's invitation to manage one of the stranger's
        employers, made before any of the manager's: an old employer, a new membership."""
        older = self.older.pop()
        http = self.market.http
        invited = http.post(
            f"/api/v1/employers/{older}/invitations",
            json={"email": self.email},
            headers=self.stranger,
        )
        assert invited.status_code == 201, invited.text
        accepted = http.post(
            f"/api/v1/employer-invitations/{invited.json()['id']}/accept", headers=self.manager
        )
        assert accepted.status_code == 200, accepted.text
        self.employers.append(older)
        return older

    def buy(self) -> str:
        made = paid_pack(self.market, self.manager, self.employer_id, self.program_id, 2)
        self.packs.append(made["id"])
        return str(made["id"])

    def buy_for_another_employer(self) -> str:
        made = paid_pack(self.market, self.manager, self.employers[1], self.program_id, 2)
        return str(made["id"])

    def _invite(self, pack: dict[str, Any]) -> str:
        made = self.market.http.post(
            f"/api/v1/employers/{pack['employer_id']}/seat-packs/{pack['id']}/invitations",
            json={"emails": [f"walk-{uuid.uuid4().hex[:8]}@example.com"]},
            headers=self.manager,
        )
        assert made.status_code == 201, made.text
        return str(made.json()["invitations"][0]["id"])

    def invite(self) -> str:
        made = self._invite(self.pack)
        self.invitations.append(made)
        return made

    def invite_to_another_pack(self) -> str:
        return self._invite(self.other_pack)

    def invite_by_email(self) -> str:
        """Who: the team's page of a pack lists its invitations by email."""
        made = self.invite()
        url = f"/api/v1/employers/{self.employer_id}/seat-packs/{self.pack['id']}/invitations"
        listed = self.market.http.get(url, params={"page_size": 100}, headers=self.manager)
        return next(str(i["email"]) for i in listed.json()["invitations"] if i["id"] == made)


@pytest.fixture(scope="module")
def staffing(http: httpx.Client) -> Staffing:
    market = Market(http)
    email, manager = person(market, "walker")
    program = market.program(
        title="Walked seats", price={"amount_minor": 0, "currency": "USD"}, capacity=1000
    )
    stranger = person(market, "stranger")[1]
    # Made first: older than every employer of the manager (each walk joins up to five).
    older = [employer(market, stranger)["id"] for _ in range(12)]
    made = Staffing(market, email, manager, stranger, program["id"], older)
    for _ in range(4):
        made.create_employer()
    made.joins_an_older_employer()
    for _ in range(5):
        made.buy()
    made.buy_for_another_employer()
    made.pack = paid_pack(market, manager, made.employer_id, program["id"], 3)
    made.packs.append(made.pack["id"])
    made.other_pack = paid_pack(market, manager, made.employer_id, program["id"], 1)
    made.packs.append(made.other_pack["id"])
    people = [person(market, f"seat{i}") for i in range(5)]
    codes = invite(market, manager, made.pack, [e for e, _ in people])
    url = f"/api/v1/employers/{made.employer_id}/seat-packs/{made.pack['id']}/invitations"
    ids = {
        i["email"]: i["id"]
        for i in http.get(url, params={"page_size": 100}, headers=manager).json()["invitations"]
    }
    made.invitations.extend(ids.values())
    # Every state: one redeemed, one revoked, the rest pending.
    assert redeem(market, people[0][1], codes[people[0][0]]).status_code == 201
    revoked = http.post(f"{url}/{ids[people[1][0]]}/revoke", headers=manager)
    assert revoked.status_code == 200, revoked.text
    made.invite_to_another_pack()
    return made


# ---------------------------------------------------------------- pathway consents


@dataclass
class Consents:
    """Provider B's consent requests in several states: incoming ones (A's pathways name
    B's program) and outgoing ones (B's pathways name C's program)."""

    a: Market
    b: Market
    c: Market
    a_program: str
    b_program: str
    c_program: str
    b_id: str
    admin: Headers
    made: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Each of B's consents: id -> (direction for B, status)."""

    def _ask(self, requester: Market, programs: list[str]) -> str:
        """A draft pathway of `requester` naming another provider's program: the id of the
        consent request it makes."""
        drafted = requester.http.post(
            "/api/v1/pathways", json=pathway_body(programs), headers=requester.provider
        )
        assert drafted.status_code == 201, drafted.text
        pathway = drafted.json()
        listing = f"/api/v1/providers/{pathway['provider_id']}/pathway-consents"
        token = ""
        while True:  # newest first: on the first page but for many concurrent requests
            query: Params = {"direction": "outgoing", "page_size": 100}
            if token:
                query["page_token"] = token
            page = requester.http.get(listing, params=query, headers=requester.provider)
            assert page.status_code == 200, page.text
            for consent in page.json()["consents"]:
                if consent["pathway_id"] == pathway["id"]:
                    return str(consent["id"])
            token = page.json()["next_page_token"]
            assert token, f"no consent request for pathway {pathway['id']}"

    def _decide(self, decider: Market, consent_id: str, action: str) -> None:
        decided = decider.http.post(
            f"/api/v1/pathway-consents/{consent_id}/{action}", headers=decider.provider
        )
        assert decided.status_code == 200, decided.text

    def asked_of_b(self, decision: str = "", status: str = "PENDING") -> str:
        made = self._ask(self.a, [self.a_program, self.b_program])
        if decision:
            self._decide(self.b, made, decision)
        self.made[made] = ("incoming", status)
        return made

    def granted_by_b(self) -> str:
        return self.asked_of_b("grant", "GRANTED")

    def refused_by_b(self) -> str:
        return self.asked_of_b("refuse", "REFUSED")

    def b_asks_c(self, decision: str = "", status: str = "PENDING") -> str:
        made = self._ask(self.b, [self.b_program, self.c_program])
        if decision:
            self._decide(self.c, made, decision)
        self.made[made] = ("outgoing", status)
        return made

    def refused_by_c(self) -> str:
        return self.b_asks_c("refuse", "REFUSED")

    def granted_by_c(self) -> str:
        return self.b_asks_c("grant", "GRANTED")

    def of_b(self, direction: str, status: str = "") -> list[str]:
        return [i for i, (d, s) in self.made.items() if d == direction and status in ("", s)]


@pytest.fixture(scope="module")
def consents(http: httpx.Client) -> Consents:
    a, b, c = Market(http), Market(http), Market(http)
    free = {"amount_minor": 0, "currency": "USD"}
    b_program = b.program(price=free)
    made = Consents(
        a,
        b,
        c,
        a.program(price=free)["id"],
        b_program["id"],
        c.program(price=free)["id"],
        b_program["provider_id"],
        a.token(role="admin", sub=f"admin-{uuid.uuid4().hex[:8]}"),
    )
    for _ in range(3):
        made.asked_of_b()
        made.granted_by_b()
        made.b_asks_c()
        made.refused_by_c()
    made.refused_by_b()
    made.granted_by_c()
    # A's requests of C are none of B's.
    made._ask(a, [made.a_program, made.c_program])
    return made


# ---------------------------------------------------------------- the table of walks


def _anonymous(_: Any) -> Headers:
    return {}


@dataclass(frozen=True)
class Case:
    """One walk of a paged operation, on the world of its Walker's fixture."""

    filters: tuple[str, ...]
    """The operation's filter parameters this walk sets (checked against `params`)."""
    params: Callable[[Any], Params]
    """Their values, and the values of the path's parameters."""
    insert: Callable[[Any], str]
    """Adds a row these filters match (the walk must not show it); its id."""
    noise: Callable[[Any], str] | None = None
    """Adds a row these filters leave out, between pages; its id."""
    who: Callable[[Any], Headers] = _anonymous
    expected: Callable[[Any], list[str]] | None = None
    """What the filters hold, in any order, where the fixture alone says it (None: the
    listing spans rows of other tests too; the walk is checked against a snapshot)."""
    page_size: int = 2
    kind: str = ""
    """The listing the walk's tokens come from, where one operation has several."""
    one_page: bool = False
    """The fixture can give this filter one row only (the walk still checks it)."""


@dataclass(frozen=True)
class Walker:
    key: str
    """The list in the response body."""
    fixture: str
    """The module fixture whose world the cases read."""
    cases: dict[str, Case]


def _learner(s: School) -> Headers:
    return s.learner


def _provider(s: Any) -> Headers:
    return dict(s.market.provider)


def _admin(s: School | Books | Consents) -> Headers:
    return s.admin


def _catalog_case(
    filters: tuple[str, ...],
    params: Callable[[Catalog], Params],
    keep: Callable[[Listed], bool] | None,
    *,
    hours: int = 12,
    noise: Callable[[Catalog], str] | None = Catalog.not_matching,
    kind: str = "programs",
) -> Case:
    return Case(
        filters,
        params,
        insert=lambda c: c.matching(hours),
        noise=noise,
        expected=(lambda c: c.ours(keep)) if keep is not None else None,
        page_size=3,
        kind=kind,
    )


# Durations for the filters below: [10, 50] keeps HOURS' 12 and 40.
_SPAN = {"min_duration_hours": 10, "max_duration_hours": 50}

PROGRAMS: dict[str, Case] = {
    "none": _catalog_case((), lambda c: {}, None, noise=None),
    "q": _catalog_case(("q",), lambda c: {"q": c.word}, lambda p: p.word),
    "q with a typo": _catalog_case(
        ("q",), lambda c: {"q": c.typo()}, lambda p: p.word, kind="programs-typos"
    ),
    "skill": _catalog_case(("skill",), lambda c: {"skill": c.skill}, lambda p: p.skill),
    "max_price": _catalog_case(("max_price",), lambda c: {"max_price": 3000}, None),
    "min_duration_hours": _catalog_case(
        ("min_duration_hours",),
        lambda c: {"min_duration_hours": 40},
        None,
        hours=80,
        noise=lambda c: c.matching(2),
    ),
    "max_duration_hours": _catalog_case(
        ("max_duration_hours",),
        lambda c: {"max_duration_hours": 3},
        None,
        hours=2,
        noise=lambda c: c.matching(40),
    ),
    "provider_id": _catalog_case(
        ("provider_id",), lambda c: {"provider_id": c.provider_id}, lambda p: True, noise=None
    ),
    "q+skill": _catalog_case(
        ("q", "skill"), lambda c: {"q": c.word, "skill": c.skill}, lambda p: p.word and p.skill
    ),
    "q with a typo+skill": _catalog_case(
        ("q", "skill"),
        lambda c: {"q": c.typo(), "skill": c.skill},
        lambda p: p.word and p.skill,
        kind="programs-typos",
    ),
    "skill+max_price": _catalog_case(
        ("skill", "max_price"),
        lambda c: {"skill": c.skill, "max_price": 3000},
        lambda p: p.skill and p.price <= 3000,
    ),
    "provider_id+max_price": _catalog_case(
        ("provider_id", "max_price"),
        lambda c: {"provider_id": c.provider_id, "max_price": 3000},
        lambda p: p.price <= 3000,
    ),
    "provider_id+durations": _catalog_case(
        ("provider_id", "min_duration_hours", "max_duration_hours"),
        lambda c: {"provider_id": c.provider_id} | _SPAN,
        lambda p: 10 <= p.hours <= 50,
        hours=40,
        noise=lambda c: c.matching(80),
    ),
    "all": _catalog_case(
        ("q", "skill", "max_price", "provider_id", "min_duration_hours", "max_duration_hours"),
        lambda c: (
            {
                "q": f"  {c.word} ",
                "skill": c.skill,
                "max_price": 4000,
                "provider_id": c.provider_id,
            }
            | _SPAN
        ),
        lambda p: p.word and p.skill and p.price <= 4000 and 10 <= p.hours <= 50,
        hours=40,
    ),
}

ENROLLMENTS: dict[str, Case] = {
    "learner": Case(
        (),
        lambda s: {},
        School.learner_enrolls_anew,
        noise=School.someone_enrolls_in_the_first,
        who=_learner,
    ),
    "learner+program_id": Case(
        ("program_id",),
        lambda s: {"program_id": s.paid["id"]},
        School.learner_enrolls_and_cancels,
        noise=School.learner_enrolls_anew,
        who=_learner,
    ),
    "learner+status ACTIVE": Case(
        ("status",),
        lambda s: {"status": "ACTIVE"},
        School.learner_enrolls_anew,
        noise=School.learner_enrolls_and_cancels,
        who=_learner,
    ),
    "learner+status CANCELLED": Case(
        ("status",),
        lambda s: {"status": "CANCELLED"},
        School.learner_enrolls_and_cancels,
        noise=School.learner_enrolls_unpaid,
        who=_learner,
    ),
    "learner+status PENDING_PAYMENT": Case(
        ("status",),
        lambda s: {"status": "PENDING_PAYMENT"},
        School.learner_enrolls_unpaid,
        noise=School.learner_enrolls_anew,
        who=_learner,
    ),
    "learner+program_id+status": Case(
        ("program_id", "status"),
        lambda s: {"program_id": s.paid["id"], "status": "CANCELLED"},
        School.learner_enrolls_and_cancels,
        noise=School.learner_enrolls_unpaid,
        who=_learner,
    ),
    "provider": Case((), lambda s: {}, School.someone_enrolls_in_the_first, who=_provider),
    "provider+program_id": Case(
        ("program_id",),
        lambda s: {"program_id": s.free[0]["id"]},
        School.someone_enrolls_in_the_first,
        noise=School.learner_enrolls_anew,
        who=_provider,
    ),
    "provider+status": Case(
        ("status",),
        lambda s: {"status": "CANCELLED"},
        School.someone_enrolls_and_cancels,
        noise=School.someone_enrolls_in_the_first,
        who=_provider,
    ),
    "admin": Case((), lambda s: {}, School.someone_enrolls_in_the_first, who=_admin),
    "admin+program_id": Case(
        ("program_id",),
        lambda s: {"program_id": s.free[0]["id"]},
        School.someone_enrolls_in_the_first,
        noise=School.learner_enrolls_anew,
        who=_admin,
    ),
    "admin+program_id+status": Case(
        ("program_id", "status"),
        lambda s: {"program_id": s.paid["id"], "status": "CANCELLED"},
        School.someone_enrolls_and_cancels,
        noise=School.someone_enrolls_in_the_first,
        who=_admin,
    ),
}

CREDENTIALS: dict[str, Case] = {
    "learner": Case((), lambda s: {}, School.learner_earns_anew, who=_learner),
    "learner+program_id": Case(
        ("program_id",),
        lambda s: {"program_id": s.free[0]["id"]},
        # The learner has one credential of a program: a new one is of another program.
        School.learner_earns_anew,
        who=_learner,
        page_size=1,
        one_page=True,
    ),
    "provider": Case((), lambda s: {}, School.someone_earns_in_the_first, who=_provider),
    "provider+program_id": Case(
        ("program_id",),
        lambda s: {"program_id": s.free[0]["id"]},
        School.someone_earns_in_the_first,
        who=_provider,
    ),
    "admin": Case((), lambda s: {}, School.someone_earns_in_the_first, who=_admin),
    "admin+program_id": Case(
        ("program_id",),
        lambda s: {"program_id": s.free[0]["id"]},
        School.someone_earns_in_the_first,
        who=_admin,
    ),
}

PATHWAYS: dict[str, Case] = {
    "none": Case((), lambda a: {}, Atlas.publish, noise=Atlas.draft),
    "provider_id": Case(
        ("provider_id",),
        lambda a: {"provider_id": a.provider_id},
        Atlas.publish,
        noise=Atlas.others_publish,
        expected=lambda a: a.pathways,
    ),
}

REFUNDS: dict[str, Case] = {
    "none": Case((), lambda b: {}, Books.full_refund_anew, who=_admin),
    "enrollment_id": Case(
        ("enrollment_id",),
        lambda b: {"enrollment_id": b.partly["id"]},
        Books.partial_refund,
        noise=Books.partial_refund_of_another,
        who=_admin,
        expected=lambda b: b.refunds,
    ),
}

DISPUTES: dict[str, Case] = {"none": Case((), lambda b: {}, Books.dispute, who=_admin)}


def _manager(s: Staffing) -> Headers:
    return s.manager


EMPLOYERS: dict[str, Case] = {
    "none": Case(
        (),
        lambda s: {},
        Staffing.create_employer,
        noise=Staffing.stranger_creates_employer,
        who=_manager,
        expected=lambda s: s.employers,
    ),
    # A membership is the row: joined mid-walk, an employer older than the walk's cursor
    # is still behind the walk.
    "none, joining older employers": Case(
        (),
        lambda s: {},
        Staffing.joins_an_older_employer,
        noise=Staffing.stranger_creates_employer,
        who=_manager,
        expected=lambda s: s.employers,
    ),
}

# Scope, not filters: another employer's packs, another pack's invitations are the noise.
# (A token of one employer's or pack's listing under another's: tests/e2e/test_employers_paging.py.)
SEAT_PACKS: dict[str, Case] = {
    "none": Case(
        (),
        lambda s: {"employer_id": s.employer_id},
        Staffing.buy,
        noise=Staffing.buy_for_another_employer,
        who=_manager,
        expected=lambda s: s.packs,
    ),
}

SEAT_INVITATIONS: dict[str, Case] = {
    "none": Case(
        (),
        lambda s: {"employer_id": s.employer_id, "seat_pack_id": s.pack["id"]},
        Staffing.invite,
        noise=Staffing.invite_to_another_pack,
        who=_manager,
        expected=lambda s: s.invitations,
    ),
}


def _b(c: Consents) -> Headers:
    return dict(c.b.provider)


def _consent_case(
    params: Params,
    insert: Callable[[Consents], str],
    noise: Callable[[Consents], str],
    *,
    who: Callable[[Consents], Headers] = _b,
) -> Case:
    """A walk of B's consents; `params`: its filters (direction incoming by default)."""
    direction = params.get("direction", "incoming")
    return Case(
        tuple(params),
        lambda c: {"provider_id": c.b_id} | params,
        insert,
        noise=noise,
        who=who,
        expected=lambda c: c.of_b(direction, params.get("status", "")),
        kind=f"pathway-consents-{direction}",
    )


PATHWAY_CONSENTS: dict[str, Case] = {
    "none": _consent_case({}, Consents.asked_of_b, Consents.b_asks_c),
    "direction": _consent_case({"direction": "outgoing"}, Consents.b_asks_c, Consents.asked_of_b),
    "status": _consent_case({"status": "GRANTED"}, Consents.granted_by_b, Consents.asked_of_b),
    "direction+status": _consent_case(
        {"direction": "outgoing", "status": "REFUSED"}, Consents.refused_by_c, Consents.b_asks_c
    ),
    "admin+status": _consent_case(
        {"status": "PENDING"}, Consents.asked_of_b, Consents.granted_by_b, who=_admin
    ),
}


# Every paged operation of the API ("METHOD path" as in the OpenAPI document) -> its walks.
# A new listing gets a row here: the list key of its response, a module fixture that makes
# rows for it (a few more than two pages' worth under each filter) and one Case per filter
# and per combination that matters, each with a function that inserts a matching row.
WALKERS: dict[str, Walker] = {
    "GET /api/v1/programs": Walker("programs", "catalog", PROGRAMS),
    "GET /api/v1/enrollments": Walker("enrollments", "school", ENROLLMENTS),
    "GET /api/v1/credentials": Walker("credentials", "school", CREDENTIALS),
    "GET /api/v1/pathways": Walker("pathways", "atlas", PATHWAYS),
    "GET /api/v1/refunds": Walker("refunds", "books", REFUNDS),
    "GET /api/v1/disputes": Walker("disputes", "books", DISPUTES),
    "GET /api/v1/employers": Walker("employers", "staffing", EMPLOYERS),
    "GET /api/v1/employers/{employer_id}/seat-packs": Walker("seat_packs", "staffing", SEAT_PACKS),
    "GET /api/v1/employers/{employer_id}/seat-packs/{seat_pack_id}/invitations": Walker(
        "invitations", "staffing", SEAT_INVITATIONS
    ),
    "GET /api/v1/providers/{provider_id}/pathway-consents": Walker(
        "consents", "consents", PATHWAY_CONSENTS
    ),
}

# Not filters: the paging parameters themselves.
PAGING = {"page_size", "page_token"}


def _paged_operations(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Every operation of `document` that takes page_token -> {parameter: where it goes}."""
    found = {}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            parameters = {p["name"]: p["in"] for p in operation.get("parameters", [])}
            if "page_token" in parameters:
                found[f"{method.upper()} {path}"] = parameters
    return found


def _row_hint(operation: str, parameters: dict[str, str]) -> str:
    """The WALKERS row to add for `operation`, to fill in."""
    in_path = [name for name, where in parameters.items() if where == "path"]
    filters = sorted(n for n, where in parameters.items() if where == "query" and n not in PAGING)

    def case(names: list[str]) -> str:
        values = ", ".join(f"{n!r}: w.<{n}>" for n in [*in_path, *names])
        return f"Case({tuple(names)!r}, lambda w: {{{values}}}, <inserts a matching row>)"

    return (
        f'    {operation!r}: Walker("<list key>", "<module fixture>", {{\n'
        + "".join(
            f"        {name!r}: {case(names)},\n"
            for name, names in [("none", []), *((f, [f]) for f in filters)]
        )
        + "    }),"
    )


def uncovered(document: dict[str, Any]) -> list[str]:
    """What the OpenAPI `document` pages that WALKERS does not walk (and stale rows)."""
    operations = _paged_operations(document)
    problems = []
    for operation, parameters in sorted(operations.items()):
        walker = WALKERS.get(operation)
        if walker is None:
            problems.append(
                f"{operation} takes page_token but no walk covers it. Add a row to WALKERS"
                f" in tests/e2e/test_paging.py:\n{_row_hint(operation, parameters)}"
            )
            continue
        filters = {n for n, where in parameters.items() if where == "query"} - PAGING
        walked = {name for case in walker.cases.values() for name in case.filters}
        missing = sorted(filters - walked)
        if missing:
            problems.append(
                f"{operation}: filter(s) {missing} are not walked: add a Case setting each"
                f" (and one combining it with the others that matter) to WALKERS[{operation!r}]"
            )
        unknown = sorted(walked - filters)
        if unknown:
            problems.append(f"{operation}: the walks set {unknown}, which it does not take")
        if all(case.filters for case in walker.cases.values()):
            problems.append(f"{operation}: add a Case walking it without filters")
    stale = sorted(set(WALKERS) - set(operations))
    if stale:
        problems.append(f"WALKERS has {stale}, which the document does not page: remove them")
    return problems


def test_every_paged_operation_is_walked(http: httpx.Client) -> None:
    """The live gateway's OpenAPI document against WALKERS: an operation that takes
    page_token, or a filter of one, that no walk covers fails here, naming it."""
    document = http.get("/openapi.json")
    assert document.status_code == 200, document.text
    assert _paged_operations(document.json()), "nothing takes page_token: renamed?"
    problems = uncovered(document.json())
    assert not problems, "\n".join(problems)


def test_the_coverage_check_names_what_is_not_walked() -> None:
    def paged(*filters: str, path: str = "") -> dict[str, Any]:
        names = [*filters, "page_size", "page_token"]
        return {"get": {"parameters": [{"name": n, "in": path or "query"} for n in names]}}

    document: dict[str, Any] = {"paths": {}}
    for operation, walker in WALKERS.items():
        filters = {f for case in walker.cases.values() for f in case.filters}
        document["paths"][operation.split(" ", 1)[1]] = paged(*filters)
    assert uncovered(document) == []

    # A made-up listing no walk covers.
    document["paths"]["/api/v1/employers/{employer_id}/budgets"] = paged("status") | {"post": {}}
    document["paths"]["/api/v1/refunds"]["get"]["parameters"].append(
        {"name": "reason", "in": "query"}
    )
    del document["paths"]["/api/v1/disputes"]
    problems = uncovered(document)
    assert len(problems) == 3, problems
    assert problems[0].startswith("GET /api/v1/employers/{employer_id}/budgets takes page_token")
    assert "'status': Case(('status',)" in problems[0]
    assert problems[1].startswith("GET /api/v1/refunds: filter(s) ['reason'] are not walked")
    assert (
        problems[2]
        == "WALKERS has ['GET /api/v1/disputes'], which the document does not page: remove them"
    )


_WALKS = [(op, name) for op, walker in WALKERS.items() for name in walker.cases]


def _request(operation: str, case: Case, world: Any) -> tuple[str, Params, Headers]:
    """(URL path, query, headers) of one case: path parameters go into the path."""
    path = operation.split(" ", 1)[1]
    params = case.params(world)
    in_path = {name for _, name, _, _ in string.Formatter().parse(path) if name}
    query = {k: v for k, v in params.items() if k not in in_path}
    assert set(query) == set(case.filters), f"the case says it sets {case.filters}: {query}"
    return path.format_map(params), query, case.who(world)


@pytest.mark.parametrize(("operation", "name"), _WALKS, ids=[f"{o}: {n}" for o, n in _WALKS])
def test_every_listing_walks_every_page_under_each_filter(
    http: httpx.Client, request: pytest.FixtureRequest, operation: str, name: str
) -> None:
    walker = WALKERS[operation]
    case = walker.cases[name]
    world = request.getfixturevalue(walker.fixture)
    path, params, who = _request(operation, case, world)
    before = snapshot(http, path, walker.key, params, who)
    if case.expected is not None:
        assert set(before) == set(case.expected(world))
    assert len(before) > case.page_size or case.one_page, "the filters must span two pages"
    inserted: set[str] = set()
    noise: set[str] = set()

    def between() -> str:
        if case.noise is not None:
            noise.add(case.noise(world))
        return case.insert(world)

    result = walk(
        api_pages(http, path, walker.key, params, who, page_size=case.page_size),
        between=between,
        inserted=inserted,
        concurrent=CONCURRENT_INSERTS,
    )
    assert_walk_sees_what_existed(result, before, inserted | noise)
    if case.kind:
        assert {token_kind(t) for t in result.tokens} == {case.kind}
    if case.one_page:
        return
    assert result.pages >= 2
    assert len(inserted) == min(len(result.tokens), INSERTS_PER_WALK) + CONCURRENT_INSERTS
    # What the walk did not show is listed now: the inserts matched, the noise did not.
    after = set(snapshot(http, path, walker.key, params, who))
    assert inserted <= after, "an insert does not match the filters: the walk proves nothing"
    assert not noise & after, "a row the filters leave out is listed"


def _respelt(word: str, *positions: int) -> str:
    """`word` with the letters at `positions` replaced (each by another letter)."""
    letters = list(word)
    for i in positions:
        letters[i] = "q" if letters[i] != "q" else "w"
    return "".join(letters)


def test_a_typo_walk_keeps_its_corrections_while_programs_bring_nearer_words(
    http: httpx.Client, catalog: Catalog
) -> None:
    """The typo-tolerant search corrects each word to the few nearest words programs use.
    A program published mid-walk can bring a word nearer than those: the walk's later pages
    must still page the same search, not one corrected otherwise (which loses the rows
    only the displaced correction matched, or adds rows of the new one)."""
    word = _letters()
    typo = word[:-1] + ("a" if word[-1] != "a" else "b")
    # Nearest to `typo` first: its original, a word one letter off, one two letters off.
    nearest, near, farther = word, _respelt(typo, 5), _respelt(typo, 4, 8)
    made = [
        catalog.market.program(title=f"Typo walk {w} course", skills=["unrelated"])["id"]
        for w in (farther, farther, near, near, nearest, nearest)
    ]
    before = snapshot(http, "/api/v1/programs", "programs", {"q": typo}, {})
    assert set(before) == set(made)
    # Each insert brings a word as near as `near` (one letter off, elsewhere), so nearer
    # than `farther`: corrected anew, the search would drop `farther`.
    positions = iter(range(6, 11))

    def nearer_word() -> str:
        respelt = _respelt(typo, next(positions))
        return str(catalog.market.program(title=f"Typo walk {respelt} course")["id"])

    inserted: set[str] = set()
    result = walk(
        api_pages(http, "/api/v1/programs", "programs", {"q": typo}, page_size=1),
        between=nearer_word,
        inserted=inserted,
    )
    assert {token_kind(t) for t in result.tokens} == {"programs-typos"}
    assert_walk_sees_what_existed(result, before, inserted)


# ---------------------------------------------------------------- web pages


@dataclass(frozen=True)
class WebList:
    """A list on a web page, paged by a "more" link: the same listing as an API one."""

    fixture: str
    url: Callable[[Any], str]
    rows: str
    """A pattern whose one group is a listed item's id."""
    more: str
    """The label of the link to the next page."""
    same_as: Callable[[Any], tuple[str, str, Params, Headers]]
    """The API listing the page shows: (path, list key, query, headers)."""
    insert: Callable[[Any], str]
    page_size: int
    token_param: str = "page_token"
    who: Callable[[Any], Headers] = _anonymous
    """Whose session looks at the page."""
    section: str = ""
    """Where the list starts, on a page of several."""
    field: str = "id"
    """What of an item the page shows (and `rows` finds), when not its id."""


def _storefront(name: str) -> WebList:
    return WebList(
        "catalog",
        lambda c: "/?" + urlencode(PROGRAMS[name].params(c)),
        r'href="/programs/([0-9a-f-]{36})"',
        "More programs",
        lambda c: ("/api/v1/programs", "programs", PROGRAMS[name].params(c), {}),
        Catalog.matching,
        12,
    )


# The web pages are not in the OpenAPI document: a new paged list on a page gets its row here.
WEB_LISTS: dict[str, WebList] = {
    **{f"/ {name}": _storefront(name) for name in ("none", "q", "skill", "q+skill")},
    "/learning enrollments": WebList(
        "school",
        lambda s: "/learning",
        r'id="enrollment-([0-9a-f-]{36})"',
        "More enrollments",
        lambda s: ("/api/v1/enrollments", "enrollments", {}, s.learner),
        School.learner_enrolls_anew,
        10,
        who=_learner,
    ),
    "/learning credentials": WebList(
        "school",
        lambda s: "/learning",
        r'<h3><a href="/credentials/([0-9a-f-]{36})">',
        "More credentials",
        lambda s: ("/api/v1/credentials", "credentials", {}, s.learner),
        School.learner_earns_anew,
        10,
        token_param="credentials_page_token",
        who=_learner,
        section='id="credentials-heading"',
    ),
    "/pathways": WebList(
        "atlas",
        lambda a: "/pathways",
        r'<h2><a href="/pathways/([0-9a-f-]{36})">',
        "More pathways",
        lambda a: ("/api/v1/pathways", "pathways", {}, {}),
        Atlas.publish,
        12,
    ),
    "/studio/{provider_id}/programs/{program_id}?status": WebList(
        "school",
        lambda s: f"/studio/{s.free[0]['provider_id']}/programs/{s.free[0]['id']}?status=ACTIVE",
        r'<div class="row-head">\s*<strong>([^<]+)</strong>',
        "Next page",
        lambda s: (
            "/api/v1/enrollments",
            "enrollments",
            {"program_id": s.free[0]["id"], "status": "ACTIVE"},
            _provider(s),
        ),
        School.someone_new_enrolls_in_the_first,
        20,
        who=_provider,
        section='id="enrollments-heading"',
        # One live enrollment per learner and program: the learner tells them apart.
        field="learner_id",
    ),
    "/team": WebList(
        "staffing",
        lambda s: "/team",
        r'<li><a href="/team/([0-9a-f-]{36})">',
        "More employers",
        lambda s: ("/api/v1/employers", "employers", {}, s.manager),
        Staffing.create_employer,
        20,
        who=_manager,
    ),
    "/team/{employer_id}": WebList(
        "staffing",
        lambda s: f"/team/{s.employer_id}",
        r'<a href="/team/[0-9a-f-]{36}/seat-packs/([0-9a-f-]{36})"',
        "More seat packs",
        lambda s: (f"/api/v1/employers/{s.employer_id}/seat-packs", "seat_packs", {}, s.manager),
        Staffing.buy,
        20,
        token_param="packs_page_token",
        who=_manager,
    ),
    "/team/{employer_id}/seat-packs/{seat_pack_id}": WebList(
        "staffing",
        lambda s: f"/team/{s.employer_id}/seat-packs/{s.pack['id']}",
        r"<tr>\s*<td>([^<]+@example\.com)</td>",
        "More invitations",
        lambda s: (
            f"/api/v1/employers/{s.employer_id}/seat-packs/{s.pack['id']}/invitations",
            "invitations",
            {},
            s.manager,
        ),
        Staffing.invite_by_email,
        20,
        who=_manager,
        # The page shows an invitation's email (one per invitation here), not its id.
        field="email",
    ),
    "/studio/{provider_id}": WebList(
        "catalog",
        lambda c: f"/studio/{c.provider_id}",
        r'<td><a href="/studio/[0-9a-f-]{36}/programs/([0-9a-f-]{36})">',
        "Next page",
        # The provider's programs are all published: the public listing holds them all.
        lambda c: ("/api/v1/programs", "programs", {"provider_id": c.provider_id}, {}),
        Catalog.matching,
        20,
        who=_provider,
    ),
}


@pytest.mark.parametrize("name", list(WEB_LISTS))
def test_every_web_list_walks_every_page_by_its_more_link(
    http: httpx.Client, request: pytest.FixtureRequest, name: str
) -> None:
    page = WEB_LISTS[name]
    world = request.getfixturevalue(page.fixture)
    path, key, params, headers = page.same_as(world)
    while len(before := snapshot(http, path, key, params, headers, page.field)) <= page.page_size:
        page.insert(world)  # the list must span two pages
    token = page.who(world).get("authorization", "").removeprefix("Bearer ")
    # Signed in as a browser is: the session cookie (a dev token in dev mode).
    session = {"cookie": f"{SESSION_COOKIE}={token}"} if token else {}
    read = web_pages(
        http,
        page.url(world),
        re.compile(page.rows),
        page.more,
        headers=session,
        section=page.section,
    )
    inserted: set[str] = set()
    result = walk(
        read, between=lambda: page.insert(world), inserted=inserted, concurrent=CONCURRENT_INSERTS
    )
    assert result.pages >= 2
    assert_walk_sees_what_existed(result, before, inserted)
    # The link's token is bound to its listing: another listing's, or garbage, is a 4xx.
    real = str(httpx.URL(result.tokens[0]).params[page.token_param])
    foreign = [
        token
        for listing, _, _, token in _first_of_each(http, request).values()
        if listing != path  # (another operation, or the same one in another scope: refused)
    ]
    for bad in [*foreign, *garbage_tokens(real)]:
        response = http.get(page.url(world), params={page.token_param: bad}, headers=session)
        assert 400 <= response.status_code < 500, (
            f"{bad[:80]!r}: {response.status_code} {response.text[:300]}"
        )


# ---------------------------------------------------------------- tokens and sizes out of place


def first_token(
    http: httpx.Client, path: str, key: str, params: Params, headers: Headers | None = None
) -> str:
    response = http.get(path, params=params | {"page_size": 1}, headers=headers or {})
    assert response.status_code == 200, response.text
    token = response.json()["next_page_token"]
    assert token, f"{path} {params} has a single page"
    return str(token)


def _first_of_each(
    http: httpx.Client, request: pytest.FixtureRequest
) -> dict[str, tuple[str, Params, Headers, str]]:
    """Each operation's first case: (path, query, headers, a token of its first page)."""
    found = {}
    for operation, walker in WALKERS.items():
        world = request.getfixturevalue(walker.fixture)
        path, params, who = _request(operation, next(iter(walker.cases.values())), world)
        found[operation] = (path, params, who, first_token(http, path, walker.key, params, who))
    return found


def test_a_token_works_only_on_the_listing_that_issued_it(
    http: httpx.Client, request: pytest.FixtureRequest
) -> None:
    listings = _first_of_each(http, request)
    for issued_by, (_, _, _, token) in listings.items():
        for operation, (path, params, who, _) in listings.items():
            if operation == issued_by:
                continue
            response = http.get(path, params=params | {"page_token": token}, headers=who)
            problem_names_page_token(response, OTHER_LISTING)


@pytest.mark.parametrize("operation", list(WALKERS))
def test_a_token_works_only_with_the_filters_and_caller_it_was_issued_for(
    http: httpx.Client, request: pytest.FixtureRequest, operation: str
) -> None:
    """Each case's token under every other case of its operation: other filters, or the
    same ones for another caller (another scope), is a refused token."""
    walker = WALKERS[operation]
    world = request.getfixturevalue(walker.fixture)
    requests = {name: _request(operation, case, world) for name, case in walker.cases.items()}
    for issued_for, (path, params, who) in requests.items():
        if walker.cases[issued_for].one_page:
            continue
        token = first_token(http, path, walker.key, params, who)
        same = http.get(path, params=params | {"page_token": token}, headers=who)
        assert same.status_code == 200, f"{issued_for}: {same.text}"
        for name, (other_path, other_params, other_who) in requests.items():
            if (other_path, other_params, other_who) == (path, params, who):
                continue
            response = http.get(
                other_path,
                params=other_params | {"page_token": token, "page_size": 1},
                headers=other_who,
            )
            # A search (q) goes on whichever of the catalog's two search listings (exact,
            # typo-tolerant) its token names; without q only the first serves.
            target = walker.cases[name]
            kinds = {"programs", "programs-typos"} if "q" in target.filters else {target.kind}
            same_listing = not target.kind or token_kind(token) in kinds
            try:
                problem_names_page_token(response, OTHER_FILTERS if same_listing else OTHER_LISTING)
            except AssertionError as exc:
                raise AssertionError(f"a token of {issued_for!r} used as {name!r}: {exc}") from None


def test_blanks_around_the_search_are_the_same_filter(http: httpx.Client, catalog: Catalog) -> None:
    programs = {"q": catalog.word, "skill": catalog.skill}
    token = first_token(http, "/api/v1/programs", "programs", programs)
    same = http.get(
        "/api/v1/programs",
        params={"q": f" {catalog.word}", "skill": catalog.skill, "page_token": token},
    )
    assert same.status_code == 200, same.text
    # The storefront's link carries a catalog token: bound to its filters too.
    refused = http.get("/", params={"skill": "other", "page_token": token})
    assert 400 <= refused.status_code < 500, refused.status_code


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


@pytest.mark.parametrize("operation", [*WALKERS, "GET /"])
def test_garbage_tokens_are_a_4xx_never_a_5xx(
    http: httpx.Client, request: pytest.FixtureRequest, operation: str
) -> None:
    api = "GET /api/v1/programs" if operation == "GET /" else operation
    walker = WALKERS[api]
    world = request.getfixturevalue(walker.fixture)
    path, params, who = _request(api, next(iter(walker.cases.values())), world)
    real = first_token(http, path, walker.key, params, who)
    if operation == "GET /":
        path = "/"
    for token in garbage_tokens(real):
        response = http.get(path, params=params | {"page_token": token}, headers=who)
        assert 400 <= response.status_code < 500, (
            f"{token[:80]!r}: {response.status_code} {response.text[:300]}"
        )
        if path != "/":
            problem_names_page_token(response)


# page_size: 0 is the server's default, 100 the most; anything else is refused.
HOSTILE_PAGE_SIZES = ["101", "-1", "x", "1.5", "1e2", str(2**31), str(2**63), "", "\x00", "0x10"]


@pytest.mark.parametrize("operation", list(WALKERS))
def test_page_sizes_out_of_bounds_are_a_422_naming_page_size(
    http: httpx.Client, request: pytest.FixtureRequest, operation: str
) -> None:
    walker = WALKERS[operation]
    world = request.getfixturevalue(walker.fixture)
    path, params, who = _request(operation, next(iter(walker.cases.values())), world)
    for size in HOSTILE_PAGE_SIZES:
        response = http.get(path, params=params | {"page_size": size}, headers=who)
        assert response.status_code == 422, f"page_size={size!r}: {response.text[:300]}"
        problem_names(response, "page_size")
    for size, most in (("0", 20), ("100", 100), ("1", 1)):
        response = http.get(path, params=params | {"page_size": size}, headers=who)
        assert response.status_code == 200, f"page_size={size!r}: {response.text[:300]}"
        assert len(response.json()[walker.key]) <= most
