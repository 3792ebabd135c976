"""Pathway credentials: derived from the credentials they stand on (DESIGN invariant 8).

The rule, in one place: a learner holds a pathway's credential exactly while they hold
valid credentials (ISSUED, not past validUntil) for the pathway's requirements (all its
programs, or k of them), and the pathway is open (published, not archived) when it is
earned. It is issued once, by this service, in the transaction that made it earned: the
issuance of its last component, or the arrival of the pathway's PathwayPublished. Its
`evidence` cites the components; revoking one revokes it with the reason; re-earning a
component issues a new one. A pathway credential revoked by a person (not through a
component) bars that learner from that pathway's automatic award.

Concurrency (two components issued at once on two replicas, or a pathway published while
a component is issued): every evaluation holds the learner's transaction-scoped advisory
lock, so evaluations of one learner run one after the other and each sees what the one
before committed (READ COMMITTED: a statement sees what committed before it began); and
a shared "pathway gate" lock that applying PathwayPublished takes exclusively, so its
scan of learners never misses a component committed in parallel. (An issuance takes the
gate with its first statement and the learner's lock only when an open pathway names its
program, in the statement that saves the credential: pathways_naming.) Redelivered events are
stopped by the inbox; replays (the inbox forgot) by the one-standing-credential index.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import asyncpg
from upskill.catalog.v1 import catalog_pb2

from services.common.errors import NotFoundError
from services.common.outbox import Then
from services.credentials import repository, unit_of_work
from services.credentials.badges import (
    Issuance,
    build_credential,
    format_timestamp,
    sign_credential,
)
from services.credentials.domain import CredentialRecord

if TYPE_CHECKING:
    from services.credentials.issuer import Issuer

# pg_advisory_xact_lock(bigint): the pathway gate. Learners are locked with the two-int
# form (a separate key space): (LEARNER_LOCK_CLASS, hashtext(learner_id)).
PATHWAY_GATE_LOCK = 0x7061_7468_7761_7973  # "pathways"
LEARNER_LOCK_CLASS = 0x7061_7468  # "path"


def component_revoked_reason(component_name: str, reason: str) -> str:
    """The revocation reason of a pathway credential whose component was revoked."""
    return f"component credential '{component_name}' revoked: {reason}"


@dataclass(frozen=True)
class PathwayDefinition:
    id: str
    provider_id: str
    provider_name: str
    program_ids: tuple[str, ...]
    required: int
    name: str
    description: str
    criteria: str
    skills: tuple[str, ...]
    image_url: str
    open: bool


def _definition(row: Any) -> PathwayDefinition:
    a = json.loads(row["achievement"]) if row["achievement"] else {}
    return PathwayDefinition(
        id=str(row["id"]),
        provider_id=str(row["provider_id"]),
        provider_name=row["provider_name"],
        program_ids=tuple(str(p) for p in row["program_ids"]),
        required=row["required_count"],
        name=a.get("name", ""),
        description=a.get("description", ""),
        criteria=a.get("criteria", ""),
        skills=tuple(a.get("skills", ())),
        image_url=a.get("image_url", ""),
        open=row["open"],
    )


# ---------------------------------------------------------------- catalog events


async def apply_published(
    conn: asyncpg.Connection, issuer: Issuer, pathway: catalog_pb2.Pathway
) -> None:
    """Record the definition (if no newer event came first) and award it to every learner
    who already holds what it requires."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", PATHWAY_GATE_LOCK)
    spec = pathway.spec
    achievement = {
        "name": spec.achievement.name,
        "description": spec.achievement.description,
        "criteria": spec.achievement.criteria,
        "skills": list(spec.achievement.skills),
        "image_url": spec.achievement.image_url,
    }
    opened = await conn.fetchval(
        """INSERT INTO pathways (id, provider_id, provider_name, program_ids, required_count,
               achievement, open, version)
           VALUES ($1, $2, $3, $4::uuid[], $5, $6, true, $7)
           ON CONFLICT (id) DO UPDATE SET
               provider_name = excluded.provider_name, program_ids = excluded.program_ids,
               required_count = excluded.required_count, achievement = excluded.achievement,
               open = CASE WHEN pathways.version < excluded.version THEN excluded.open
                           ELSE pathways.open END,
               version = greatest(pathways.version, excluded.version), updated_at = now()
           RETURNING open""",
        pathway.id,
        pathway.provider_id,
        pathway.provider_name,
        list(spec.program_ids),
        spec.required_count or len(spec.program_ids),
        json.dumps(achievement),
        pathway.version,
    )
    if not opened:
        return  # archived already (its event arrived first): it awards nothing
    learners = await conn.fetch(
        """SELECT DISTINCT learner_id FROM credentials
           WHERE program_id = ANY($1::uuid[]) AND status = 'ISSUED' ORDER BY learner_id""",
        list(spec.program_ids),
    )
    for row in learners:
        await _evaluate(conn, issuer, row["learner_id"], pathway_ids=[pathway.id])


