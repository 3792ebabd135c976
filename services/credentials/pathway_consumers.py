"""The catalog's pathway events, as the credentials service consumes them (the rules are
in services/credentials/pathways.py)."""

from __future__ import annotations

import uuid

import asyncpg
from google.protobuf.message import Message
from upskill.catalog.v1 import events_pb2 as catalog_events

from services.common.consumer import ContractViolationError, Subscription
from services.common.events import Envelope
from services.credentials import pathways
from services.credentials.issuer import Issuer


def _uuid(value: str, what: str) -> None:
    try:
        uuid.UUID(value)
    except ValueError:
        raise ContractViolationError(f"{what} is not an id: {value!r:.80}") from None


def subscriptions(issuer: Issuer) -> list[Subscription]:
    async def on_published(conn: asyncpg.Connection, event: Message, _: Envelope) -> None:
        assert isinstance(event, catalog_events.PathwayPublished)
        pathway = event.pathway
        _uuid(pathway.id, "PathwayPublished pathway.id")
        _uuid(pathway.provider_id, "PathwayPublished pathway.provider_id")
        for program_id in pathway.spec.program_ids:
            _uuid(program_id, "PathwayPublished program id")
        spec = pathway.spec
        if len(spec.program_ids) < 2 or spec.required_count > len(spec.program_ids):
            raise ContractViolationError("PathwayPublished names too few programs")
        if not spec.achievement.name or pathway.version < 1:
            raise ContractViolationError("PathwayPublished lacks its achievement or version")
        await pathways.apply_published(conn, issuer, pathway)

    async def on_archived(conn: asyncpg.Connection, event: Message, _: Envelope) -> None:
        assert isinstance(event, catalog_events.PathwayArchived)
        _uuid(event.pathway_id, "PathwayArchived pathway_id")
        _uuid(event.provider_id, "PathwayArchived provider_id")
        if event.version < 1:
            raise ContractViolationError("PathwayArchived lacks its version")
        await pathways.apply_archived(conn, event.pathway_id, event.provider_id, event.version)

    return [
        Subscription(catalog_events.PathwayPublished, on_published),
        Subscription(catalog_events.PathwayArchived, on_archived),
    ]
