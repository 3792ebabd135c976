"""The API layer's half of the domain errors (services/common/errors.py): which gRPC
status each kind of error leaves as. The one place that maps them; the server interceptor
applies it, and tests name it to check the wire."""

from __future__ import annotations

import grpc

from services.common.errors import (
    AlreadyExistsError,
    ConflictError,
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    ServiceError,
    UnauthenticatedError,
    UnavailableError,
)

STATUS_OF: dict[type[ServiceError], grpc.StatusCode] = {
    InvalidArgumentError: grpc.StatusCode.INVALID_ARGUMENT,
    NotFoundError: grpc.StatusCode.NOT_FOUND,
    AlreadyExistsError: grpc.StatusCode.ALREADY_EXISTS,
    FailedPreconditionError: grpc.StatusCode.FAILED_PRECONDITION,
    PermissionDeniedError: grpc.StatusCode.PERMISSION_DENIED,
    UnauthenticatedError: grpc.StatusCode.UNAUTHENTICATED,
    ResourceExhaustedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    UnavailableError: grpc.StatusCode.UNAVAILABLE,
    # A stale version: the caller re-reads and retries (the gateway answers 412).
    ConflictError: grpc.StatusCode.ABORTED,
}


def code_of(error: ServiceError) -> grpc.StatusCode:
    """The status for `error`: its own kind's, else the nearest base kind's, else INTERNAL."""
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return grpc.StatusCode.INTERNAL
