"""CloudEvents (binary mode over NATS headers) around protobuf event payloads.

ce-type is the protobuf full name; the subject is upskill.<service>.<snake_case name>.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from google.protobuf import symbol_database
from google.protobuf.message import DecodeError, Message
from upskill.catalog.v1 import events_pb2 as _catalog_events  # noqa: F401  (registers types)
from upskill.credentials.v1 import events_pb2 as _credentials_events  # noqa: F401
from upskill.enrollment.v1 import events_pb2 as _enrollment_events  # noqa: F401
from upskill.payments.v1 import events_pb2 as _payments_events  # noqa: F401

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/protobuf"


class UndecodableEventError(Exception):
    """The message can never be handled: bad headers, unknown type, or corrupt body."""


def service_of(message_type: type[Message] | Message) -> str:
    # upskill.<service>.v1.<Name>
    return message_type.DESCRIPTOR.full_name.split(".")[1]


def event_name(message_type: type[Message] | Message) -> str:
    return _snake(message_type.DESCRIPTOR.name)


def subject_for(message_type: type[Message] | Message) -> str:
    return _subject(message_type.DESCRIPTOR)


# Per event type, not per event: every outbox row names its subject (a regex substitution).
@lru_cache(maxsize=256)
def _subject(descriptor: Any) -> str:
    return f"upskill.{descriptor.full_name.split('.')[1]}.{_snake(descriptor.name)}"


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def stream_for(service: str) -> str:
    return service.upper()


@dataclass(frozen=True)
class Envelope:
    id: str
    type: str
    source: str
    subject: str
    time: str
    traceparent: str = ""
    tracestate: str = ""

    def headers(self) -> dict[str, str]:
        headers = {
            "ce-specversion": SPEC_VERSION,
            "ce-id": self.id,
            "ce-type": self.type,
            "ce-source": self.source,
            "ce-time": self.time,
            "ce-subject": self.subject,
            "content-type": CONTENT_TYPE,
            "Nats-Msg-Id": self.id,
        }
        if self.traceparent:
            headers["traceparent"] = self.traceparent
        if self.tracestate:
            headers["tracestate"] = self.tracestate
        return headers

    @property
    def trace_headers(self) -> dict[str, str]:
        found = {"traceparent": self.traceparent, "tracestate": self.tracestate}
        return {k: v for k, v in found.items() if v}


def new_envelope(message: Message, *, source: str, subject: str = "") -> Envelope:
    return Envelope(
        id=str(uuid.uuid4()),
        type=message.DESCRIPTOR.full_name,
        source=source,
        subject=subject,
        time=datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    )


def parse(headers: Mapping[str, str] | None, body: bytes) -> tuple[Envelope, Message]:
    """Envelope and decoded payload, or UndecodableEventError saying why not."""
    headers = headers or {}
    missing = [h for h in ("ce-id", "ce-type", "ce-source") if not headers.get(h)]
    if missing:
        raise UndecodableEventError(f"missing CloudEvents headers: {', '.join(missing)}")
    if headers.get("ce-specversion", SPEC_VERSION) != SPEC_VERSION:
        raise UndecodableEventError(f"unsupported ce-specversion {headers['ce-specversion']!r}")
    try:
        uuid.UUID(headers["ce-id"])
    except ValueError:
        raise UndecodableEventError(f"ce-id {headers['ce-id']!r} is not a UUID") from None
    try:
        cls = symbol_database.Default().GetSymbol(headers["ce-type"])
    except KeyError:
        raise UndecodableEventError(f"unknown event type {headers['ce-type']!r}") from None
    message = cls()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        raise UndecodableEventError(f"body is not a valid {headers['ce-type']}: {exc}") from None
    envelope = Envelope(
        id=headers["ce-id"],
        type=headers["ce-type"],
        source=headers["ce-source"],
        subject=headers.get("ce-subject", ""),
        time=headers.get("ce-time", ""),
        traceparent=headers.get("traceparent", ""),
        tracestate=headers.get("tracestate", ""),
    )
    return envelope, message
