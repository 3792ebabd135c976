"""Acting for a provider: how provider staff's membership reaches every service.

A person's token says who they are, never which provider they work for. A request that
acts for a provider names it in the `x-upskill-provider` metadata (the gateway forwards the
HTTP header `X-Upskill-Provider`); that is a choice among the caller's memberships, not a
claim of one. The service's interceptor then checks the membership in our own data (the
catalog's, which owns providers) before the handler runs, and only then treats the caller
as that provider's staff. Why the services check and not the gateway: a bearer token is
all a service sees, and it cannot tell a gateway's word from a caller's own client; so
the membership is looked up by each service, with the caller's own token, from the one
place that holds it.

Catalog answers from its database; other services ask catalog (GetMembership) and keep a
positive answer for MEMBERSHIP_CACHE_SECONDS, so a removed member can act at most that
long after removal.
"""

from __future__ import annotations

import contextvars
import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import Protocol

import grpc
from upskill.catalog.v1 import catalog_service_pb2, catalog_service_pb2_grpc

from services.common.auth import Principal, Role
from services.common.errors import InvalidArgumentError, PermissionDeniedError, UnavailableError
from services.common.grpc_client import DEFAULT_DEADLINE_SECONDS, auth_metadata, channel

ACTING_PROVIDER_METADATA = "x-upskill-provider"
MEMBERSHIP_CACHE_SECONDS = 30.0
_CACHE_LIMIT = 10_000

_acting: contextvars.ContextVar[str] = contextvars.ContextVar("upskill_acting_provider", default="")


def act_for_provider(provider_id: str) -> None:
    """From now on in this task (one HTTP request), calls carry `provider_id` as the
    provider the caller acts for."""
    _acting.set(provider_id)


def acting_metadata() -> tuple[tuple[str, str], ...]:
    provider_id = _acting.get()
    return ((ACTING_PROVIDER_METADATA, provider_id),) if provider_id else ()


class MembershipResolver(Protocol):
    async def is_member(self, principal: Principal, provider_id: str) -> bool: ...


async def act_for(
    principal: Principal, provider_id: str, resolver: MembershipResolver | None
) -> Principal:
    """The principal as `provider_id`'s staff, once the membership is checked."""
    try:
        provider_id = str(uuid.UUID(provider_id))
    except ValueError:
        raise InvalidArgumentError(f"{ACTING_PROVIDER_METADATA} must be a provider id") from None
    if principal.role in (Role.ADMIN, Role.SERVICE):
        return principal  # they act for every provider already
    if principal.role is Role.PROVIDER:
        # A dev-mode provider token names its provider itself.
        if principal.provider_id != provider_id:
            raise PermissionDeniedError(f"you do not act for provider {provider_id}")
        return principal
    if resolver is None:
        raise PermissionDeniedError("this service does not act for providers")
    if not await resolver.is_member(principal, provider_id):
        raise PermissionDeniedError(f"you are not a member of provider {provider_id}")
    return dataclasses.replace(principal, role=Role.PROVIDER, provider_id=provider_id)


class CatalogMemberships:
    """Asks the catalog, with the caller's own token; remembers "yes" for a short while."""

    def __init__(self, catalog_addr: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._stub = catalog_service_pb2_grpc.CatalogServiceStub(channel(catalog_addr))
        self._clock = clock
        self._known: dict[tuple[str, str], float] = {}

    async def is_member(self, principal: Principal, provider_id: str) -> bool:
        key = (principal.subject, provider_id)
        seen = self._known.get(key)
        if seen is not None and self._clock() - seen < MEMBERSHIP_CACHE_SECONDS:
            return True
        try:
            await self._stub.GetMembership(
                catalog_service_pb2.GetMembershipRequest(provider_id=provider_id),
                timeout=DEFAULT_DEADLINE_SECONDS,
                metadata=auth_metadata(principal.token),
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.PERMISSION_DENIED):
                self._known.pop(key, None)
                return False
            raise UnavailableError("cannot check the provider membership now") from None
        if len(self._known) >= _CACHE_LIMIT:
            self._known.clear()
        self._known[key] = self._clock()
        return True
