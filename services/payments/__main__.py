"""Payments service: checkouts, gateway webhooks, the payouts ledger.

Run as `python -m services.payments`. PAYMENTS_PROVIDER picks the gateway at start-up:
`local` (default) plays Stripe in-process, with its own webhook delivery and expiry;
`stripe` talks to Stripe (or STRIPE_API_BASE) and Stripe sends the webhooks.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from upskill.payments.v1 import payments_service_pb2, payments_service_pb2_grpc

from services.common.runtime import Servicer, ServiceRuntime, run_service, serve
from services.common.settings import exit_on_config_error
from services.payments.api import PaymentsApi
from services.payments.checkout import CheckoutOpener
from services.payments.closing import CheckoutCloser
from services.payments.consumers import SUBSCRIPTIONS
from services.payments.delivery import WebhookDeliveryWorker
from services.payments.expiry import ExpirySweeper, Sweep, sweep_interval
from services.payments.gateways import CheckoutGateway
from services.payments.local_gateway import LocalGateway
from services.payments.refunds import Refunder
from services.payments.retention import PaymentsRetention
from services.payments.settings import LOCAL, PaymentsSettings
from services.payments.stripe_gateway import StripeGateway
from services.payments.webhooks import WebhookHandler

PORT = 50053
# How often the checkout closer and the refunder look for work: closing a cancelled
# enrollment's checkout promptly narrows the window in which it can still be paid.
FOLLOW_UP_POLL_SECONDS = 0.5

log = logging.getLogger(__name__)


async def build(
    runtime: ServiceRuntime,
    settings: PaymentsSettings | None = None,
    retention: PaymentsRetention | None = None,
) -> list[Servicer]:
    settings = settings or PaymentsSettings.from_env()
    runtime.pruner.add(*(retention or PaymentsRetention.from_env()).jobs())
    local: LocalGateway | None = None
    gateway: CheckoutGateway
    if settings.provider == LOCAL:
        delivery = WebhookDeliveryWorker(
            runtime.relay_pool,
            runtime.settings.database_url,
            settings.local_webhook_url,
            settings.webhook_secret,
        )
        # The webhooks this process queues wake its own worker (services/common/wakeup.py),
        # or go to it at once once committed (its fast path, delivery.py).
        runtime.wakes.add(delivery.worker, delivery)
        local = gateway = LocalGateway(runtime.pool, settings.public_base_url)
        runtime.run_in_background(delivery.run())
    else:
        gateway = StripeGateway(settings.stripe_api_key, settings.stripe_api_base)
    opener = CheckoutOpener(
        runtime.pool,
        gateway,
        ttl_seconds=settings.effective_ttl_seconds,
        public_base_url=settings.public_base_url,
        fee_bps=settings.platform_fee_bps,
    )
    sweeps: list[Sweep] = [opener.expire_unopened]
    if local is not None:
        sweeps.append(local.expire_due)
    runtime.run_in_background(
        ExpirySweeper(sweeps, sweep_interval(settings.effective_ttl_seconds)).run()
    )
    # Closed enrollments' checkouts are expired, and payments they rejected returned.
    runtime.consume(SUBSCRIPTIONS)
    closer, refunder = CheckoutCloser(runtime.pool, gateway), Refunder(runtime.pool, gateway)
    follow_up = ExpirySweeper([closer.close_due, refunder.refund_due], FOLLOW_UP_POLL_SECONDS)
    runtime.run_in_background(follow_up.run())
    log.info(
        "payments gateway: %s (checkout TTL %ss, platform fee %s bps)",
        gateway.name,
        settings.effective_ttl_seconds,
        settings.platform_fee_bps,
    )
    api = PaymentsApi(
        runtime.pool,
        opener,
        WebhookHandler(runtime.pool, settings.webhook_secret, settings.platform_fee_bps),
        local,
        earnings_hold=timedelta(days=settings.refund_window_days),
        gateway=gateway,
        public_base_url=settings.public_base_url,
        wake_refunder=follow_up.wake,
    )
    return [
        Servicer(
            payments_service_pb2_grpc.add_PaymentsServiceServicer_to_server,
            api,
            payments_service_pb2.DESCRIPTOR.services_by_name["PaymentsService"].full_name,
        )
    ]


def main() -> None:
    # Read (and check) our own settings before connecting to anything: a missing
    # STRIPE_WEBHOOK_SECRET should fail in a millisecond, not after the database is up.
    with exit_on_config_error("payments"):
        settings = PaymentsSettings.from_env()
        retention = PaymentsRetention.from_env()
        run_service(serve("payments", PORT, lambda runtime: build(runtime, settings, retention)))


if __name__ == "__main__":
    main()
