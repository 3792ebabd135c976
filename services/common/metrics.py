"""The platform's own metrics, one place for their names and units.

Instruments come from the global meter provider that telemetry.setup_tracing installs
when something reads metrics (an OTLP endpoint); before that, or without a reader, they
are no-ops.
"""

from __future__ import annotations

import grpc
from opentelemetry import metrics

_meter = metrics.get_meter("upskill")

# The RPC semantic conventions' own server metric and attributes (semconv v1.45, where
# RPC is stable): rpc.system.name, rpc.method as the fully-qualified
# "package.Service/Method", rpc.response.status_code as the gRPC status name, and
# error.type on failures.
rpc_duration = _meter.create_histogram(
    "rpc.server.call.duration",
    unit="s",
    description="Measures the duration of inbound remote procedure calls",
)


# What the gRPC semantic conventions count as a server's failure (the span status is ERROR
# for these, as OpenTelemetry's gRPC instrumentation sets it); any other code is the
# caller's problem (bad input, no permission) and leaves the span status unset.
SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


def rpc_attributes(method: str, code: grpc.StatusCode) -> dict[str, str]:
    """The semconv attributes of one call of `method` ("/pkg.Service/Method") ending in
    `code`."""
    attributes = {
        "rpc.system.name": "grpc",
        "rpc.method": method.lstrip("/"),
        "rpc.response.status_code": code.name,
    }
    if code in SERVER_ERRORS:
        attributes["error.type"] = code.name
    return attributes


events_published = _meter.create_counter(
    "upskill.events.published", description="outbox rows published to JetStream, by subject"
)
outbox_lag = _meter.create_histogram(
    "upskill.outbox.lag",
    unit="s",
    description="from the state change's commit to the event's publication",
)
events_consumed = _meter.create_counter(
    "upskill.events.consumed", description="events handled, by consumer, type and outcome"
)
events_dead_lettered = _meter.create_counter(
    "upskill.events.dead_lettered", description="events sent to upskill.dlq.<consumer>"
)
outbox_parked = _meter.create_counter(
    "upskill.outbox.parked",
    description="outbox rows that kept failing to publish and were parked for an operator",
)
payments_returned = _meter.create_counter(
    "upskill.payments.returned",
    description=(
        "payments returned automatically because their enrollment could not take them "
        "(closed before the money arrived), by reason and outcome (requested, refunded, failed)"
    ),
)
