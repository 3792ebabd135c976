"""A small WHERE-clause builder for asyncpg's positional parameters ($1, $2, ...), and the
one keyset query every listing pages with; a `Statement` is SQL text with its arguments."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import asyncpg

from services.common.auth import authenticated
from services.common.errors import NotFoundError
from services.common.paging import Cursor, Listing, Page

T = TypeVar("T")


@dataclass(frozen=True)
class OwnerScope:
    """The filters of a listing of owned rows (enrollments, credentials): one learner's
    rows, one provider's rows (None: not restricted that way), optionally one program's.
    Also what a page token of such a listing is bound to."""

    learner_id: str | None
    provider_id: str | None
    program_id: str


@dataclass(frozen=True)
class Statement:
    """One SQL statement and its positional arguments ($1 is args[0])."""

    sql: str
    args: tuple[Any, ...] = ()


_PARAMETER = re.compile(r"\$(\d+)")


def is_uuid(value: str) -> bool:
    """Whether `value` can be bound to a uuid parameter: a caller's id that is not one names
    no row, and is looked up as NULL rather than failing the statement."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def shifted(sql: str, by: int) -> str:
    """`sql` with its parameters $1, $2, ... renumbered $1+by, $2+by, ...: to place it after
    `by` parameters of another statement it is composed with. (Our SQL uses `$` for
    parameters only: no dollar quoting.)"""
    if "$$" in sql:
        raise ValueError("shifted() takes SQL without dollar quoting")
    return _PARAMETER.sub(lambda m: f"${int(m[1]) + by}", sql)


class Where:
    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.args: list[Any] = []

    def param(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, clause: str, *values: Any) -> Where:
        """Add `clause`, each `{}` in it standing for the next value as a parameter."""
        self.clauses.append(clause.format(*(self.param(v) for v in values)))
        return self

    def sql(self) -> str:
        return f"WHERE {' AND '.join(self.clauses)}" if self.clauses else ""

    def page(self, page: Page) -> str:
        """This WHERE, plus: rows strictly after the page's cursor in (time DESC, id DESC)
        order, in that order, one more than the page holds (to know whether another page
        follows). The condition and the ORDER BY name the same qualified columns."""
        time, row_id = page.listing.time_column, page.listing.id_column
        if page.after is not None:
            self.add(f"({time}, {row_id}) < ({{}}, {{}}::uuid)", *page.after)
        return f"{self.sql()} ORDER BY {time} DESC, {row_id} DESC LIMIT {self.param(page.size + 1)}"

    def visible_to(self, scope: OwnerScope) -> Where:
        """The ownership scope of a listing of owned rows."""
        if scope.learner_id is not None:
            self.add("learner_id = {}", scope.learner_id)
        if scope.provider_id is not None:
            self.add("provider_id = {}::uuid", scope.provider_id)
        if scope.program_id:
            self.add("program_id = {}::uuid", scope.program_id)
        return self


async def fetch_page(
    conn: asyncpg.Connection, select: str, where: Where, page: Page
) -> list[asyncpg.Record]:
    """`select` ("SELECT ... FROM ... [JOIN ...]") filtered by `where`, one page of it."""
    return list(await conn.fetch(f"{select} {where.page(page)}", *where.args))


async def fetch_by_id(
    conn: asyncpg.Connection, table: str, row_id: str, *, what: str, for_update: bool = False
) -> asyncpg.Record:
    """The row of `table` with this id (locked when `for_update`); NotFoundError naming
    `what` when there is none. `table` is ours, never input."""
    row = await conn.fetchrow(
        f"SELECT * FROM {table} WHERE id = $1 {'FOR UPDATE' if for_update else ''}", row_id
    )
    if row is None:
        raise NotFoundError(f"{what} {row_id} not found")
    return row


async def fetch_visible(
    conn: asyncpg.Connection, select: str, scope: OwnerScope, page: Page
) -> list[asyncpg.Record]:
    """One page of the owned rows `scope` may see (a repository's `list_for`)."""
    return await fetch_page(conn, select, Where().visible_to(scope), page)


class OwnedPageRequest(Protocol):
    """What a List request of owned rows carries (ListEnrollments, ListCredentials)."""

    @property
    def program_id(self) -> str: ...
    @property
    def page_token(self) -> str: ...
    @property
    def page_size(self) -> int: ...


async def owned_page(
    pool: asyncpg.Pool,
    request: OwnedPageRequest,
    listing: Listing,
    list_for: Callable[[asyncpg.Connection, OwnerScope, Page], Awaitable[list[T]]],
    key: Callable[[T], Cursor],
) -> tuple[list[T], str]:
    """A List handler's whole read: the rows of the caller's scope (a learner's own, a
    provider's own, everything for admins and services; optionally one program's), the
    page `request` asks for (its token bound to that scope), and the next page's token
    ('' on the last page)."""
    scope = OwnerScope(*authenticated().listing_scope(), program_id=request.program_id)
    page = Page.request(listing, request.page_token, request.page_size, scope)
    async with pool.acquire() as conn:
        rows = await list_for(conn, scope, page)
    return page.split(rows, key)
