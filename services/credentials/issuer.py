"""Issuing, verifying and revoking credentials: the credentials service's use cases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
from upskill.catalog.v1 import catalog_pb2
from upskill.credentials.v1 import events_pb2
from upskill.enrollment.v1 import enrollment_pb2

from services.common.outbox import enqueue
from services.common.protos import timestamp
from services.credentials import repository
from services.credentials.badges import Issuance, build_credential, issuer_id, sign_credential
from services.credentials.keys import IssuerKey
from services.credentials.repository import CredentialRecord
from services.credentials.status_list import (
    StatusBits,
    build_status_list_credential,
    encode_list,
    revocation_entry,
)
from services.credentials.verification import Verification, apply_revocation, verify_jwt

SOURCE = "upskill.credentials"


def earns_credential_on(snapshot: enrollment_pb2.ProgramSnapshot, event: str) -> bool:
    """The issuance policy: ON_PAYMENT programs issue on activation, all others on completion."""
    on_payment = snapshot.credential.issuance == catalog_pb2.ISSUANCE_POLICY_ON_PAYMENT
    return event == ("activated" if on_payment else "completed")


class Issuer:
    def __init__(self, key: IssuerKey, base_url: str) -> None:
        self.key = key
        self.base_url = base_url.rstrip("/")

    def status_list_url(self, list_id: str) -> str:
        return f"{self.base_url}/status-lists/{list_id}"

    async def register_key(self, conn: asyncpg.Connection) -> None:
        await repository.register_key(conn, self.key.kid, self.key.public_jwk())

    async def issue(
        self,
        conn: asyncpg.Connection,
        *,
        enrollment_id: str,
        learner_id: str,
        learner_email: str,
        snapshot: enrollment_pb2.ProgramSnapshot,
    ) -> CredentialRecord | None:
        """Issue the enrollment's one credential, in the caller's transaction; None if it
        already has one, or its payment came back before it was earned (withdraw)."""
        if await repository.exists_for_enrollment(conn, enrollment_id):
            return None
        if await repository.is_withdrawn(conn, enrollment_id):
            return None
        list_id, index = await repository.allocate_status_index(conn)
        # Full precision: the credentials listing pages by (issued_at, id), and whole
        # seconds would order same-second credentials by their random ids, so one issued
        # while a client walks the pages could show up behind its cursor. The credential
        # itself states whole seconds (badges.build_credential truncates validFrom).
        issued_at = datetime.now(UTC)
        template = snapshot.credential
        credential_id = str(uuid.uuid4())
        credential = build_credential(
            Issuance(
                credential_id=credential_id,
                learner_id=learner_id,
                learner_email=learner_email or None,
                provider_id=snapshot.provider_id,
                provider_name=snapshot.provider_name,
                program_id=snapshot.program_id,
                achievement_name=template.name,
                achievement_description=template.description,
                criteria=template.criteria,
                issued_at=issued_at,
                valid_for_days=template.valid_for_days
                if template.HasField("valid_for_days")
                else None,
                status_list_url=self.status_list_url(list_id),
                status_index=index,
                base_url=self.base_url,
                skills=list(snapshot.skills),
            )
        )
        record = CredentialRecord(
            id=credential_id,
            enrollment_id=enrollment_id,
            program_id=snapshot.program_id,
            provider_id=snapshot.provider_id,
            learner_id=learner_id,
            achievement_name=template.name,
            status="ISSUED",
            jwt=sign_credential(credential, self.key),
            kid=self.key.kid,
            status_list_id=list_id,
            status_index=index,
            issued_at=issued_at,
        )
        if not await repository.add(conn, record):
            return None
        await enqueue(
            conn,
            events_pb2.CredentialIssued(
                credential_id=record.id,
                enrollment_id=enrollment_id,
                learner_id=learner_id,
                program_id=snapshot.program_id,
                occur_time=timestamp(issued_at),
            ),
            source=SOURCE,
            subject=record.id,
        )
        return record

    async def revoke(self, conn: asyncpg.Connection, record: CredentialRecord, reason: str) -> bool:
        """Revoke in the caller's transaction; False when it already was."""
        if record.status == "REVOKED":
            return False
        record.status = "REVOKED"
        record.revoked_at = datetime.now(UTC)
        record.revocation_reason = reason
        await repository.revoke(conn, record)
        await enqueue(
            conn,
            events_pb2.CredentialRevoked(
                credential_id=record.id,
                enrollment_id=record.enrollment_id,
                reason=reason,
                occur_time=timestamp(record.revoked_at),
            ),
            source=SOURCE,
            subject=record.id,
        )
        return True

    async def withdraw(self, conn: asyncpg.Connection, enrollment_id: str, reason: str) -> bool:
        """The enrollment's payment came back: revoke its credential, and remember, so one
        that was not issued yet never is (in the caller's transaction). True when a
        credential was revoked now."""
        await repository.withdraw_enrollment(conn, enrollment_id, reason)
        record = await repository.find_for_enrollment(conn, enrollment_id, for_update=True)
        if record is None:
            return False
        return await self.revoke(conn, record, reason)

    async def verify(self, conn: asyncpg.Connection, token: str) -> Verification:
        verdict = verify_jwt(token, await repository.public_keys(conn), datetime.now(UTC))
        if verdict.credential is None:
            return verdict
        return apply_revocation(verdict, await self._revoked(conn, verdict.credential))

    async def _revoked(self, conn: asyncpg.Connection, credential: dict[str, Any]) -> bool | None:
        """Read the credential's revocation bit; None (fail closed) when it cannot be read."""
        try:
            entry = revocation_entry(credential)
        except ValueError:
            return None
        if entry is None:
            return False
        prefix = f"{self.base_url}/status-lists/"
        if not entry.list_url.startswith(prefix):
            return None  # a list this service does not hold
        return await repository.is_revoked(conn, entry.list_url.removeprefix(prefix), entry.index)

    async def status_list(
        self, conn: asyncpg.Connection, list_id: str
    ) -> tuple[str, dict[str, Any]] | None:
        """The signed BitstringStatusListCredential (JWT, decoded), or None if unknown."""
        found = await repository.revoked_indexes(conn, list_id)
        if found is None:
            return None
        size, revoked = found
        bits = StatusBits(size)
        for index in revoked:
            bits.set(index)
        url = self.status_list_url(list_id)
        credential = build_status_list_credential(
            url,
            {"id": issuer_id(self.base_url, "platform"), "type": ["Profile"], "name": "Upskill"},
            encode_list(bits),
            datetime.now(UTC),
        )
        return sign_credential(credential, self.key), credential
