"""Credentials service: issues, serves, verifies and revokes Open Badges 3.0 credentials.
Run as `python -m services.credentials`."""

from __future__ import annotations

from upskill.credentials.v1 import credentials_service_pb2, credentials_service_pb2_grpc

from services.common import settings
from services.common.runtime import Servicer, ServiceRuntime, run
from services.credentials.api import CredentialsApi
from services.credentials.consumers import subscriptions
from services.credentials.issuer import Issuer, NoSigningKeyError
from services.credentials.keys import ALG_SETTING, SETTING, IssuerKey, check_signing_policy
from services.credentials.pathway_consumers import subscriptions as pathway_subscriptions

PORT = 50054


async def build(runtime: ServiceRuntime) -> list[Servicer]:
    keys = IssuerKey.all_from_setting(
        settings.required(SETTING, "an EC P-256 private key (PKCS#8 PEM or JWK): `upskill keygen`")
    )
    check_signing_policy(keys, settings.optional(ALG_SETTING))
    issuer = Issuer(keys, settings.required("PUBLIC_BASE_URL", "e.g. https://upskill.example"))
    async with runtime.pool.acquire() as conn:
        try:
            await issuer.register_key(conn)
        except NoSigningKeyError as exc:
            raise ValueError(str(exc)) from exc  # a configuration error: fail start-up
    runtime.consume(subscriptions(issuer) + pathway_subscriptions(issuer))
    return [
        Servicer(
            credentials_service_pb2_grpc.add_CredentialsServiceServicer_to_server,
            CredentialsApi(runtime.pool, issuer),
            credentials_service_pb2.DESCRIPTOR.services_by_name["CredentialsService"].full_name,
        )
    ]


if __name__ == "__main__":
    run("credentials", PORT, build)
