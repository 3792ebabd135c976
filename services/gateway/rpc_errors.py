"""gRPC statuses from the services, as problem details for HTTP clients.

4xx answers pass the service's message through when the service wrote it for callers
(a domain error, sent by the shared interceptor with a google.rpc.Status); a bare status
(a library's or a crash's) gets a stable sentence instead, its text going to the log.
5xx answers say nothing about internals. INVALID_ARGUMENT carries google.rpc.BadRequest
field violations, renamed from proto paths to the JSON fields the client sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.common.outages import PEER_UNAVAILABLE
from services.gateway.problems import FieldError, ProblemError

log = logging.getLogger(__name__)

# code -> (HTTP status, problem slug)
_CLIENT_ERRORS: dict[grpc.StatusCode, tuple[int, str]] = {
    # The request was well-formed but breaks a rule: 422 with the fields, like the
    # gateway's own validation (400 stays for what cannot be parsed at all).
    grpc.StatusCode.INVALID_ARGUMENT: (422, "invalid-input"),
    grpc.StatusCode.OUT_OF_RANGE: (422, "invalid-input"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "unauthenticated"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "forbidden"),
    grpc.StatusCode.NOT_FOUND: (404, "not-found"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "already-exists"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "conflict"),
    # The catalog answers ABORTED when expected_version (our If-Match) is stale.
    grpc.StatusCode.ABORTED: (412, "version-mismatch"),
    # Sold out: no seat left is a conflict with the program's state, not a rate limit.
    grpc.StatusCode.RESOURCE_EXHAUSTED: (409, "sold-out"),
}

RETRY_AFTER_SECONDS = "2"
_RICH_STATUS_KEY = "grpc-status-details-bin"


def problem_from_rpc_error(
    error: grpc.RpcError, renames: Mapping[str, str] | None = None
) -> ProblemError:
    """The problem to answer for a failed RPC.

    `renames` maps a proto field path prefix to the JSON path the client used, e.g.
    {"spec": ""} turns "spec.price.currency" into "price.currency".
    """
    code = _code_of(error)
    details = _details_of(error)
    if code is not None and code in _CLIENT_ERRORS:
        status, slug = _CLIENT_ERRORS[code]
        headers = {"WWW-Authenticate": 'Bearer realm="upskill"'} if status == 401 else None
        written_for_callers = _has_rich_status(error)
        if not written_for_callers:
            log.warning("upstream %s without a rich status: %s", code.name, details)
        return ProblemError(
            status,
            (details if written_for_callers else "") or slug.replace("-", " "),
            slug=slug,
            errors=field_errors(error, renames or {}),
            headers=headers,
            grpc_code=code.name,
        )
    if code is not None and code in PEER_UNAVAILABLE:
        log.warning("upstream %s: %s", code.name, details)
        return ProblemError(
            503,
            "a backing service is unavailable; retry shortly",
            slug="service-unavailable",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
            grpc_code=code.name,
        )
    log.error("upstream failed with %s: %s", code.name if code else "no status", details)
    return ProblemError(
        502,
        "a backing service failed to answer this request",
        slug="bad-gateway",
        grpc_code=code.name if code else None,
    )


def field_errors(error: grpc.RpcError, renames: Mapping[str, str]) -> list[FieldError]:
    """The BadRequest field violations carried in grpc-status-details-bin, if any."""
    status = _rich_status(error)
    if status is None:
        return []
    found: list[FieldError] = []
    for detail in status.details:
        if not detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            continue
        bad_request = error_details_pb2.BadRequest()
        detail.Unpack(bad_request)
        for violation in bad_request.field_violations:
            found.append(
                FieldError(field=rename(violation.field, renames), message=violation.description)
            )
    return found


def rename(path: str, renames: Mapping[str, str]) -> str:
    """Apply the longest matching prefix rename to a dotted proto field path."""
    parts = path.split(".")
    for size in range(len(parts), 0, -1):
        prefix = ".".join(parts[:size])
        if prefix in renames:
            rest = parts[size:]
            head = renames[prefix]
            return ".".join([head, *rest] if head else rest) or path
    return path


def _has_rich_status(error: grpc.RpcError) -> bool:
    """Whether the call carries a google.rpc.Status, as every error our services mean to
    send does (services.common.interceptors.status_for)."""
    trailing = getattr(error, "trailing_metadata", None)
    metadata = trailing() if callable(trailing) else None
    return any(key == _RICH_STATUS_KEY for key, _ in metadata or ())


def _rich_status(error: grpc.RpcError) -> status_pb2.Status | None:
    """The google.rpc.Status our services attach to every error they mean to send."""
    try:
        return rpc_status.from_call(error)
    except (ValueError, AttributeError, TypeError):
        return None


def _code_of(error: grpc.RpcError) -> grpc.StatusCode | None:
    code = getattr(error, "code", None)
    if not callable(code):
        return None
    value = code()
    return value if isinstance(value, grpc.StatusCode) else None


def _details_of(error: grpc.RpcError) -> str:
    details = getattr(error, "details", None)
    if not callable(details):
        return ""
    value = details()
    return value if isinstance(value, str) else ""
