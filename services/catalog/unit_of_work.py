"""Save a program and stage its events in the outbox, in the caller's transaction."""

from __future__ import annotations

import asyncpg

from services.catalog import repository
from services.catalog.domain import Program
from services.catalog.messages import event_to_pb
from services.common import unit_of_work

SOURCE = "upskill.catalog"


async def commit(conn: asyncpg.Connection, program: Program, *, new: bool = False) -> None:
    await unit_of_work.commit(
        conn,
        program,
        save=repository.add_program if new else repository.save_program,
        message_of=event_to_pb,
        source=SOURCE,
        subject=program.id,
    )
