"""Save a credential and stage its events in the outbox, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from services.common import unit_of_work
from services.common.outbox import Then
from services.credentials import repository
from services.credentials.domain import CredentialRecord
from services.credentials.messages import event_to_pb

SOURCE = "upskill.credentials"


async def commit_issued(
    conn: asyncpg.Connection, record: CredentialRecord, then: Then
) -> list[asyncpg.Record] | None:
    """Save a new program credential, stage its CredentialIssued and run `then`, all in one
    statement (the hot path: one round trip): None when it lost the race to another for the
    same enrollment, or its status index was taken (nothing written or staged), else the
    rows of `then.select`."""
    assert not record.pathway_id
    return await unit_of_work.commit_then(
        conn,
        record,
        statement=repository.add,
        then=then,
        message_of=event_to_pb,
        source=SOURCE,
        subject=record.id,
    )


async def commit(conn: asyncpg.Connection, record: CredentialRecord, *, new: bool = False) -> bool:
    """Save a pathway credential (`new`) or a revocation, and stage its events; False when a
    new one lost the race to another (then nothing is written or staged). A new program
    credential goes through commit_issued."""
    if new and not record.pathway_id:
        raise ValueError("a new program credential is saved with commit_issued")
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
