"""CloudEvents envelopes: subjects from protobuf names, and undecodable input rejected."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from hypothesis import given
from hypothesis import strategies as st
from upskill.payments.v1 import events_pb2

from services.common import events
from services.common.protos import timestamp


def test_subject_and_stream_follow_the_design() -> None:
    assert events.subject_for(events_pb2.PaymentSucceeded) == "upskill.payments.payment_succeeded"
    assert events.stream_for("payments") == "PAYMENTS"


def test_a_message_and_its_type_have_the_same_subject() -> None:
    message = events_pb2.PaymentSucceeded(payment_id="p")
    assert events.subject_for(message) == events.subject_for(events_pb2.PaymentSucceeded)
    assert events.event_name(message) == "payment_succeeded"


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3, minutes=-30))]),
    )
)
def test_timestamps_are_what_from_datetime_makes(value: datetime) -> None:
    expected = Timestamp()
    expected.FromDatetime(value.astimezone(UTC))
    assert timestamp(value) == expected


def test_round_trip_through_headers() -> None:
    message = events_pb2.PaymentSucceeded(payment_id="p", enrollment_id="e")
    envelope = events.new_envelope(message, source="upskill.payments", subject="e")
    headers = envelope.headers()
    assert headers["Nats-Msg-Id"] == headers["ce-id"] == envelope.id
    assert headers["ce-type"] == "upskill.payments.v1.PaymentSucceeded"
    parsed, decoded = events.parse(headers, message.SerializeToString())
    assert parsed.id == envelope.id
    assert decoded == message


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "missing CloudEvents headers"),
        (
            {"ce-id": "x", "ce-type": "upskill.payments.v1.PaymentSucceeded", "ce-source": "s"},
            "not a UUID",
        ),
        (
            {"ce-id": str(uuid.uuid4()), "ce-type": "nope.Nope", "ce-source": "s"},
            "unknown event type",
        ),
    ],
)
def test_bad_headers_are_undecodable(headers: dict[str, str], reason: str) -> None:
    with pytest.raises(events.UndecodableEventError, match=reason):
        events.parse(headers, b"")


@given(st.binary(min_size=1, max_size=64))
def test_garbage_bodies_never_escape_as_other_errors(body: bytes) -> None:
    headers = {
        "ce-id": str(uuid.uuid4()),
        "ce-type": "upskill.payments.v1.PaymentSucceeded",
        "ce-source": "test",
    }
    try:
        _, decoded = events.parse(headers, body)
    except events.UndecodableEventError as exc:
        assert "not a valid" in str(exc)  # noqa: PT017  (hypothesis decides which branch)
    else:
        assert isinstance(decoded, events_pb2.PaymentSucceeded)
