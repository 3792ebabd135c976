"""Save an enrollment and stage its events in the outbox, in the caller's transaction."""

from __future__ import annotations

import asyncpg

from services.common import unit_of_work
from services.common.consumer import Inbox
from services.enrollment import repository
from services.enrollment.domain import Enrollment
from services.enrollment.messages import event_to_pb

SOURCE = "upskill.enrollment"


async def commit(
    conn: asyncpg.Connection,
    enrollment: Enrollment,
    *,
    new: bool = False,
    seat: repository.PackSeat | None = None,
) -> None:
    """Save (insert when `new`: one that takes no seat of its program, a sponsored one in
    its pack's `seat`) and stage its events, in the caller's transaction."""
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
    await unit_of_work.commit(
        conn,
        enrollment,
        save=lambda c, e: repository.add(c, e, seat),
        message_of=event_to_pb,
        source=SOURCE,
        subject=enrollment.id,
    )


async def commit_consumed(
    conn: asyncpg.Connection, enrollment: Enrollment, as_read: Enrollment, inbox: Inbox
) -> bool:
    """A consumed event's effect decided on an unlocked read (`as_read`, the enrollment as
    read before the event changed it into `enrollment`): the inbox row, the save and its
    events' outbox rows in one statement, run on its own (its implicit transaction commits
    all or nothing: repository.consumed_as_read). False when it wrote nothing (the
    enrollment is no longer as read, or another delivery has the inbox row): the caller
    decides again under the lock."""
    rows = await unit_of_work.commit_then(
        conn,
        enrollment,
        statement=lambda e: repository.save(e, consumed=True),
        then=repository.consumed_as_read(as_read, inbox),
        message_of=event_to_pb,
        source=SOURCE,
        subject=enrollment.id,
        standalone=True,
    )
    return rows is not None


async def take_seat(conn: asyncpg.Connection, enrollment: Enrollment, capacity: int | None) -> None:
    """Insert a bought enrollment in a seat of its program and stage its events: the seat
    lock, the count against `capacity` (None: none), the insert and the outbox rows are one
    statement (repository.add_in_seat), so the lock is held only while PostgreSQL runs and
    commits it. Outside a transaction the statement is its own; in one, the lock lasts until
    the caller commits. Refuses a full program (ResourceExhaustedError) and a learner's
    second live enrollment in it (AlreadyExistsError), writing nothing."""
    try:
        saved = await unit_of_work.commit(
            conn,
            enrollment,
            statement=lambda e: repository.add_in_seat(e, capacity),
            message_of=event_to_pb,
            source=SOURCE,
            subject=enrollment.id,
            standalone=True,
        )
    except asyncpg.UniqueViolationError as exc:
        raise repository.one_live(exc, enrollment.program_id) from None
    if not saved:
        assert capacity is not None  # without a capacity the insert always writes
        raise repository.sold_out(enrollment.program_id, capacity, capacity)
