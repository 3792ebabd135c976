"""Credentials persistence: issued credentials, issuer keys, status-list indexes."""

from __future__ import annotations

import json
import secrets
import struct
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.common.paging import Listing, Page
from services.common.sql import OwnerScope, Statement, fetch_by_id, fetch_visible
from services.credentials.domain import CredentialRecord
from services.credentials.status_list import MIN_BITS


def _record(row: Any) -> CredentialRecord:
    return CredentialRecord(
        id=str(row["id"]),
        enrollment_id=str(row["enrollment_id"] or ""),
        program_id=str(row["program_id"] or ""),
        provider_id=str(row["provider_id"]),
        learner_id=row["learner_id"],
        achievement_name=row["achievement_name"],
        status=row["status"],
        jwt=row["jwt"],
        kid=row["kid"],
        status_list_id=row["status_list_id"],
        status_index=row["status_index"],
        issued_at=row["issued_at"],
        revoked_at=row["revoked_at"],
        revocation_reason=row["revocation_reason"],
        pathway_id=str(row["pathway_id"] or ""),
        valid_until=row["valid_until"],
    )


# For the pathway rules (services/credentials/pathways.py), which read credentials too.
record_from_row = _record


@dataclass(frozen=True)
class KeyRecord:
    """One issuer key as published: its public JWK (kid = thumbprint) and its lifecycle."""

    kid: str
    alg: str
    public_jwk: dict[str, Any]
    signs_from: datetime
    created_at: datetime
    withdrawn_at: datetime | None
    withdrawn_reason: str
    legacy_kid: bool
    credentials: int = 0


def _key(row: Any) -> KeyRecord:
    return KeyRecord(
        kid=row["kid"],
        alg=row["alg"],
        public_jwk=json.loads(row["public_jwk"]),
        signs_from=row["signs_from"],
        created_at=row["created_at"],
        withdrawn_at=row["withdrawn_at"],
        withdrawn_reason=row["withdrawn_reason"],
        legacy_kid=row["legacy_kid"],
        credentials=row.get("credentials") or 0,
    )


async def register_key(
    conn: asyncpg.Connection,
    kid: str,
    alg: str,
    public_jwk: dict[str, str],
    *,
    signs_from: datetime | None = None,
) -> bool:
    """Publish a key; False (and nothing changed) when it already is. ``signs_from`` None
    means "from now": a key first seen at start-up signs at once, as before rotation existed;
    ``upskill keys schedule`` publishes one ahead of its moment."""
    inserted = await conn.fetchval(
        """INSERT INTO issuer_keys (kid, alg, public_jwk, signs_from)
           VALUES ($1, $2, $3, coalesce($4::timestamptz, now()))
           ON CONFLICT (kid) DO NOTHING RETURNING true""",
        kid,
        alg,
        json.dumps(public_jwk),
        signs_from,
    )
    return bool(inserted)


async def keys(conn: asyncpg.Connection, *, with_counts: bool = False) -> list[KeyRecord]:
    """Every key ever registered, withdrawn ones too, oldest first. ``with_counts`` adds how
    many credentials each signed: a scan of all credentials, for operators, never for the
    public JWKS."""
    counted = "(SELECT count(*) FROM credentials c WHERE c.kid = k.kid)" if with_counts else "0"
    rows = await conn.fetch(
        f"""SELECT k.*, {counted} AS credentials
            FROM issuer_keys k ORDER BY k.signs_from, k.created_at, k.kid"""
    )
    return [_key(r) for r in rows]


async def public_keys(conn: asyncpg.Connection) -> list[dict[str, Any]]:
    """The JWKs of the keys that verify: every key but the withdrawn ones (kid = thumbprint)."""
    rows = await conn.fetch(
        """SELECT public_jwk FROM issuer_keys WHERE withdrawn_at IS NULL
           ORDER BY signs_from, created_at, kid"""
    )
    return [json.loads(r["public_jwk"]) for r in rows]


