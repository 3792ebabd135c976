"""Per-method policy: every RPC handler declares who may call it.

`@rpc(Role.ADMIN)` admits admins; `@rpc(public=True)` admits anyone, with or without a
token. A handler without a declaration is refused by the server interceptor (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from services.common.auth import Role

F = TypeVar("F", bound=Callable[..., Any])

POLICY_ATTR = "__upskill_rpc_policy__"


@dataclass(frozen=True)
class RpcPolicy:
    roles: frozenset[Role]
    public: bool


def rpc(*roles: Role, public: bool = False) -> Callable[[F], F]:
    if not roles and not public:
        raise ValueError("an RPC must admit at least one role or be public")

    def mark(handler: F) -> F:
        setattr(handler, POLICY_ATTR, RpcPolicy(frozenset(roles), public))
        return handler

    return mark


def policies_of(servicer: object, service_full_name: str) -> dict[str, RpcPolicy]:
    """Map '/pkg.Service/Method' to the policy declared on the servicer's (or servicer
    class's) method."""
    cls = servicer if isinstance(servicer, type) else type(servicer)
    found: dict[str, RpcPolicy] = {}
    for name in dir(cls):
        policy = getattr(getattr(cls, name, None), POLICY_ATTR, None)
        if isinstance(policy, RpcPolicy):
            found[f"/{service_full_name}/{name}"] = policy
    return found