async def apply_archived(
    conn: asyncpg.Connection, pathway_id: str, provider_id: str, version: int
) -> None:
    """Close the pathway (if this is the newest word on it); issued credentials stay."""
    await conn.execute(
        """INSERT INTO pathways (id, provider_id, open, version) VALUES ($1, $2, false, $3)
           ON CONFLICT (id) DO UPDATE SET open = false, version = excluded.version,
               updated_at = now()
           WHERE pathways.version < excluded.version""",
        pathway_id,
        provider_id,
        version,
    )


# ---------------------------------------------------------------- issuer hooks


def pathways_naming(record: CredentialRecord) -> Then:
    """What the statement that saves a new program credential does after the save
    (unit_of_work.commit_issued): read the open pathways that name its program, taking the
    learner's lock only when there is one. So an issuance whose program is in no pathway
    (most) neither locks the learner nor spends a round trip on pathways; one that names
    none awards nothing, whoever else evaluates the learner (a pathway naming it can only be
    published after this transaction, and that evaluates the learner itself).

    Why in the save's statement and not in prepare_issuance's, which takes the pathway gate:
    a statement's snapshot is taken before it waits for the gate, so that one could miss a
    pathway whose publication held the gate and committed meanwhile (its scan of learners
    did not see this credential either: invariant 8 broken). The save is a later statement,
    so its snapshot sees every pathway published before the gate was granted, and none can
    be published until this transaction ends. The definitions are read in this snapshot,
    before the lock: they change only under the gate, which is held. What the evaluation
    reads of the learner's credentials is read by later statements, under the lock."""
    return Then(
        ctes="",
        select="""SELECT p.*, pg_advisory_xact_lock($1, hashtext($2)) AS locked FROM pathways p
                  WHERE p.program_ids @> ARRAY[$3::uuid] AND p.open""",
        args=(LEARNER_LOCK_CLASS, record.learner_id, record.program_id),
    )


async def after_issue(
    conn: asyncpg.Connection, issuer: Issuer, record: CredentialRecord, rows: list[Any]
) -> None:
    """A program credential was just issued: award the pathways it completes, among `rows`
    (what pathways_naming read, in the statement that saved it, under the learner's lock
    when there are any). The caller holds the pathway gate (shared) since a statement
    before that one (Issuer.issue takes it with its first)."""
    if rows:
        await _award(conn, issuer, record.learner_id, rows)