async def withdrawn_kids(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch("SELECT kid FROM issuer_keys WHERE withdrawn_at IS NOT NULL")
    return [r["kid"] for r in rows]


async def active_signer(
    conn: asyncpg.Connection, kids: list[str], now: datetime | None = None
) -> str | None:
    """Which of ``kids`` (the keys this process holds) signs at ``now`` (default: the
    database's clock, the one ``signs_from`` was written with): the one whose
    ``signs_from`` came last, never a withdrawn one; None when none may sign."""
    found = await conn.fetchval(
        """SELECT kid FROM issuer_keys
           WHERE kid = ANY($1::text[]) AND withdrawn_at IS NULL
             AND signs_from <= coalesce($2::timestamptz, now())
           ORDER BY signs_from DESC, created_at DESC, kid LIMIT 1""",
        kids,
        now,
    )
    return str(found) if found is not None else None


async def schedule_key(conn: asyncpg.Connection, kid: str, signs_from: datetime) -> bool:
    """Move a published key's signing moment; False when no such (unwithdrawn) key."""
    updated = await conn.fetchval(
        """UPDATE issuer_keys SET signs_from = $2 WHERE kid = $1 AND withdrawn_at IS NULL
           RETURNING true""",
        kid,
        signs_from,
    )
    return bool(updated)


async def withdraw_key(conn: asyncpg.Connection, kid: str, reason: str) -> KeyRecord | None:
    """Withdraw a key (idempotent: the first withdrawal's time and reason stay)."""
    row = await conn.fetchrow(
        """UPDATE issuer_keys
           SET withdrawn_at = coalesce(withdrawn_at, now()),
               withdrawn_reason = CASE WHEN withdrawn_at IS NULL THEN $2 ELSE withdrawn_reason END
           WHERE kid = $1 RETURNING *""",
        kid,
        reason,
    )
    return _key(row) if row is not None else None


async def withdraw_enrollment(conn: asyncpg.Connection, enrollment_id: str, reason: str) -> None:
    await conn.execute(
        """INSERT INTO withdrawn_enrollments (enrollment_id, reason) VALUES ($1, $2)
           ON CONFLICT (enrollment_id) DO NOTHING""",
        enrollment_id,
        reason,
    )


async def find_for_enrollment(
    conn: asyncpg.Connection, enrollment_id: str, *, for_update: bool = False
) -> CredentialRecord | None:
    row = await conn.fetchrow(
        f"SELECT * FROM credentials WHERE enrollment_id = $1 {'FOR UPDATE' if for_update else ''}",
        enrollment_id,
    )
    return _record(row) if row else None


# Draws before giving up on a list; with a list at most half full, the chance that all of
# them hit taken indexes is below 2**-64.
MAX_DRAWS = 64
# Draws that issuing sends with its first statement (the first free one is taken); when
# all of them are taken (below 2**-16 with a list at most half full), the rest are drawn
# one statement each, as allocate_status_index does.
FIRST_DRAWS = 16
# The first draws are for a list of MIN_BITS, a power of two: the low bits of 32 drawn
# from the CSPRNG are as uniform as secrets.randbelow's draw, and one read serves all 16.
# randbelow read the CSPRNG once or more per draw (its rejection loop discards half of its
# 18-bit reads here): 16 of them were 5-6 % of an issuance's instructions.
if MIN_BITS & (MIN_BITS - 1) or MIN_BITS > 2**32:
    raise RuntimeError("first_draws needs MIN_BITS to be a power of two of at most 32 bits")
_FIRST_DRAWS = struct.Struct(f"<{FIRST_DRAWS}I")


def first_draws() -> list[int]:
    """FIRST_DRAWS indexes of a list of MIN_BITS, each uniform and independent (CSPRNG)."""
    mask = MIN_BITS - 1
    return [word & mask for word in _FIRST_DRAWS.unpack(secrets.token_bytes(_FIRST_DRAWS.size))]


# How many lists with room a provider may have open at once. Issuing allocates in a list
# no other issuance holds (each holds its list's row until it commits), so up to this many
# of one provider's issuances run at once instead of queueing for one list; beyond it they
# wait for a list as before. About the consumer's MAX_IN_FLIGHT: more would spread a
# provider's credentials over lists that fill more slowly (smaller herds) for no gain.
OPEN_LISTS = 8
# pg_advisory_xact_lock(int, int) key space of opening a provider's list (with
# hashtext(provider id)): one transaction at a time opens lists for a provider, so the
# count of its open lists that it checks is exact (no list is being opened unseen).
OPENING_LOCK = 0x534C_4F50  # "SLOP": status-list opening

# A provider's open lists in the order they are taken: the fullest first, so that a list
# opened in a burst is used only while the fuller ones are held, and lists fill (and their
# herds grow) one after another rather than all slowly together.
_TAKE_ORDER = "ORDER BY allocated DESC, created_at, id"


async def allocate_status_index(
    conn: asyncpg.Connection, provider_id: str, issuer_name: str, *, size: int = MIN_BITS
) -> tuple[str, int]:
    """A free (list id, index) in one of the provider's lists, the index drawn uniformly at
    random from a CSPRNG so a list reveals neither issuance order nor volume. Call inside
    the issuing transaction: the list's row stays locked until it commits, so no other
    issuance allocates in that list meanwhile, nor draws against a stale view of it."""
    list_id, _, index = await allocate_in_list(conn, provider_id, issuer_name, size=size)
    return list_id, index


async def allocate_in_list(
    conn: asyncpg.Connection, provider_id: str, issuer_name: str, *, size: int = MIN_BITS
) -> tuple[str, int, int]:
    """allocate_status_index's (list id, list size, index): in the fullest of the
    provider's open lists that no other transaction holds; when every one is held, in a
    list opened now, when the provider has fewer than OPEN_LISTS with room and no other
    transaction is opening one; else in the fullest open list, waiting for its holder."""
    for _ in range(4):
        row = await _take_list(conn, provider_id, wait=False)
        if row is None:
            row = await _open_list(conn, provider_id, issuer_name, size=size)
        if row is None:
            row = await _take_list(conn, provider_id, wait=True)
        if row is not None:
            return row["id"], row["size"], await draw_free_index(conn, row["id"], row["size"])
        # No list with room to wait for: another transaction is opening the provider's
        # next one. Wait for it to commit (holding the opening lock from then on).
        await conn.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))", OPENING_LOCK, provider_id
        )
    raise RuntimeError("could not allocate a status-list index")


