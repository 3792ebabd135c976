"""Opaque keyset page tokens, shared so every List RPC pages the same way."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from services.common.errors import FieldViolation, InvalidArgumentError

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def page_size(requested: int) -> int:
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def encode_token(created_at: datetime, row_id: str) -> str:
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str) -> tuple[datetime, str] | None:
    """The (created_at, id) after which the next page starts; None for the first page."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        created_at, row_id = json.loads(raw)
        return datetime.fromisoformat(created_at), str(row_id)
    except (ValueError, TypeError) as exc:
        raise InvalidArgumentError(
            "page_token is not one this service issued",
            [FieldViolation("page_token", f"malformed: {exc.__class__.__name__}")],
        ) from None


def split_page(
    rows: list[T], limit: int, cursor: Callable[[T], tuple[datetime, str]]
) -> tuple[list[T], str]:
    """Rows fetched with LIMIT limit+1 -> (this page, token for the next or "")."""
    if len(rows) <= limit:
        return rows, ""
    page = rows[:limit]
    return page, encode_token(*cursor(page[-1]))
