"""Catalog domain objects <-> protobuf messages."""

from __future__ import annotations

from google.protobuf.message import Message
from upskill.catalog.v1 import catalog_pb2, catalog_service_pb2
from upskill.type.v1 import money_pb2

from services.catalog.domain import (
    DEFAULT_ISSUANCE,
    CredentialTemplate,
    Issuance,
    Program,
    ProgramSpec,
    Provider,
)
from services.common.protos import timestamp
from services.common.volume_tiers import VolumeTier

_ISSUANCE_TO_PB = {
    Issuance.ON_COMPLETION: catalog_pb2.ISSUANCE_POLICY_ON_COMPLETION,
    Issuance.ON_PAYMENT: catalog_pb2.ISSUANCE_POLICY_ON_PAYMENT,
}
_STATUS_TO_PB = {
    "DRAFT": catalog_pb2.PROGRAM_STATUS_DRAFT,
    "PUBLISHED": catalog_pb2.PROGRAM_STATUS_PUBLISHED,
    "ARCHIVED": catalog_pb2.PROGRAM_STATUS_ARCHIVED,
}


def template_to_pb(t: CredentialTemplate) -> catalog_pb2.CredentialTemplate:
    pb = catalog_pb2.CredentialTemplate(
        name=t.name,
        description=t.description,
        criteria=t.criteria,
        issuance=_ISSUANCE_TO_PB[t.issuance],
    )
    if t.valid_for_days is not None:
        pb.valid_for_days = t.valid_for_days
    return pb


def spec_to_pb(s: ProgramSpec) -> catalog_pb2.ProgramSpec:
    pb = catalog_pb2.ProgramSpec(
        title=s.title,
        summary=s.summary,
        description=s.description,
        skills=list(s.skills),
        duration_hours=s.duration_hours,
        price=money_pb2.Money(amount_minor=s.price_minor, currency=s.currency),
        credential=template_to_pb(s.credential),
        volume_tiers=[
            catalog_pb2.VolumeTier(min_seats=t.min_seats, unit_amount_minor=t.unit_amount_minor)
            for t in s.volume_tiers
        ],
    )
    if s.capacity is not None:
        pb.capacity = s.capacity
    return pb


def spec_from_pb(pb: catalog_pb2.ProgramSpec) -> ProgramSpec:
    c = pb.credential
    issuance = (
        Issuance.ON_PAYMENT
        if c.issuance == catalog_pb2.ISSUANCE_POLICY_ON_PAYMENT
        else DEFAULT_ISSUANCE  # unspecified: the catalog decides, for every client
    )
    return ProgramSpec(
        title=pb.title.strip(),
        summary=pb.summary.strip(),
        description=pb.description,
        skills=tuple(skill.strip() for skill in pb.skills),
        duration_hours=pb.duration_hours,
        price_minor=pb.price.amount_minor,
        currency=pb.price.currency,
        capacity=pb.capacity if pb.HasField("capacity") else None,
        credential=CredentialTemplate(
            name=c.name.strip(),
            description=c.description,
            criteria=c.criteria,
            issuance=issuance,
            valid_for_days=c.valid_for_days if c.HasField("valid_for_days") else None,
        ),
        volume_tiers=tuple(VolumeTier(t.min_seats, t.unit_amount_minor) for t in pb.volume_tiers),
    )


def provider_to_pb(p: Provider) -> catalog_pb2.Provider:
    return catalog_pb2.Provider(
        id=p.id, name=p.name, website=p.website, email=p.email, create_time=timestamp(p.created_at)
    )


def program_to_pb(p: Program) -> catalog_pb2.Program:
    return catalog_pb2.Program(
        id=p.id,
        provider_id=p.provider_id,
        provider_name=p.provider_name,
        spec=spec_to_pb(p.spec),
        status=_STATUS_TO_PB[p.status.value],
        version=p.version,
        create_time=timestamp(p.created_at),
        update_time=timestamp(p.updated_at),
    )


def spec_from_patch(
    current: ProgramSpec, patch: catalog_service_pb2.ProgramPatch, paths: list[str]
) -> ProgramSpec:
    """The values a patch gives the masked fields, as a whole spec for domain.merge: the
    current spec with each masked field taken from the patch (cleared where the patch
    leaves it unset). The merge itself is the domain's."""
    spec = spec_to_pb(current)
    apply_mask(patch, spec, paths, nested="credential")
    return spec_from_pb(spec)


def apply_mask(patch: Message, spec: Message, paths: list[str], *, nested: str) -> None:
    """Give each masked field of `spec` the patch's value (cleared where the patch leaves it
    unset). `nested` is the one message field whose own fields a path may name
    (`nested.name`); the path `nested` alone takes all of them. Programs and pathways
    patch the same way (services/catalog/pathway_store.py)."""
    for path in paths:
        top, _, sub = path.partition(".")
        if top == nested:
            source, target = getattr(patch, nested), getattr(spec, nested)
            for name in [sub] if sub else list(source.DESCRIPTOR.fields_by_name):
                _take(source, target, name)
        else:
            _take(patch, spec, top)


def _take(source: Message, target: Message, name: str) -> None:
    field = source.DESCRIPTOR.fields_by_name[name]
    if field.is_repeated:
        target.ClearField(name)
        getattr(target, name).extend(getattr(source, name))
    elif not source.HasField(name):
        target.ClearField(name)
    elif field.message_type is not None:
        getattr(target, name).CopyFrom(getattr(source, name))
    else:
        setattr(target, name, getattr(source, name))
