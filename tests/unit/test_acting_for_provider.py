"""Acting for a provider: a request names the provider (x-upskill-provider), and the
caller becomes its staff only when the membership check says so; no token claim and no
header alone ever makes anyone staff."""

from __future__ import annotations

import dataclasses

import pytest

from services.common.auth import Principal, Role, acting_as, current_principal
from services.common.errors import InvalidArgumentError, PermissionDeniedError, UnavailableError
from services.common.memberships import CatalogMemberships, act_for

PROVIDER = "0b7f3c1e-8d2a-4f5b-9c6d-1e2f3a4b5c6d"
OTHER = "7d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"


@dataclasses.dataclass
class Members:
    """A membership table the test fills: (subject, provider id) pairs."""

    rows: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    asked: int = 0

    async def is_member(self, principal: Principal, provider_id: str) -> bool:
        self.asked += 1
        return (principal.subject, provider_id) in self.rows


LEARNER = Principal(subject="pat", role=Role.LEARNER, email="pat@example.test", token="t")


async def test_a_member_acts_as_the_providers_staff() -> None:
    acting = await act_for(LEARNER, PROVIDER.upper(), Members({("pat", PROVIDER)}))

    assert (acting.role, acting.provider_id, acting.subject) == (Role.PROVIDER, PROVIDER, "pat")


@pytest.mark.parametrize("rows", [set(), {("pat", OTHER)}, {("someone", PROVIDER)}])
async def test_anyone_else_is_refused(rows: set[tuple[str, str]]) -> None:
    with pytest.raises(PermissionDeniedError):
        await act_for(LEARNER, PROVIDER, Members(rows))


async def test_a_service_that_cannot_check_refuses() -> None:
    with pytest.raises(PermissionDeniedError):
        await act_for(LEARNER, PROVIDER, None)


@pytest.mark.parametrize("value", ["", "x", "../", PROVIDER + "\x00", "1' OR '1'='1"])
async def test_a_value_that_is_no_provider_id_is_invalid(value: str) -> None:
    members = Members({("pat", PROVIDER)})
    with pytest.raises(InvalidArgumentError):
        await act_for(LEARNER, value, members)
    assert members.asked == 0


@pytest.mark.parametrize("role", [Role.ADMIN, Role.SERVICE])
async def test_admins_and_services_are_left_as_they_are(role: Role) -> None:
    caller = Principal(subject="root", role=role)
    members = Members()

    assert await act_for(caller, PROVIDER, members) is caller
    assert members.asked == 0


async def test_a_dev_provider_token_acts_only_for_its_own_provider() -> None:
    caller = Principal(subject="dev", role=Role.PROVIDER, provider_id=PROVIDER)

    assert await act_for(caller, PROVIDER, Members()) is caller
    with pytest.raises(PermissionDeniedError):
        await act_for(caller, OTHER, Members())


async def test_the_catalog_is_asked_again_once_the_cache_expires() -> None:
    """Nothing listens at the address: a cached "yes" answers without a call, and an
    expired one asks (and fails as unavailable, never as a yes)."""
    now = [100.0]
    members = CatalogMemberships("127.0.0.1:1", clock=lambda: now[0])
    members._known[("pat", PROVIDER)] = 100.0

    assert await members.is_member(LEARNER, PROVIDER) is True
    now[0] += 31
    with pytest.raises(UnavailableError, match="membership"):
        await members.is_member(LEARNER, PROVIDER)


def test_acting_as_sets_the_principal_for_the_block_only() -> None:
    admin = Principal(subject="root", role=Role.ADMIN)
    assert current_principal() is None
    with acting_as(LEARNER):
        assert current_principal() is LEARNER
        with acting_as(admin):
            assert current_principal() is admin
        assert current_principal() is LEARNER
        seen: list[Principal | None] = []
        with pytest.raises(RuntimeError):
            _fail_as(None, seen)
        assert seen == [None]
        assert current_principal() is LEARNER
    assert current_principal() is None


def _fail_as(principal: Principal | None, seen: list[Principal | None]) -> None:
    with acting_as(principal):
        seen.append(current_principal())
        raise RuntimeError("the handler failed")
