"""Issuing, verifying and revoking credentials: the credentials service's use cases."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
from upskill.enrollment.v1 import enrollment_pb2

from services.credentials import domain, pathways, repository, unit_of_work
from services.credentials.badges import (
    VC_JWT_TYP,
    Issuance,
    issue_payload,
    issuer_id,
    key_url,
    sign_credential,
    sign_payload,
)
from services.credentials.domain import CredentialRecord
from services.credentials.keys import IssuerKey
from services.credentials.messages import policy_of
from services.credentials.status_list import (
    StatusBits,
    build_status_list_credential,
    encode_list,
    revocation_entry,
)
from services.credentials.verification import Verification, apply_revocation, verify_jwt


def earns_credential_on(snapshot: enrollment_pb2.ProgramSnapshot, event: str) -> bool:
    """Whether `event` ("activated", "completed") earns the snapshot's credential: the rule
    is domain.earns_credential_on, applied to the policy the snapshot carries."""
    return domain.earns_credential_on(policy_of(snapshot), event)


class NoSigningKeyError(RuntimeError):
    """None of the keys this process holds may sign now (all withdrawn, or not yet due)."""


class Issuer:
    def __init__(self, keys: IssuerKey | Sequence[IssuerKey], base_url: str) -> None:
        self.keys = [keys] if isinstance(keys, IssuerKey) else list(keys)
        if not self.keys:
            raise ValueError("an issuer needs at least one signing key")
        self.base_url = base_url.rstrip("/")

    def status_list_url(self, list_id: str) -> str:
        return f"{self.base_url}/status-lists/{list_id}"

    def key_url(self, kid: str) -> str:
        return key_url(self.base_url, kid)

    async def register_key(self, conn: asyncpg.Connection) -> None:
        """Publish every key this process holds (a key already published keeps its schedule);
        NoSigningKeyError when none of them may sign now (all withdrawn, or all scheduled
        for later), so start-up fails loudly instead of every issuance failing later."""
        for key in self.keys:
            await repository.register_key(conn, key.kid, key.alg, key.public_jwk())
        withdrawn = set(await repository.withdrawn_kids(conn))
        if all(key.kid in withdrawn for key in self.keys):
            raise NoSigningKeyError(
                "every key in CREDENTIALS_SIGNING_KEY is withdrawn: add a new one "
                "(`upskill keygen`)"
            )
        if await repository.active_signer(conn, [k.kid for k in self.keys]) is None:
            raise NoSigningKeyError(
                "no key in CREDENTIALS_SIGNING_KEY may sign yet (each is scheduled for later): "
                "keep the current key in the setting until the new one's moment"
            )

    async def signer(self, conn: asyncpg.Connection, now: datetime | None = None) -> IssuerKey:
        """The key that signs at ``now`` (default: the database's now, the clock that wrote
        the schedule): the held key whose scheduled moment came last."""
        return self._held(await repository.active_signer(conn, [k.kid for k in self.keys], now))

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
        prepared = await repository.prepare_issuance(
            conn,
            enrollment_id,
            snapshot.provider_id,
            [k.kid for k in self.keys],
            gate_lock=pathways.PATHWAY_GATE_LOCK,
        )
        if not domain.may_issue(already_issued=prepared.issued, withdrawn=prepared.withdrawn):
            return None
        if prepared.list_id is None:  # no open list is free: open one, or wait for one
            list_id, size, index = await repository.allocate_in_list(
                conn, snapshot.provider_id, snapshot.provider_name
            )
        else:
            list_id, size = prepared.list_id, prepared.list_size
            if prepared.status_index is not None:
                index = prepared.status_index
            else:  # every first draw was taken: draw on, under the list's lock
                index = await repository.draw_free_index(conn, list_id, size)
        key = self._held(prepared.kid)
        for _ in range(3):
            record = self._program_credential(
                key, enrollment_id, learner_id, learner_email, snapshot, list_id, index
            )
            # The save also reads the open pathways naming the program (and then takes the
            # learner's lock): a new credential may complete one (in this transaction: once,
            # or never). prepare_issuance took the pathway gate, a statement before.
            naming = await unit_of_work.commit_issued(
                conn, record, pathways.pathways_naming(record)
            )
            if naming is not None:
                await pathways.after_issue(conn, self, record, naming)
                return record
            if await repository.has_credential(conn, enrollment_id):
                return None  # lost the race to another delivery for the same enrollment
            # The index was taken by a credential committed after prepare_issuance's
            # snapshot, before it locked the list (it could not see it): draw again.
            index = await repository.draw_free_index(conn, list_id, size)
        raise RuntimeError("could not allocate a status-list index")

    def _held(self, kid: str | None) -> IssuerKey:
        for key in self.keys:
            if key.kid == kid:
                return key
        raise NoSigningKeyError("no key in CREDENTIALS_SIGNING_KEY may sign now")

    def _program_credential(
        self,
        key: IssuerKey,
        enrollment_id: str,
        learner_id: str,
        learner_email: str,
        snapshot: enrollment_pb2.ProgramSnapshot,
        list_id: str,
        index: int,
    ) -> CredentialRecord:
        # Full precision: the credentials listing pages by (issued_at, id), and whole
        # seconds would order same-second credentials by their random ids, so one issued
        # while a client walks the pages could show up behind its cursor. The credential
        # itself states whole seconds (badges.build_credential truncates validFrom).
        issued_at = datetime.now(UTC)
        template = snapshot.credential
        credential_id = str(uuid.uuid4())
        valid_for_days = template.valid_for_days if template.HasField("valid_for_days") else None
        # The credential's JWT payload, as build_credential and jwt_claims make it, from
        # the JSON that the program's credentials share (badges.issue_payload).
        payload, valid_until = issue_payload(
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
                valid_for_days=valid_for_days,
                status_list_url=self.status_list_url(list_id),
                status_index=index,
                base_url=self.base_url,
                skills=tuple(snapshot.skills),
            )
        )
        return CredentialRecord.issue(
            id=credential_id,
            enrollment_id=enrollment_id,
            program_id=snapshot.program_id,
            provider_id=snapshot.provider_id,
            learner_id=learner_id,
            achievement_name=template.name,
            jwt=sign_payload(payload, key, self.base_url),
            kid=key.kid,
            status_list_id=list_id,
            status_index=index,
            issued_at=issued_at,
            valid_until=valid_until,
        )

    async def revoke(
        self,
        conn: asyncpg.Connection,
        record: CredentialRecord,
        reason: str,
        *,
        by_component: bool = False,
    ) -> bool:
        """Revoke in the caller's transaction; False when it already was. Pathway
        credentials standing on this one go too (`by_component` marks that cascade)."""
        if not record.revoke(reason):
            return False
        await unit_of_work.commit(conn, record)
        await pathways.after_revoke(conn, self, record, by_component=by_component)
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
        return (await self.verify_many(conn, [token]))[0]

    async def verify_many(
        self, conn: asyncpg.Connection, tokens: Sequence[str]
    ) -> list[Verification]:
        """Verify each token (signature, validity window, revocation), reading the keys once:
        one presented credential, or every credential on a public profile."""
        keys = await repository.public_keys(conn)
        withdrawn = await repository.withdrawn_kids(conn)
        now = datetime.now(UTC)
        verdicts = []
        for token in tokens:
            verdict = verify_jwt(token, keys, now, base_url=self.base_url, withdrawn=withdrawn)
            if verdict.credential is not None:
                verdict = apply_revocation(verdict, await self._revoked(conn, verdict.credential))
            verdicts.append(verdict)
        return verdicts

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
        """The signed BitstringStatusListCredential (JWT, decoded), or None if unknown.

        Its issuer is the credentials' issuer (the provider), so a verifier can require
        the two to match; lists from before per-provider lists were the platform's."""
        found = await repository.status_list(conn, list_id)
        if found is None:
            return None
        bits = StatusBits(found.size)
        for index in found.revoked:
            bits.set(index)
        url = self.status_list_url(list_id)
        now = datetime.now(UTC)
        issuer = {
            "id": issuer_id(self.base_url, found.provider_id or "platform"),
            "type": ["Profile"],
            "name": found.issuer_name,
        }
        credential = build_status_list_credential(url, issuer, encode_list(bits), now)
        jwt = sign_credential(credential, await self.signer(conn), self.base_url, typ=VC_JWT_TYP)
        return jwt, credential

    async def jwks(self, conn: asyncpg.Connection) -> dict[str, Any]:
        """The published JWK Set: each key under its URL kid (what new tokens name), and keys
        that signed before URL kids also under their bare thumbprint (what those tokens name)."""
        entries: list[dict[str, Any]] = []
        for record in await repository.keys(conn):
            if record.withdrawn_at is not None:
                continue
            entries.append({**record.public_jwk, "kid": self.key_url(record.kid)})
            if record.legacy_kid:
                entries.append(dict(record.public_jwk))
        return {"keys": entries}