async def after_revoke(
    conn: asyncpg.Connection, issuer: Issuer, record: CredentialRecord, *, by_component: bool
) -> None:
    """A credential was just revoked: revoke the pathway credentials standing on it; a
    pathway credential revoked by a person bars its automatic award to that learner."""
    if record.pathway_id:
        if not by_component:
            await conn.execute(
                """INSERT INTO pathway_bars (learner_id, pathway_id, reason) VALUES ($1, $2, $3)
                   ON CONFLICT DO NOTHING""",
                record.learner_id,
                record.pathway_id,
                record.revocation_reason,
            )
        return
    await _lock_learner(conn, record.learner_id)
    rows = await conn.fetch(
        """SELECT c.* FROM pathway_components pc JOIN credentials c ON c.id = pc.credential_id
           WHERE pc.component_id = $1 AND c.status = 'ISSUED' FOR UPDATE OF c""",
        record.id,
    )
    affected = []
    for row in rows:
        derived = repository.record_from_row(row)
        reason = component_revoked_reason(record.achievement_name, record.revocation_reason)
        await issuer.revoke(conn, derived, reason, by_component=True)
        affected.append(derived.pathway_id)
    if affected:
        # k of n: the learner may still hold enough other components.
        await _evaluate(conn, issuer, record.learner_id, pathway_ids=affected)


# ---------------------------------------------------------------- evaluation


async def _lock_learner(conn: asyncpg.Connection, learner_id: str) -> None:
    """The gate (shared) and then the learner's lock, in one round trip: PostgreSQL
    evaluates a target list left to right, so the order stays gate first."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock_shared($1), pg_advisory_xact_lock($2, hashtext($3))",
        PATHWAY_GATE_LOCK,
        LEARNER_LOCK_CLASS,
        learner_id,
    )


async def _valid_components(
    conn: asyncpg.Connection, learner_id: str, program_ids: tuple[str, ...]
) -> dict[str, CredentialRecord]:
    """The learner's newest valid credential per program among `program_ids`."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (program_id) * FROM credentials
           WHERE learner_id = $1 AND program_id = ANY($2::uuid[]) AND status = 'ISSUED'
             AND (valid_until IS NULL OR valid_until > now())
           ORDER BY program_id, issued_at DESC, id DESC""",
        learner_id,
        list(program_ids),
    )
    return {str(r["program_id"]): repository.record_from_row(r) for r in rows}


async def _evaluate(
    conn: asyncpg.Connection,
    issuer: Issuer,
    learner_id: str,
    *,
    pathway_ids: list[str],
) -> None:
    """Award each of the open pathways `pathway_ids` that the learner has earned and does
    not hold."""
    await _lock_learner(conn, learner_id)
    rows = await conn.fetch(
        "SELECT * FROM pathways WHERE id = ANY($1::uuid[]) AND open", pathway_ids
    )
    await _award(conn, issuer, learner_id, rows)


async def _award(
    conn: asyncpg.Connection, issuer: Issuer, learner_id: str, rows: list[Any]
) -> None:
    """Award each of these pathways the learner has earned and does not hold; the caller
    holds the learner's lock."""
    for row in rows:
        pathway = _definition(row)
        standing = await conn.fetchval(
            """SELECT true FROM credentials WHERE learner_id = $1 AND pathway_id = $2
                 AND status = 'ISSUED'
               UNION ALL
               SELECT true FROM pathway_bars WHERE learner_id = $1 AND pathway_id = $2""",
            learner_id,
            pathway.id,
        )
        if standing:
            continue
        components = await _valid_components(conn, learner_id, pathway.program_ids)
        if len(components) < pathway.required:
            continue
        # The pathway's own order decides which k components it cites.
        cited = [components[p] for p in pathway.program_ids if p in components][: pathway.required]
        await _issue(conn, issuer, pathway, learner_id, cited)


def _pathway_url(base_url: str, pathway_id: str) -> str:
    return f"{base_url}/pathways/{quote(pathway_id, safe='')}"


