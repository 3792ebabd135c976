"""Keyset paging, shared so that every List RPC pages the same way.

A listing is ordered newest first by (time, id) and each page starts strictly after the
last row of the one before, so rows inserted while a client walks the pages never shift
it: nothing is lost or repeated. The page token carries that last row's key, the kind of
listing that issued it and a fingerprint of the filters it was issued for, so a token used
on another listing or with other filters is refused instead of paging something else. A
pinned listing's token also carries when its walk began (see Listing.pinned).

Tokens are opaque to clients (base64url) but not signed. That is deliberate: the key of the
last row shown is no secret, and every listing's scope (whose rows a caller may see) is
enforced in its SQL, never read from the token, so a forged token can only start a page
at another point of the caller's own listing. The kind and fingerprint exist for clear
errors, not for security; a MAC would add a key to manage and protect nothing.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from services.common.errors import FieldViolation, InvalidArgumentError

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

Cursor = tuple[datetime, str]
"""The (time, id) of the last row of a page."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# What the List requests allow (page_token max_len in the protos); longer is not ours, and
# decoding it could nest JSON deep enough to exhaust the parser's recursion.
MAX_TOKEN_LENGTH = 200
_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def page_size(requested: int) -> int:
    return min(max(requested, 0) or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


@dataclass(frozen=True)
class Listing:
    """One keyset-paged listing: the kind its tokens are tagged with, and its order key,
    `time` and `id` of the table or alias `table`. The columns are always qualified,
    since a listing may join other tables that have an `id` or `created_at` too."""

    kind: str
    table: str
    time: str = "created_at"
    id: str = "id"
    """The key's uuid column: unique among the listing's rows with the same `time`."""
    pinned: bool = False
    """Its pages read more than their rows (the catalog's typo corrections), as of the
    moment the walk began: its tokens carry that moment (Page.began), so that whatever
    that read holds cannot change under a walk."""

    @property
    def time_column(self) -> str:
        return f"{self.table}.{self.time}"

    @property
    def id_column(self) -> str:
        return f"{self.table}.{self.id}"


@dataclass(frozen=True)
class Page:
    """One page of a listing, as asked for: where it starts and how many rows it holds."""

    listing: Listing
    after: Cursor | None
    size: int
    fingerprint: str
    began: datetime | None = None
    """A pinned listing's walk: when it began (None on its first page until began_at)."""

    @classmethod
    def request(cls, listing: Listing, token: str, requested_size: int, filters: Any) -> Page:
        """The page a List request asks for. `filters` is the listing's (normalised)
        filter dataclass, caller scope included: a token is only good with the same."""
        fingerprint = _fingerprint(filters)
        after, began = _decode(listing, token, fingerprint)
        return cls(listing, after, page_size(requested_size), fingerprint, began)

    def began_at(self, moment: datetime) -> Page:
        """This page of a pinned listing, its walk begun at `moment` unless it already had."""
        if self.began is not None:
            return self
        return dataclasses.replace(self, began=moment)

    def split(self, rows: list[T], key: Callable[[T], Cursor]) -> tuple[list[T], str]:
        """Rows fetched with one more than the page holds -> (this page, the token for the
        next one, or "" on the last page)."""
        if len(rows) <= self.size:
            return rows, ""
        page = rows[: self.size]
        began = self.began if self.listing.pinned else None
        return page, _encode(self.listing, self.fingerprint, key(page[-1]), began)


def issued_by(token: str) -> str:
    """The kind of listing a well-formed token names ("" for anything else): for an
    operation served by several listings, to pick the one a walk is on."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not _TOKEN.fullmatch(token):
        return ""
    try:
        fields = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        return ""
    if isinstance(fields, list) and fields and isinstance(fields[0], str):
        return fields[0]
    return ""


def _fingerprint(filters: Any) -> str:
    """A short digest of the filter values (strings stripped), stable across processes."""
    values = {
        name: value.strip() if isinstance(value, str) else value
        for name, value in sorted(dataclasses.asdict(filters).items())
    }
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()


def _micros(moment: datetime) -> int:
    # Time as whole microseconds since the epoch: exactly PostgreSQL's resolution, with
    # no time zone or format to parse back.
    return (moment - _EPOCH) // _MICROSECOND


def _encode(listing: Listing, fingerprint: str, cursor: Cursor, began: datetime | None) -> str:
    fields: list[Any] = [listing.kind, fingerprint, _micros(cursor[0]), cursor[1]]
    if began is not None:
        fields.append(_micros(began))
    raw = json.dumps(fields, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


_MALFORMED = "not a page token this listing issued; start again without page_token"
_OTHER_LISTING = "issued by another listing; start again without page_token"
_OTHER_FILTERS = "issued for other filters; start again without page_token"


def _refuse(description: str, reason: str) -> InvalidArgumentError:
    log.info("page_token refused: %s", reason)
    return InvalidArgumentError(
        "page_token is not valid for this request", [FieldViolation("page_token", description)]
    )


def _decode(
    listing: Listing, token: str, fingerprint: str
) -> tuple[Cursor | None, datetime | None]:
    """The key after which the page starts (None for the first page), and when a pinned
    listing's walk began (None if the token does not say: tokens of before it did)."""
    if not token:
        return None, None
    if len(token) > MAX_TOKEN_LENGTH or not _TOKEN.fullmatch(token):
        raise _refuse(_MALFORMED, "too long or not base64url")
    try:
        fields = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error) as exc:  # JSON and UTF-8 errors are ValueErrors
        raise _refuse(_MALFORMED, repr(exc)) from None
    if not (
        isinstance(fields, list)
        and len(fields) in (4, 5)
        and all(isinstance(f, str) for f in (fields[0], fields[1], fields[3]))
        and all(type(f) is int for f in (fields[2], *fields[4:]))
    ):
        raise _refuse(_MALFORMED, f"unexpected shape {fields!r:.200}")
    kind, issued_for, micros, row_id = fields[:4]
    if kind != listing.kind:
        raise _refuse(_OTHER_LISTING, f"{kind!r:.50} used on {listing.kind!r}")
    if issued_for != fingerprint:
        raise _refuse(_OTHER_FILTERS, "filter fingerprint differs")
    if len(fields) == 5 and not listing.pinned:
        raise _refuse(_MALFORMED, f"{listing.kind!r} is not pinned")
    try:
        cursor = _EPOCH + micros * _MICROSECOND, str(uuid.UUID(row_id))
        began = _EPOCH + fields[4] * _MICROSECOND if len(fields) == 5 else None
    except (ValueError, OverflowError) as exc:
        raise _refuse(_MALFORMED, repr(exc)) from None
    return cursor, began