async def _take_list(conn: asyncpg.Connection, provider_id: str, *, wait: bool) -> Any:
    """Allocate in the fullest open list of the provider that this transaction can lock
    (at once, or `wait`ing for its holder), locking its row until commit; None if none."""
    return await conn.fetchrow(
        f"""UPDATE status_lists SET allocated = allocated + 1
            WHERE id = (SELECT id FROM status_lists
                        WHERE provider_id = $1 AND allocated < capacity
                        {_TAKE_ORDER} LIMIT 1 FOR UPDATE {"" if wait else "SKIP LOCKED"})
              AND allocated < capacity
            RETURNING id, size""",
        provider_id,
    )


async def _open_list(
    conn: asyncpg.Connection, provider_id: str, issuer_name: str, *, size: int
) -> Any:
    """Open a list for the provider and allocate in it (its row is this transaction's until
    commit), unless another transaction is opening one now, or the provider already has
    OPEN_LISTS lists with room; None then. The count is a statement after the opening lock
    was taken: it sees every list opened before, as no one else may open one meanwhile."""
    mine = await conn.fetchval(
        "SELECT pg_try_advisory_xact_lock($1, hashtext($2))", OPENING_LOCK, provider_id
    )
    if not mine:
        return None
    return await conn.fetchrow(
        """INSERT INTO status_lists (id, size, capacity, allocated, provider_id, issuer_name)
           SELECT $1, $2, $3, 1, $4, $5
           WHERE (SELECT count(*) FROM status_lists
                  WHERE provider_id = $4 AND allocated < capacity) < $6
           RETURNING id, size""",
        str(uuid.uuid4()),
        size,
        size // 2,
        provider_id,
        issuer_name,
        OPEN_LISTS,
    )


async def draw_free_index(conn: asyncpg.Connection, list_id: str, size: int) -> int:
    """A free index of a list whose row this transaction has locked (allocated in): each
    check is a statement of its own, started after the lock was taken, so it sees every
    credential the list's earlier holders committed."""
    for _ in range(MAX_DRAWS):
        index = secrets.randbelow(size)
        taken = await conn.fetchval(
            "SELECT true FROM credentials WHERE status_list_id = $1 AND status_index = $2",
            list_id,
            index,
        )
        if not taken:
            return index
    raise RuntimeError("could not allocate a status-list index")


@dataclass(frozen=True)
class Issuance:
    """What issuing an enrollment's credential starts from, read and allocated by one
    statement (prepare_issuance)."""

    issued: bool
    withdrawn: bool
    # The list allocated in (its row locked until commit); None when the provider has no
    # open list that no other transaction holds (none is allocated then: allocate_in_list
    # opens one or waits), or when nothing may be issued.
    list_id: str | None
    list_size: int
    # The first free one of the draws, as this statement's snapshot saw the list: None when
    # all were taken. See prepare_issuance on why the INSERT still has the last word.
    status_index: int | None
    # The held key that signs now (issuer_keys' schedule at the transaction's now()); None
    # when none may.
    kid: str | None


