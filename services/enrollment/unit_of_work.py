"""Save an enrollment and stage its events in the outbox, in the caller's transaction."""

from __future__ import annotations

import asyncpg

from services.common import unit_of_work
from services.enrollment import repository
from services.enrollment.domain import Enrollment
from services.enrollment.messages import event_to_pb

SOURCE = "upskill.enrollment"


async def commit(
    conn: asyncpg.Connection,
    enrollment: Enrollment,
    *,
    new: bool = False,
    capacity: int | None = None,
) -> None:
    """Save (insert when `new`) and stage its events. A new enrollment with a `capacity`
    is inserted only if its program has a seat left (repository.add_within_capacity: call
    repository.lock_seats first, in the same transaction)."""

    async def add_within_capacity(conn: asyncpg.Connection, e: Enrollment) -> None:
        assert capacity is not None
        await repository.add_within_capacity(conn, e, capacity)

    if not new:
        # An update and its events' outbox rows are one statement (repository.save).
        saved = await unit_of_work.commit(
            conn,
            enrollment,
            statement=repository.save,
            message_of=event_to_pb,
            source=SOURCE,
            subject=enrollment.id,
        )
        if not saved:  # the caller read the enrollment in this transaction
            raise RuntimeError(f"enrollment {enrollment.id} was not saved: no such row")
        return
    save = repository.add if capacity is None else add_within_capacity
    await unit_of_work.commit(
        conn,
        enrollment,
        save=save,
        message_of=event_to_pb,
        source=SOURCE,
        subject=enrollment.id,
    )
