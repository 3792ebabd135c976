"""Credentials domain <-> protobuf: the issuance policy an enrollment event carries, and
the integration events a credential raises."""

from __future__ import annotations

from google.protobuf.message import Message
from upskill.catalog.v1 import catalog_pb2
from upskill.credentials.v1 import events_pb2
from upskill.enrollment.v1 import enrollment_pb2

from services.common.protos import timestamp
from services.credentials.domain import (
    CredentialEvent,
    CredentialRecord,
    IssuancePolicy,
    Issued,
    PathwayIssued,
    Revoked,
)


def policy_of(snapshot: enrollment_pb2.ProgramSnapshot) -> IssuancePolicy:
    """The snapshot's issuance policy; unspecified is the default, on completion."""
    if snapshot.credential.issuance == catalog_pb2.ISSUANCE_POLICY_ON_PAYMENT:
        return IssuancePolicy.ON_PAYMENT
    return IssuancePolicy.ON_COMPLETION


def event_to_pb(record: CredentialRecord, event: CredentialEvent) -> Message:
    match event:
        case Issued():
            return events_pb2.CredentialIssued(
                credential_id=record.id,
                enrollment_id=record.enrollment_id,
                learner_id=record.learner_id,
                program_id=record.program_id,
                occur_time=timestamp(record.issued_at),
            )
        case Revoked(reason=reason):
            return events_pb2.CredentialRevoked(
                credential_id=record.id,
                enrollment_id=record.enrollment_id,
                reason=reason,
                occur_time=timestamp(record.revoked_at),
                pathway_id=record.pathway_id,
            )
        case PathwayIssued(pathway_id=pathway_id, component_ids=component_ids):
            return events_pb2.PathwayCredentialIssued(
                credential_id=record.id,
                pathway_id=pathway_id,
                learner_id=record.learner_id,
                component_credential_ids=list(component_ids),
                occur_time=timestamp(record.issued_at),
            )
    raise TypeError(f"unknown domain event {event!r}")