async def prepare_issuance(
    conn: asyncpg.Connection,
    enrollment_id: str,
    provider_id: str,
    kids: list[str],
    *,
    gate_lock: int,
) -> Issuance:
    """In one round trip: take the pathway gate (shared, `gate_lock`: see pathways.py),
    read whether the enrollment has its credential or was withdrawn, and when neither,
    allocate in the fullest of the provider's open lists that no other transaction holds
    (SKIP LOCKED: concurrent issuances of a provider take different lists, never queue
    here; locking its row until commit) with the first of FIRST_DRAWS random draws that no
    credential holds, and read the signing key.

    One statement has one snapshot, taken before it locks the list's row (and before it
    waits for the pathway gate): a credential that the list's previous holder committed
    meanwhile is not in it, so the drawn index may be that one's. Such an index is never
    handed out twice: the credential's INSERT conflicts on UNIQUE (status_list_id,
    status_index) and inserts nothing (add), and the issuer then draws again with
    draw_free_index, which sees it.
    The gate and the state read are as they were as separate statements: the state was a
    statement's snapshot before too, and the gate only needs to be held before pathways
    are read (pathways_naming, in the statement that saves the credential), which is a
    later statement."""
    # Drawn for a list of MIN_BITS, what every list is opened with (allocate_in_list); a
    # list of another size gets no first draw (status_index None: drawn under its lock).
    draws = first_draws()
    row = await conn.fetchrow(
        f"""WITH state AS (
               SELECT pg_advisory_xact_lock_shared($5) IS NOT NULL AS gate_held,
                      EXISTS (SELECT 1 FROM credentials WHERE enrollment_id = $1) AS issued,
                      EXISTS (SELECT 1 FROM withdrawn_enrollments WHERE enrollment_id = $1)
                          AS withdrawn),
           allocated AS (
               UPDATE status_lists SET allocated = allocated + 1
               WHERE id = (SELECT id FROM status_lists
                           WHERE provider_id = $2 AND allocated < capacity
                             AND (SELECT gate_held AND NOT (issued OR withdrawn) FROM state)
                           {_TAKE_ORDER} LIMIT 1 FOR UPDATE SKIP LOCKED)
                 AND allocated < capacity
               RETURNING id, size)
           SELECT s.issued, s.withdrawn, a.id AS list_id, a.size AS list_size,
                  (SELECT d.draw FROM unnest($3::integer[]) WITH ORDINALITY AS d (draw, n)
                   WHERE a.size = $6
                     AND d.draw <> ALL (ARRAY(
                         SELECT c.status_index FROM credentials c
                         WHERE c.status_list_id = a.id AND c.status_index = ANY ($3::integer[])))
                   ORDER BY d.n LIMIT 1) AS status_index,
                  (SELECT kid FROM issuer_keys
                   WHERE kid = ANY($4::text[]) AND withdrawn_at IS NULL AND signs_from <= now()
                   ORDER BY signs_from DESC, created_at DESC, kid LIMIT 1) AS kid
           FROM state s LEFT JOIN allocated a ON true""",
        enrollment_id,
        provider_id,
        draws,
        kids,
        gate_lock,
        MIN_BITS,
    )
    return Issuance(
        issued=row["issued"],
        withdrawn=row["withdrawn"],
        list_id=row["list_id"],
        list_size=row["list_size"] or 0,
        status_index=row["status_index"] if row["list_id"] is not None else None,
        kid=row["kid"],
    )


async def has_credential(conn: asyncpg.Connection, enrollment_id: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM credentials WHERE enrollment_id = $1)", enrollment_id
        )
    )


@dataclass(frozen=True)
class StatusListRecord:
    id: str
    size: int
    provider_id: str | None
    issuer_name: str
    revoked: list[int]


