"""Save a credential and stage its events in the outbox, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from services.common import unit_of_work
from services.credentials import repository
from services.credentials.domain import CredentialRecord
from services.credentials.messages import event_to_pb

SOURCE = "upskill.credentials"


async def commit(conn: asyncpg.Connection, record: CredentialRecord, *, new: bool = False) -> bool:
    """False when a new credential lost the race to another for the same enrollment, or its
    status index was taken (then nothing is written or staged)."""
    if new and not record.pathway_id:
        # The hot path: the insert and its CredentialIssued row are one statement.
        return await unit_of_work.commit(
            conn,
            record,
            statement=repository.add,
            message_of=event_to_pb,
            source=SOURCE,
            subject=record.id,
        )
    save: Callable[[asyncpg.Connection, CredentialRecord], Awaitable[bool | None]]
    save = repository.add_pathway if new else repository.revoke
    return await unit_of_work.commit(
        conn,
        record,
        save=save,
        message_of=event_to_pb,
        source=SOURCE,
        subject=record.id,
    )
