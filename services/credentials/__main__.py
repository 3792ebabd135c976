"""Credentials service: issues, serves, verifies and revokes Open Badges 3.0 credentials.
Run as `python -m services.credentials`."""

from __future__ import annotations

from upskill.credentials.v1 import credentials_service_pb2, credentials_service_pb2_grpc

from services.common import settings
from services.common.runtime import Servicer, ServiceRuntime, run
from services.credentials.api import CredentialsApi
from services.credentials.consumers import subscriptions
from services.credentials.issuer import Issuer
from services.credentials.keys import IssuerKey

PORT = 50054


async def build(runtime: ServiceRuntime) -> list[Servicer]:
    key = IssuerKey.from_setting(
        settings.required("CREDENTIALS_SIGNING_KEY", "an Ed25519 private key (PKCS#8 PEM or JWK)")
    )
    issuer = Issuer(key, settings.required("PUBLIC_BASE_URL", "e.g. https://upskill.example"))
    async with runtime.pool.acquire() as conn:
        await issuer.register_key(conn)
    runtime.consume(subscriptions(issuer))
    return [
        Servicer(
            credentials_service_pb2_grpc.add_CredentialsServiceServicer_to_server,
            CredentialsApi(runtime.pool, issuer),
            credentials_service_pb2.DESCRIPTOR.services_by_name["CredentialsService"].full_name,
        )
    ]


if __name__ == "__main__":
    run("credentials", PORT, build)