def build_pathway_credential(
    pathway: PathwayDefinition,
    *,
    credential_id: str,
    learner_id: str,
    components: list[CredentialRecord],
    issued_at: datetime,
    valid_until: datetime | None,
    status_list_url: str,
    status_index: int,
    base_url: str,
) -> dict[str, Any]:
    """The OpenBadgeCredential of a pathway: its achievement, and `evidence` naming each
    component credential (its public page and its achievement)."""
    credential = build_credential(
        Issuance(
            credential_id=credential_id,
            learner_id=learner_id,
            learner_email=None,
            provider_id=pathway.provider_id,
            provider_name=pathway.provider_name,
            program_id=pathway.id,
            achievement_name=pathway.name,
            achievement_description=pathway.description,
            criteria=pathway.criteria,
            issued_at=issued_at,
            valid_for_days=None,
            status_list_url=status_list_url,
            status_index=status_index,
            base_url=base_url,
            skills=list(pathway.skills),
        )
    )
    achievement = credential["credentialSubject"]["achievement"]
    achievement["id"] = f"{_pathway_url(base_url, pathway.id)}#achievement"
    achievement["achievementType"] = "Certificate"
    if pathway.image_url:
        achievement["image"] = {"id": pathway.image_url, "type": "Image"}
    if valid_until is not None:
        # Never valid longer than the components it stands on.
        credential["validUntil"] = format_timestamp(valid_until)
    credential["evidence"] = [
        {
            "id": f"{base_url}/credentials/{c.id}",
            "type": ["Evidence"],
            "name": c.achievement_name,
            "description": f"Component credential urn:uuid:{c.id}",
        }
        for c in components
    ]
    return credential


async def _issue(
    conn: asyncpg.Connection,
    issuer: Issuer,
    pathway: PathwayDefinition,
    learner_id: str,
    components: list[CredentialRecord],
) -> CredentialRecord | None:
    list_id, index = await repository.allocate_status_index(
        conn, pathway.provider_id, pathway.provider_name
    )
    issued_at = datetime.now(UTC)
    ends = [c.valid_until for c in components if c.valid_until is not None]
    valid_until = min(ends) if ends else None
    credential_id = str(uuid.uuid4())
    credential = build_pathway_credential(
        pathway,
        credential_id=credential_id,
        learner_id=learner_id,
        components=components,
        issued_at=issued_at,
        valid_until=valid_until,
        status_list_url=issuer.status_list_url(list_id),
        status_index=index,
        base_url=issuer.base_url,
    )
    key = await issuer.signer(conn)
    record = CredentialRecord.issue_pathway(
        id=credential_id,
        pathway_id=pathway.id,
        provider_id=pathway.provider_id,
        learner_id=learner_id,
        achievement_name=pathway.name,
        jwt=sign_credential(credential, key, issuer.base_url),
        kid=key.kid,
        status_list_id=list_id,
        status_index=index,
        issued_at=issued_at,
        valid_until=valid_until,
        component_ids=tuple(c.id for c in components),
    )
    if not await unit_of_work.commit(conn, record, new=True):
        return None
    return record


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class Progress:
    pathway: PathwayDefinition
    learner_id: str
    components: dict[str, CredentialRecord]
    pathway_credential_id: str


async def progress(conn: asyncpg.Connection, pathway_id: str, learner_id: str) -> Progress:
    row = await conn.fetchrow(
        "SELECT * FROM pathways WHERE id = $1 AND achievement IS NOT NULL", pathway_id
    )
    if row is None:
        raise NotFoundError(f"pathway {pathway_id} not found")
    pathway = _definition(row)
    components = await _valid_components(conn, learner_id, pathway.program_ids)
    standing = await conn.fetchval(
        """SELECT id::text FROM credentials WHERE learner_id = $1 AND pathway_id = $2
             AND status = 'ISSUED'""",
        learner_id,
        pathway_id,
    )
    return Progress(pathway, learner_id, components, standing or "")


async def components_of(conn: asyncpg.Connection, credential_id: str) -> list[str]:
    rows = await conn.fetch(
        """SELECT component_id::text FROM pathway_components WHERE credential_id = $1
           ORDER BY component_id""",
        credential_id,
    )
    return [r["component_id"] for r in rows]
