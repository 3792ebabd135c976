"""Stripe Connect in Stripe mode: the payments service (a real process) against the fake
Stripe through the real stripe-python client.

A provider gets one connected account and an onboarding link; its checkouts become
destination charges that keep the platform's fee (the ledger's own split); a refund
reverses the transfer and gives the fee back in proportion.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest
from upskill.payments.v1 import payments_pb2
from upskill.payments.v1 import payments_service_pb2 as pb

from services.common.auth import Role, mint_dev_token
from tests.integration.test_payments_service import (
    ADMIN,
    AUTH_SECRET,
    Payments,
    ledger_of,
    refunds_of,
    stripe_mode_payments,
)
from tests.integration.test_payments_stripe_refunds import ask, deliver_all
from tests.polling import eventually_async as eventually

pytestmark = pytest.mark.asyncio(loop_scope="session")

PROVIDER = "9b2f7c1e-1111-4a4a-9c9c-000000000001"  # the provider of checkout_request


def staff(provider_id: str) -> tuple[tuple[str, str], ...]:
    minted = mint_dev_token(
        AUTH_SECRET, role=Role.PROVIDER, subject="staff", provider_id=provider_id
    )
    return (("authorization", f"Bearer {minted}"),)


async def link(service: Payments, metadata: object = ADMIN) -> pb.CreatePayoutAccountLinkResponse:
    return await service.stub.CreatePayoutAccountLink(
        pb.CreatePayoutAccountLinkRequest(provider_id=PROVIDER), metadata=metadata, timeout=10
    )


async def test_destination_charges_pay_the_provider_and_refunds_reverse_them(
    fresh_database: str, nats_url: str, tmp_path: Path
) -> None:
    async with stripe_mode_payments(fresh_database, nats_url, tmp_path) as (service, fake):
        seen: set[str] = set()
        # Before onboarding: an ordinary charge, no fee asked of Stripe.
        plain = await service.checkout(str(uuid.uuid4()))
        assert plain.destination_account == ""
        assert "_payment_intent_data" in fake.sessions[plain.checkout_session_id]
        assert (
            fake.sessions[plain.checkout_session_id]["_payment_intent_data"].get("transfer_data")
            is None
        )

        first = await link(service)
        again = await link(service)
        assert first.account_id.startswith("acct_")
        assert again.account_id == first.account_id  # one account per provider
        assert list(fake.accounts) == [first.account_id]
        assert fake.accounts[first.account_id]["metadata"] == {"provider_id": PROVIDER}
        assert first.url.startswith(fake.api_base + "/setup/e/" + first.account_id)
        account_calls = [r for r in fake.requests if r.path == "/v1/accounts"]
        assert {r.headers["idempotency-key"] for r in account_calls} == {f"account-{PROVIDER}"}
        # Another provider's staff may not; the provider's own may.
        other = staff(str(uuid.uuid4()))
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await link(service, other)
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert (await link(service, staff(PROVIDER))).account_id == first.account_id
        fake.onboard(first.account_id)

        paid = await service.checkout(str(uuid.uuid4()))
        assert paid.destination_account == first.account_id
        assert paid.application_fee_minor == 490  # PLATFORM_FEE_BPS 1000 of 4900
        intent_data = fake.sessions[paid.checkout_session_id]["_payment_intent_data"]
        assert intent_data["application_fee_amount"] == "490"
        assert intent_data["transfer_data"] == {"destination": first.account_id}
        fake.complete_session(paid.checkout_session_id)
        await deliver_all(service, fake, seen)
        paid = await service.payment(paid.id)
        assert paid.status == payments_pb2.PAYMENT_STATUS_SUCCEEDED
        [transfer] = fake.transfers.values()
        assert (transfer["amount"], transfer["destination"]) == (4410, first.account_id)
        [fee] = fake.application_fees.values()
        assert (fee["amount"], fee["account"]) == (490, first.account_id)
        # The ledger's split is the one Stripe made.
        [(kind, gross, platform, net)] = await ledger_of(service, paid.id)
        assert (kind, gross, platform, net) == ("charge", 4900, 490, 4410)

        # A partial refund, then the rest: the transfer and the fee come back in step.
        await ask(service, paid, 1000, "part")

        async def booked(count: int) -> bool:
            await deliver_all(service, fake, seen)
            done = [
                r
                for r in await refunds_of(service, paid.enrollment_id)
                if r.status == payments_pb2.REFUND_STATUS_SUCCEEDED
            ]
            return len(done) == count

        await eventually(lambda: booked(1))
        await ask(service, paid)
        await eventually(lambda: booked(2))
        for made in fake.refunds.values():
            assert made["transfer_reversal"], made
        refund_calls = [r for r in fake.requests if r.path == "/v1/refunds"]
        assert {
            (r.params["reverse_transfer"], r.params["refund_application_fee"]) for r in refund_calls
        } == {("true", "true")}
        [transfer] = fake.transfers.values()
        assert transfer["amount_reversed"] == 4410
        assert transfer["reversed"] is True
        [fee] = fake.application_fees.values()
        assert fee["amount_refunded"] == 490
        lines = await ledger_of(service, paid.id)
        assert [sum(col) for col in zip(*(line[1:] for line in lines), strict=True)] == [
            0,
            0,
            0,
        ]
        assert (await service.payment(paid.id)).status == payments_pb2.PAYMENT_STATUS_REFUNDED
