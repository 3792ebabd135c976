"""Save an enrollment and stage its events in the outbox, in the caller's transaction."""

from __future__ import annotations

import asyncpg

from services.common import unit_of_work
from services.enrollment import repository
from services.enrollment.domain import Enrollment
from services.enrollment.messages import event_to_pb

SOURCE = "upskill.enrollment"


async def commit(conn: asyncpg.Connection, enrollment: Enrollment, *, new: bool = False) -> None:
    await unit_of_work.commit(
        conn,
        enrollment,
        save=repository.add if new else repository.save,
        message_of=event_to_pb,
        source=SOURCE,
        subject=enrollment.id,
    )
