"""Learner profiles: the display name a learner chose to show on their credentials' pages,
and their consent to showing it. The signed credentials never change: the name is looked
up when a credential is served, so withdrawing consent hides it everywhere at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.common.errors import FieldViolation, InvalidArgumentError
from services.common.text import REFUSED_TEXT_MESSAGE, is_clean

MAX_DISPLAY_NAME = 100


@dataclass(frozen=True)
class Profile:
    learner_id: str
    display_name: str
    show_name: bool
    updated_at: datetime | None

    @property
    def shown_name(self) -> str:
        """The name a credential page may show: '' without consent."""
        return self.display_name if self.show_name else ""


def clean_display_name(value: str) -> str:
    """A single line of at most MAX_DISPLAY_NAME characters, surrounding spaces trimmed."""
    name = " ".join(value.split())
    if not is_clean(value) or "\n" in value or "\r" in value or "\t" in value:
        raise InvalidArgumentError(
            "invalid display name",
            [FieldViolation("display_name", f"{REFUSED_TEXT_MESSAGE} or line breaks")],
        )
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidArgumentError(
            "invalid display name",
            [FieldViolation("display_name", f"at most {MAX_DISPLAY_NAME} characters")],
        )
    return name


async def get(conn: asyncpg.Connection, learner_id: str) -> Profile:
    row = await conn.fetchrow(
        "SELECT display_name, show_name, updated_at FROM learner_profiles WHERE learner_id = $1",
        learner_id,
    )
    if row is None:
        return Profile(learner_id, "", False, None)
    return Profile(learner_id, row["display_name"], row["show_name"], row["updated_at"])


async def save(
    conn: asyncpg.Connection, learner_id: str, display_name: str, show_name: bool
) -> Profile:
    row = await conn.fetchrow(
        """INSERT INTO learner_profiles (learner_id, display_name, show_name, updated_at)
           VALUES ($1, $2, $3, now())
           ON CONFLICT (learner_id) DO UPDATE
               SET display_name = EXCLUDED.display_name, show_name = EXCLUDED.show_name,
                   updated_at = EXCLUDED.updated_at
           RETURNING updated_at""",
        learner_id,
        display_name,
        show_name,
    )
    return Profile(learner_id, display_name, show_name, row["updated_at"])
