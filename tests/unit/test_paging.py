"""Page tokens: opaque, bound to the listing and the filters that issued them, and any
other token is INVALID_ARGUMENT on `page_token` with a stable message."""

from __future__ import annotations

import base64
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.errors import InvalidArgumentError
from services.common.paging import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    MAX_TOKEN_LENGTH,
    Listing,
    Page,
    issued_by,
)

PROGRAMS = Listing("programs", table="p")
ENROLLMENTS = Listing("enrollments", table="enrollments")


@dataclass(frozen=True)
class Filters:
    query: str = ""
    max_price: int | None = None


@dataclass
class Row:
    id: str
    at: datetime


def token_after(row: Row, filters: Filters = Filters(), listing: Listing = PROGRAMS) -> str:
    page = Page.request(listing, "", 1, filters)
    shown, token = page.split([row, Row(str(uuid.uuid4()), row.at)], lambda r: (r.at, r.id))
    assert shown == [row]
    return token


def refused(token: str, filters: Filters = Filters(), listing: Listing = PROGRAMS) -> str:
    with pytest.raises(InvalidArgumentError) as error:
        Page.request(listing, token, 1, filters)
    [violation] = error.value.violations
    assert violation.field == "page_token"
    # Stable text for clients: nothing from Python's exceptions.
    text = f"{error.value.message} {violation.message}"
    assert not re.search(r"Error|Exception|Traceback|\bline \d", text), text
    return violation.message


def test_a_token_resumes_after_the_last_row_shown_exactly() -> None:
    row = Row(str(uuid.uuid4()), datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC))
    token = token_after(row)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert Page.request(PROGRAMS, token, 1, Filters()).after == (row.at, row.id)


def test_the_last_page_has_no_token() -> None:
    page = Page.request(PROGRAMS, "", 2, Filters())
    rows = [Row(str(uuid.uuid4()), datetime.now(UTC)) for _ in range(2)]
    assert page.split(rows, lambda r: (r.at, r.id)) == (rows, "")


@pytest.mark.parametrize(
    ("asked", "size"),
    [(0, DEFAULT_PAGE_SIZE), (-5, DEFAULT_PAGE_SIZE), (7, 7), (10**6, MAX_PAGE_SIZE)],
)
def test_page_size(asked: int, size: int) -> None:
    assert Page.request(PROGRAMS, "", asked, Filters()).size == size


def test_the_longest_token_fits_the_200_characters_the_api_allows() -> None:
    latest = Row(str(uuid.uuid4()), datetime.max.replace(tzinfo=UTC))
    longest = Listing("x" * 20, table="t")
    assert len(token_after(latest, listing=longest)) <= MAX_TOKEN_LENGTH == 200


def test_a_token_of_another_listing_is_refused() -> None:
    token = token_after(Row(str(uuid.uuid4()), datetime.now(UTC)))
    assert "another listing" in refused(token, listing=ENROLLMENTS)


@pytest.mark.parametrize("other", [Filters(query="bar"), Filters(max_price=0), Filters("foo", 5)])
def test_a_token_for_other_filters_is_refused(other: Filters) -> None:
    token = token_after(Row(str(uuid.uuid4()), datetime.now(UTC)), Filters(query="foo"))
    assert "other filters" in refused(token, other)


def test_filters_are_compared_normalised() -> None:
    token = token_after(Row(str(uuid.uuid4()), datetime.now(UTC)), Filters(query="foo"))
    assert Page.request(PROGRAMS, token, 1, Filters(query="  foo ")).after is not None


TYPOS = Listing("programs-typos", table="p", pinned=True)
BEGAN = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)


def pinned_token_after(row: Row, began: datetime | None = BEGAN) -> str:
    page = Page.request(TYPOS, "", 1, Filters())
    if began is not None:
        page = page.began_at(began)
    return page.split([row, Row(str(uuid.uuid4()), row.at)], lambda r: (r.at, r.id))[1]


def test_a_pinned_listing_s_walk_keeps_the_moment_it_began_page_after_page() -> None:
    first = Row(str(uuid.uuid4()), datetime.now(UTC))
    page = Page.request(TYPOS, pinned_token_after(first), 1, Filters())
    assert (page.after, page.began) == ((first.at, first.id), BEGAN)
    # Page 2 does not begin anew: its own token carries the same moment.
    assert page.began_at(datetime.now(UTC)).began == BEGAN
    second = Row(str(uuid.uuid4()), first.at - timedelta(seconds=1))
    _, token = page.split([second, first], lambda r: (r.at, r.id))
    assert Page.request(TYPOS, token, 1, Filters()).began == BEGAN


