"""The one server interceptor: authenticate, authorise, validate, map errors.

It wraps each unary handler so the principal is set in the same task that runs the
handler, and so a domain error or a validation failure always leaves as a precise
status, never as UNKNOWN.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import protovalidate
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from opentelemetry import context as otel_context

from services.common import metrics, outages
from services.common.auth import Principal, TokenVerifier, acting_as, bearer
from services.common.errors import (
    FieldViolation,
    InvalidArgumentError,
    PermissionDeniedError,
    ServiceError,
    UnauthenticatedError,
)
from services.common.memberships import ACTING_PROVIDER_METADATA, MembershipResolver, act_for
from services.common.rpc import RpcPolicy
from services.common.status_codes import code_of
from services.common.telemetry import CallTraceContext
from services.common.text import REFUSED_TEXT_MESSAGE, is_clean

log = logging.getLogger(__name__)

# Infrastructure services that need no token: health probes and reflection.
_OPEN_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")

_validator = protovalidate.Validator()


def violations_of(message: Message) -> list[FieldViolation]:
    violations = _validator.collect_violations(message)
    if not violations:
        return []
    found = []
    for violation in violations:
        field_path = violation.proto.field
        elements = field_path.elements if field_path is not None else []
        path = ".".join(element.field_name or str(element.field_number) for element in elements)
        found.append(FieldViolation(path, violation.proto.message or violation.proto.rule_id))
    return found


def text_violations(message: Message, prefix: str = "") -> list[FieldViolation]:
    """Every string in `message` (nested, repeated and map fields included) that breaks the
    one text rule (services.common.text): checked here, for every request of every
    service, so no handler and no proto annotation can forget it."""
    found: list[FieldViolation] = []
    for field, value in message.ListFields():
        plan = _plans.get(field)
        if plan is None:
            plan = _plans[field] = _plan_of(field)
        is_map, repeated, kind = plan
        if is_map:
            for key, item in value.items():
                where = f"{prefix}{field.name}[{key!r}]"
                if isinstance(key, str) and not is_clean(key):
                    found.append(FieldViolation(where, REFUSED_TEXT_MESSAGE))
                _check(kind, item, where, found)
        elif kind == _OTHER:
            continue
        elif repeated:
            for index, item in enumerate(value):
                _check(kind, item, f"{prefix}{field.name}[{index}]", found)
        elif kind == _STRING:
            if not is_clean(value):
                found.append(FieldViolation(f"{prefix}{field.name}", REFUSED_TEXT_MESSAGE))
        else:
            found.extend(text_violations(value, f"{prefix}{field.name}."))
    return found


# What the text rule looks at in a field's values: strings, messages (nested), or nothing.
_OTHER, _STRING, _MESSAGE = 0, 1, 2
# Per field descriptor (upb hands out one object per field): (a map, repeated, the kind of
# its values), worked out once instead of on every request.
_plans: dict[FieldDescriptor, tuple[bool, bool, int]] = {}


def _plan_of(field: FieldDescriptor) -> tuple[bool, bool, int]:
    is_map = field.message_type is not None and bool(field.message_type.GetOptions().map_entry)
    value_field = field.message_type.fields_by_name["value"] if is_map else field
    if value_field.type == FieldDescriptor.TYPE_STRING:
        kind = _STRING
    elif value_field.type == FieldDescriptor.TYPE_MESSAGE:
        kind = _MESSAGE
    else:
        kind = _OTHER
    return is_map, bool(field.is_repeated) and not is_map, kind


def _check(kind: int, item: Any, where: str, found: list[FieldViolation]) -> None:
    if kind == _STRING:
        if not is_clean(item):
            found.append(FieldViolation(where, REFUSED_TEXT_MESSAGE))
    elif kind == _MESSAGE:
        found.extend(text_violations(item, f"{where}."))


def validate(message: Message) -> None:
    """Raise InvalidArgumentError, with every field violation, when `message` breaks its rules."""
    violations = text_violations(message) + violations_of(message)
    if violations:
        summary = "; ".join(f"{v.field}: {v.message}" for v in violations)
        raise InvalidArgumentError(f"invalid request: {summary}", violations)


def status_for(error: ServiceError) -> grpc.Status:
    """A status that carries google.rpc.BadRequest field details when there are any."""
    detail = status_pb2.Status(code=getattr(code_pb2, code_of(error).name), message=error.message)
    if error.violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.message)
                for v in error.violations
            ]
        )
        detail.details.add().Pack(bad_request)
    return rpc_status.to_status(detail)


class ServiceInterceptor(grpc.aio.ServerInterceptor):
    def __init__(
        self,
        verifier: TokenVerifier,
        policies: dict[str, RpcPolicy],
        memberships: MembershipResolver | None = None,
        *,
        trace_context: bool = False,
    ) -> None:
        """`trace_context`: run each call in a (non-recorded) span that continues the
        caller's `traceparent` from the call's metadata, for a server without
        OpenTelemetry's interceptor (services.common.runtime.server_interceptors), so that
        log lines, outbox rows and onward calls still carry the caller's trace."""
        self._verifier = verifier
        self._policies = policies
        self._memberships = memberships
        self._trace_context = CallTraceContext(__name__) if trace_context else None
        # Per method: the handler grpc found and ours around it. grpc.aio asks the
        # interceptor for every call; building the closures and the handler once per
        # method instead was 4 % of a service's CPU per call (benchmarks/README.md, round 3).
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler]] = {}

    async def _authorize(self, method: str, metadata: dict[str, Any]) -> Principal | None:
        policy = self._policies.get(method)
        if policy is None:
            log.error("rpc %s declares no access policy; refusing it", method)
            raise PermissionDeniedError("method is not exposed")
        token = bearer(metadata.get("authorization"))
        principal = await self._verifier.authenticate(token) if token else None
        acting = metadata.get(ACTING_PROVIDER_METADATA)
        if principal is not None and acting:
            # Provider staff: the membership is checked in our data before anything else.
            principal = await act_for(principal, str(acting), self._memberships)
        if policy.public:
            return principal
        if principal is None:
            raise UnauthenticatedError("a bearer token is required")
        if principal.role not in policy.roles:
            raise PermissionDeniedError(
                f"role {principal.role} may not call {method.rsplit('/', 1)[-1]}"
            )
        return principal

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(_OPEN_PREFIXES) or handler.unary_unary is None:
            return handler
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(method, handler)
        self._wrapped[method] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        inner = handler.unary_unary
        # The metric's attributes for each status code this method ended with, built once.
        attributes_of: dict[grpc.StatusCode, dict[str, str]] = {}

        async def guarded(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            # Once per call: the trace context and authentication both read it.
            metadata = dict(context.invocation_metadata() or ())
            span = token = None
            if self._trace_context is not None:
                call_context, span = self._trace_context.start(method, metadata)
                token = otel_context.attach(call_context)
            try:
                return await checked(request, context, metadata)
            finally:
                code = context.code() or grpc.StatusCode.OK
                attributes = attributes_of.get(code)
                if attributes is None:
                    attributes = attributes_of[code] = metrics.rpc_attributes(method, code)
                metrics.rpc_duration.record(time.perf_counter() - started, attributes)
                if token is not None:
                    otel_context.detach(token)
                if span is not None:
                    span.end()

        async def checked(
            request: Any, context: grpc.aio.ServicerContext, metadata: dict[str, Any]
        ) -> Any:
            try:
                principal = await self._authorize(method, metadata)
                validate(request)
                with acting_as(principal):
                    return await inner(request, context)
            except ServiceError as exc:
                # abort(), not abort_with_status(): OpenTelemetry's server wrapper around
                # `context` sees only abort() and set_code(), and sets the span's error
                # status and rpc.grpc.status_code from them. The rich status travels in the
                # trailing metadata either way.
                status = status_for(exc)
                await context.abort(status.code, status.details, status.trailing_metadata)
            except grpc.aio.AbortError:
                raise
            except Exception as exc:
                if outages.is_conflict(exc):
                    log.warning("rpc %s: %s: answered for a retry", method, outages.describe(exc))
                    await context.abort(grpc.StatusCode.UNAVAILABLE, outages.CONFLICT_MESSAGE)
                if outages.is_outage(exc):
                    # A dependency is down, not a bug: retryable, one line, no traceback.
                    log.warning("rpc %s: dependency unavailable: %s", method, outages.describe(exc))
                    await context.abort(grpc.StatusCode.UNAVAILABLE, outages.UNAVAILABLE_MESSAGE)
                # A bug, not bad input: log it with the trace, answer INTERNAL, never UNKNOWN.
                log.exception("rpc %s failed", method)
                await context.abort(grpc.StatusCode.INTERNAL, "internal error")

        return grpc.unary_unary_rpc_method_handler(
            guarded,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
