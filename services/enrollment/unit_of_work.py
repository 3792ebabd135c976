"""Save an enrollment and stage its events in the outbox, in the caller's transaction."""

from __future__ import annotations

import asyncpg

from services.common.outbox import enqueue
from services.enrollment import repository
from services.enrollment.domain import Enrollment
from services.enrollment.messages import event_to_pb

SOURCE = "upskill.enrollment"


async def commit(conn: asyncpg.Connection, enrollment: Enrollment, *, new: bool = False) -> None:
    if new:
        await repository.add(conn, enrollment)
    else:
        await repository.save(conn, enrollment)
    for event in enrollment.pull_events():
        await enqueue(conn, event_to_pb(enrollment, event), source=SOURCE, subject=enrollment.id)