def test_a_pinned_listing_takes_the_tokens_of_before_it_was_pinned() -> None:
    row = Row(str(uuid.uuid4()), datetime.now(UTC))
    old = token_after(row, listing=Listing("programs-typos", table="p"))
    page = Page.request(TYPOS, old, 1, Filters())
    assert (page.after, page.began) == ((row.at, row.id), None)


def test_only_a_pinned_listing_carries_the_moment() -> None:
    row = Row(str(uuid.uuid4()), datetime.now(UTC))
    unpinned = Listing("programs-typos", table="p")
    page = Page.request(unpinned, "", 1, Filters()).began_at(BEGAN)
    _, token = page.split([row, row], lambda r: (r.at, r.id))
    assert len(_fields(token)) == 4
    assert "not a page token" in refused(pinned_token_after(row), listing=unpinned)


def test_the_longest_pinned_token_fits_the_200_characters_the_api_allows() -> None:
    latest = Row(str(uuid.uuid4()), datetime.max.replace(tzinfo=UTC))
    longest = Listing("x" * 20, table="t", pinned=True)
    page = Page.request(longest, "", 1, Filters()).began_at(latest.at)
    token = page.split([latest, latest], lambda r: (r.at, r.id))[1]
    assert len(_fields(token)) == 5
    assert len(token) <= MAX_TOKEN_LENGTH == 200


@pytest.mark.parametrize(
    "began", [10**30, -(10**30), 2**63, 1.5, True, None, "2026-01-01T00:00:00+00:00", [1]]
)
def test_a_pinned_token_s_garbage_moment_is_refused(began: Any) -> None:
    fields = _fields(pinned_token_after(Row(str(uuid.uuid4()), datetime.now(UTC))))
    with pytest.raises(InvalidArgumentError) as error:
        Page.request(TYPOS, _b64([*fields[:4], began]), 1, Filters())
    assert error.value.violations[0].field == "page_token"


def test_issued_by_names_the_listing_of_a_well_formed_token_only() -> None:
    row = Row(str(uuid.uuid4()), datetime.now(UTC))
    assert issued_by(token_after(row, listing=ENROLLMENTS)) == "enrollments"
    assert issued_by(pinned_token_after(row)) == "programs-typos"
    for garbage in ("", "!!!", "A" * 5000, _b64(b"\xff"), _b64([]), _b64([5]), _b64({"a": 1})):
        assert issued_by(garbage) == ""


def _b64(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _fields(token: str) -> list[Any]:
    return list(json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))))


_REAL = token_after(Row(str(uuid.uuid4()), datetime.now(UTC)))


def _with(position: int, value: Any) -> str:
    fields = _fields(_REAL)
    fields[position] = value
    return _b64(fields)


_EPOCH_MICROS_MAX = (datetime.max.replace(tzinfo=UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // (
    timedelta(microseconds=1)
)


@pytest.mark.parametrize(
    "token",
    [
        "!!!",
        "A" * 5000,
        "a\x00b",
        "é",
        _REAL + "==",
        _REAL[:-4],
        _b64(b"{not json"),
        _b64(b"[" * 5000),
        _b64(b"\xff\xfe"),
        _b64(12345),
        _b64("a string"),
        _b64(None),
        _b64({"kind": "programs"}),
        _b64([]),
        _b64([1, 2, 3, 4]),
        _b64([*_fields(_REAL), "extra"]),
        _b64(_fields(_REAL)[:3]),
        _with(2, _EPOCH_MICROS_MAX + 1),  # a date past year 9999
        _with(2, -(10**30)),
        _with(2, 2**63),
        _with(2, 1.5),
        _with(2, True),
        _with(2, "2026-01-01T00:00:00+00:00"),
        _with(3, "not-a-uuid"),
        _with(3, 5),
        _with(3, "\x00"),
        _with(0, None),
        _with(1, ["x"]),
    ],
)
def test_garbage_is_refused_with_a_stable_message(token: str) -> None:
    refused(token)


def test_a_listing_keyed_by_another_uuid_column_pages_by_it() -> None:
    """A person's employers are keyed by the membership: its time and the employer's id."""
    from services.common.sql import Where

    members = Listing("employers", table="m", id="employer_id")
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    where = Where()
    sql = where.page(Page(members, (moment, str(uuid.uuid4())), 5, ""))
    assert "(m.created_at, m.employer_id) < ($1, $2::uuid)" in sql
    assert "ORDER BY m.created_at DESC, m.employer_id DESC LIMIT $3" in sql
    assert where.args[0] == moment
    assert where.args[2] == 6
