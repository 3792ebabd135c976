"""The platform's own metrics, one place for their names and units.

Instruments come from the global meter provider that telemetry.setup_tracing installs;
before that (tests, tools) they are no-ops.
"""

from __future__ import annotations

from opentelemetry import metrics

_meter = metrics.get_meter("upskill")

rpc_duration = _meter.create_histogram(
    "upskill.rpc.server.duration", unit="s", description="gRPC handler time, by method and code"
)
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
payments_returned = _meter.create_counter(
    "upskill.payments.returned",
    description=(
        "payments returned automatically because their enrollment could not take them "
        "(closed before the money arrived), by reason and outcome (requested, refunded, failed)"
    ),
)
