"""Catalog domain events -> the protobuf integration events other services consume."""

from __future__ import annotations

from google.protobuf.message import Message
from upskill.catalog.v1 import events_pb2

from services.catalog.convert import program_to_pb
from services.catalog.domain import Archived, Program, ProgramEvent, Published
from services.common.protos import timestamp


def event_to_pb(program: Program, event: ProgramEvent) -> Message:
    now = timestamp(program.updated_at)
    match event:
        case Published():
            return events_pb2.ProgramPublished(program=program_to_pb(program), occur_time=now)
        case Archived():
            return events_pb2.ProgramArchived(
                program_id=program.id, provider_id=program.provider_id, occur_time=now
            )
    raise TypeError(f"unknown domain event {event!r}")
