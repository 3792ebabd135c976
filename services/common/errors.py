"""Domain errors: plain exceptions, importable by any domain module (no grpc here).

Domains and handlers raise these; the API layer maps each kind onto its gRPC status
(services/common/status_codes.py, applied by the server interceptor), so no domain touches
grpc and no bad input surfaces as UNKNOWN.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    field: str
    message: str


class ServiceError(Exception):
    """A failure the caller is told about in words (and field details); the base kind is
    a server-side failure (INTERNAL)."""

    def __init__(self, message: str, violations: list[FieldViolation] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.violations = violations or []


class InvalidArgumentError(ServiceError):
    """The input breaks a rule; `violations` name the fields."""


class NotFoundError(ServiceError):
    pass


class AlreadyExistsError(ServiceError):
    pass


class FailedPreconditionError(ServiceError):
    """The input is fine, but the object's state does not allow the change."""


class PermissionDeniedError(ServiceError):
    pass


class UnauthenticatedError(ServiceError):
    pass


class ResourceExhaustedError(ServiceError):
    """Nothing left to take (sold out, a quota spent)."""


class UnavailableError(ServiceError):
    """A dependency is down for now: the caller may retry."""


class ConflictError(ServiceError):
    """A concurrent write won (stale version): re-read and retry."""
