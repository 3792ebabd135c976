"""Save a credential and stage its events in the outbox, in the caller's transaction."""

from __future__ import annotations

import asyncpg

from services.common import unit_of_work
from services.credentials import repository
from services.credentials.domain import CredentialRecord
from services.credentials.messages import event_to_pb

SOURCE = "upskill.credentials"


async def commit(conn: asyncpg.Connection, record: CredentialRecord, *, new: bool = False) -> bool:
    """False when a new credential lost the race to another for the same enrollment (then
    nothing is written or staged)."""
    return await unit_of_work.commit(
        conn,
        record,
        save=repository.add if new else repository.revoke,
        message_of=event_to_pb,
        source=SOURCE,
        subject=record.id,
    )
