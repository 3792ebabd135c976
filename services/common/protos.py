"""Small conversions between protobuf well-known types and Python values."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    # What Timestamp.FromDatetime makes of the instant (whole seconds since the epoch, rounded
    # down, and the microseconds as nanos), without its calendar.timegm: a third of its cost.
    since = value.astimezone(UTC) - _EPOCH
    return Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1000)


def to_datetime(value: Timestamp) -> datetime:
    return value.ToDatetime(tzinfo=UTC)