def add(c: CredentialRecord) -> Statement:
    """The insert of a new credential; it returns no row (writes nothing) when the
    enrollment already has its credential (redelivery), or when the status index is taken
    (prepare_issuance says when): the caller tells them apart with has_credential. The unit
    of work runs it with the outbox row of CredentialIssued, as one statement."""
    return Statement(
        """INSERT INTO credentials (id, enrollment_id, program_id, provider_id, learner_id,
               achievement_name, status, jwt, kid, status_list_id, status_index, issued_at,
               valid_until)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT DO NOTHING RETURNING true""",
        (
            c.id,
            c.enrollment_id,
            c.program_id,
            c.provider_id,
            c.learner_id,
            c.achievement_name,
            c.status,
            c.jwt,
            c.kid,
            c.status_list_id,
            c.status_index,
            c.issued_at,
            c.valid_until,
        ),
    )


async def get(
    conn: asyncpg.Connection, credential_id: str, *, for_update: bool = False
) -> CredentialRecord:
    return _record(
        await fetch_by_id(
            conn, "credentials", credential_id, what="credential", for_update=for_update
        )
    )


async def add_pathway(conn: asyncpg.Connection, c: CredentialRecord) -> bool:
    """Insert a pathway credential and its components; False when the learner already holds
    a valid one for the pathway (a concurrent or repeated evaluation)."""
    inserted = await conn.fetchval(
        """INSERT INTO credentials (id, enrollment_id, program_id, pathway_id, provider_id,
               learner_id, achievement_name, status, jwt, kid, status_list_id, status_index,
               issued_at, valid_until)
           VALUES ($1, NULL, NULL, $2, $3, $4, $5, 'ISSUED', $6, $7, $8, $9, $10, $11)
           ON CONFLICT (learner_id, pathway_id) WHERE pathway_id IS NOT NULL
               AND status = 'ISSUED' DO NOTHING
           RETURNING true""",
        c.id,
        c.pathway_id,
        c.provider_id,
        c.learner_id,
        c.achievement_name,
        c.jwt,
        c.kid,
        c.status_list_id,
        c.status_index,
        c.issued_at,
        c.valid_until,
    )
    if not inserted:
        return False
    await conn.executemany(
        "INSERT INTO pathway_components (credential_id, component_id) VALUES ($1, $2)",
        [(c.id, component) for component in c.component_ids],
    )
    return True


async def revoke(conn: asyncpg.Connection, c: CredentialRecord) -> None:
    await conn.execute(
        """UPDATE credentials SET status = 'REVOKED', revoked_at = $2, revocation_reason = $3
           WHERE id = $1""",
        c.id,
        c.revoked_at,
        c.revocation_reason,
    )


async def status_list(conn: asyncpg.Connection, list_id: str) -> StatusListRecord | None:
    """The list and its revoked indexes, or None when the list does not exist."""
    row = await conn.fetchrow(
        "SELECT size, provider_id, issuer_name FROM status_lists WHERE id = $1", list_id
    )
    if row is None:
        return None
    rows = await conn.fetch(
        "SELECT status_index FROM credentials WHERE status_list_id = $1 AND status = 'REVOKED'",
        list_id,
    )
    provider = row["provider_id"]
    return StatusListRecord(
        id=list_id,
        size=row["size"],
        provider_id=str(provider) if provider is not None else None,
        issuer_name=row["issuer_name"],
        revoked=[r["status_index"] for r in rows],
    )


async def is_revoked(conn: asyncpg.Connection, list_id: str, index: int) -> bool | None:
    """Whether the bit is set; None when this service holds no such list."""
    listed = await conn.fetchval("SELECT size > $2 FROM status_lists WHERE id = $1", list_id, index)
    if not listed:
        return None
    revoked = await conn.fetchval(
        """SELECT true FROM credentials
           WHERE status_list_id = $1 AND status_index = $2 AND status = 'REVOKED'""",
        list_id,
        index,
    )
    return bool(revoked)


LISTING = Listing("credentials", table="credentials", time="issued_at")


async def list_for(
    conn: asyncpg.Connection, scope: OwnerScope, page: Page
) -> list[CredentialRecord]:
    return [_record(r) for r in await fetch_visible(conn, "SELECT * FROM credentials", scope, page)]


async def get_many(conn: asyncpg.Connection, credential_ids: list[str]) -> list[CredentialRecord]:
    """The credentials with these ids, in the order given (unknown ids are left out)."""
    rows = await conn.fetch("SELECT * FROM credentials WHERE id = ANY($1::uuid[])", credential_ids)
    found = {str(r["id"]): _record(r) for r in rows}
    return [found[cid] for cid in credential_ids if cid in found]
