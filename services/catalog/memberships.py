"""Provider staff: members and invitations, in the catalog database.

Who may act for a provider is decided here, from our data: an admin or one of the
provider's owners invites an email address; whoever signs in with that address (verified by
the identity provider) and accepts becomes a member. Races are settled by the database: a
unique index refuses a second open invitation for the same address, and an invitation is
marked accepted by one conditional UPDATE, so two acceptances cannot both win.
"""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
from upskill.catalog.v1 import catalog_pb2

from services.common.auth import Principal, Role, authenticated
from services.common.errors import (
    AlreadyExistsError,
    FailedPreconditionError,
    FieldViolation,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from services.common.protos import timestamp

OWNER = "OWNER"
STAFF = "STAFF"
_ROLE_NAMES = {catalog_pb2.MEMBER_ROLE_OWNER: OWNER, catalog_pb2.MEMBER_ROLE_STAFF: STAFF}
_ROLE_VALUES = {name: value for value, name in _ROLE_NAMES.items()}


def require_staff_of(provider_id: str, what: str) -> None:
    """Drafts and archived rows (`what`: programs, pathways) are listed only for their own
    provider's staff (the interceptor has made a member acting for `provider_id` a PROVIDER
    principal of it) and admins."""
    principal = authenticated()
    if not provider_id:
        raise InvalidArgumentError(
            "include_unpublished needs provider_id",
            [FieldViolation("provider_id", "required with include_unpublished")],
        )
    if principal.role is Role.ADMIN:
        return
    if principal.role is not Role.PROVIDER or principal.provider_id != provider_id:
        raise PermissionDeniedError(
            f"only the provider's own staff may list its unpublished {what}"
        )


def role_name(value: catalog_pb2.MemberRole) -> str:
    return _ROLE_NAMES[value]  # validated: defined and not UNSPECIFIED


def role_value(name: str) -> catalog_pb2.MemberRole:
    return _ROLE_VALUES[name]


def member_to_pb(row: Any) -> catalog_pb2.Member:
    return catalog_pb2.Member(
        provider_id=str(row["provider_id"]),
        subject=row["subject"],
        email=row["email"],
        role=_ROLE_VALUES[row["role"]],
        create_time=timestamp(row["created_at"]),
    )


def invitation_to_pb(row: Any) -> catalog_pb2.Invitation:
    return catalog_pb2.Invitation(
        id=str(row["id"]),
        provider_id=str(row["provider_id"]),
        email=row["email"],
        role=_ROLE_VALUES[row["role"]],
        invited_by=row["invited_by"],
        create_time=timestamp(row["created_at"]),
        accept_time=timestamp(row["accepted_at"]),
        accepted_by=row["accepted_by"] or "",
    )


async def membership(conn: asyncpg.Connection, provider_id: str, subject: str) -> Any:
    """The caller's membership row of `provider_id`, or None."""
    if not subject:
        return None
    return await conn.fetchrow(
        "SELECT * FROM provider_members WHERE provider_id = $1 AND subject = $2",
        provider_id,
        subject,
    )


async def _require_provider(conn: asyncpg.Connection, provider_id: str) -> None:
    if await conn.fetchval("SELECT 1 FROM providers WHERE id = $1", provider_id) is None:
        raise NotFoundError(f"provider {provider_id} not found")


async def _require_admin_or_owner(
    conn: asyncpg.Connection, principal: Principal, provider_id: str
) -> None:
    await _require_provider(conn, provider_id)
    if principal.role is not Role.ADMIN:
        mine = await membership(conn, provider_id, principal.subject)
        if mine is None or mine["role"] != OWNER:
            raise PermissionDeniedError("only an admin or an owner of the provider may add members")


async def add(
    conn: asyncpg.Connection, principal: Principal, provider_id: str, subject: str, role: str
) -> Any:
    """A member by identity, for those who cannot accept an invitation (no email): a
    provider's own API client, by its client id."""
    await _require_admin_or_owner(conn, principal, provider_id)
    row = await conn.fetchrow(
        """INSERT INTO provider_members (provider_id, subject, role) VALUES ($1, $2, $3)
           ON CONFLICT (provider_id, subject) DO NOTHING RETURNING *""",
        provider_id,
        subject,
        role,
    )
    if row is None:
        raise AlreadyExistsError(f"{subject!r} is already a member of this provider")
    return row


async def invite(
    conn: asyncpg.Connection, principal: Principal, provider_id: str, email: str, role: str
) -> Any:
    await _require_admin_or_owner(conn, principal, provider_id)
    address = email.strip().lower()
    already = await conn.fetchval(
        "SELECT 1 FROM provider_members WHERE provider_id = $1 AND lower(email) = $2",
        provider_id,
        address,
    )
    if already:
        raise AlreadyExistsError(f"{address} is already a member of this provider")
    row = await conn.fetchrow(
        """INSERT INTO provider_invitations (id, provider_id, email, role, invited_by)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (provider_id, email) WHERE accepted_at IS NULL DO NOTHING
           RETURNING *""",
        str(uuid.uuid4()),
        provider_id,
        address,
        role,
        principal.subject,
    )
    if row is None:
        raise AlreadyExistsError(f"{address} already has an open invitation to this provider")
    return row


async def accept(conn: asyncpg.Connection, principal: Principal, invitation_id: str) -> Any:
    """Make the caller a member; their verified email must be the invitation's."""
    if principal.role is Role.SERVICE or not principal.subject:
        raise PermissionDeniedError("only a person can accept an invitation")
    if not principal.email:
        raise PermissionDeniedError(
            "your sign-in carries no verified email address: verify it with the identity"
            " provider, then accept the invitation"
        )
    async with conn.transaction():
        invitation = await conn.fetchrow(
            "SELECT * FROM provider_invitations WHERE id = $1", invitation_id
        )
        # Someone else's invitation is none of the caller's business: 404, not 403.
        if invitation is None or invitation["email"] != principal.email.strip().lower():
            raise NotFoundError(f"invitation {invitation_id} not found")
        claimed = await conn.fetchrow(
            """UPDATE provider_invitations SET accepted_at = now(), accepted_by = $2
               WHERE id = $1 AND accepted_at IS NULL RETURNING *""",
            invitation_id,
            principal.subject,
        )
        if claimed is None:
            raise FailedPreconditionError(f"invitation {invitation_id} was already accepted")
        member = await conn.fetchrow(
            """INSERT INTO provider_members (provider_id, subject, email, role)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (provider_id, subject) DO UPDATE
                 SET email = EXCLUDED.email,
                     -- Never a demotion by accepting: an owner stays an owner.
                     role = CASE WHEN provider_members.role = 'OWNER' THEN 'OWNER'
                                 ELSE EXCLUDED.role END
               RETURNING *""",
            claimed["provider_id"],
            principal.subject,
            claimed["email"],
            claimed["role"],
        )
    return member


async def listing(
    conn: asyncpg.Connection, principal: Principal, provider_id: str
) -> tuple[list[Any], list[Any]]:
    await _require_provider(conn, provider_id)
    allowed = principal.role in (Role.ADMIN, Role.SERVICE) or (
        principal.role is Role.PROVIDER and principal.provider_id == provider_id
    )
    if not allowed and await membership(conn, provider_id, principal.subject) is None:
        raise PermissionDeniedError("only the provider's members may list its members")
    members = await conn.fetch(
        "SELECT * FROM provider_members WHERE provider_id = $1 ORDER BY created_at, subject",
        provider_id,
    )
    invitations = await conn.fetch(
        """SELECT * FROM provider_invitations WHERE provider_id = $1 AND accepted_at IS NULL
           ORDER BY created_at, id""",
        provider_id,
    )
    return list(members), list(invitations)


class LocalMemberships:
    """The catalog's own answer for its interceptor: straight from its database."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def is_member(self, principal: Principal, provider_id: str) -> bool:
        async with self._pool.acquire() as conn:
            return await membership(conn, provider_id, principal.subject) is not None
