"""Pathway credentials on a real database, fed through the consumer's inbox exactly as the
running service is (services/credentials/pathways.py holds the rules): issued once when the
learner holds the requirements, in whatever order the component credentials and the
pathway's own events arrive, however often each is delivered; revoked with its component;
issued anew when the component is earned again; and it passes the official OB 3.0 schema
with `evidence` citing the components."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import jwt
import pytest
from google.protobuf.message import Message
from upskill.catalog.v1 import catalog_pb2
from upskill.catalog.v1 import events_pb2 as catalog_events
from upskill.enrollment.v1 import enrollment_pb2
from upskill.enrollment.v1 import events_pb2 as enrollment_events
from upskill.type.v1 import money_pb2

from services.common import events
from services.common.consumer import ContractViolationError, EventConsumer, Subscription
from services.credentials import pathways
from services.credentials.consumers import subscriptions as credential_subscriptions
from services.credentials.issuer import Issuer
from services.credentials.keys import IssuerKey
from services.credentials.pathway_consumers import subscriptions as pathway_subscriptions
from services.credentials.pathway_progress import learner_progress
from tests.databases import migrated_pool
from tests.polling import eventually_async
from tests.standards import describe, schema_errors

pytestmark = pytest.mark.asyncio(loop_scope="session")

BASE = "http://upskill.test"
PROVIDER = str(uuid.uuid4())


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(fresh_database, "services.credentials") as pool:
        yield pool


@pytest.fixture
async def service(pool: asyncpg.Pool) -> Service:
    issuer = Issuer(IssuerKey.generate(), BASE)
    async with pool.acquire() as conn:
        await issuer.register_key(conn)
    return Service(pool, issuer)


class Service:
    """The credentials service's consumer (inbox and all), without NATS in front."""

    def __init__(self, pool: asyncpg.Pool, issuer: Issuer) -> None:
        self.pool = pool
        self.issuer = issuer
        subs: list[Subscription] = credential_subscriptions(issuer) + pathway_subscriptions(issuer)
        self.handlers = {s.event_type.DESCRIPTOR.full_name: s.handler for s in subs}
        # Only _apply is used: the inbox row and the handler in one transaction.
        self.consumer = EventConsumer("credentials", pool, None, subs)  # type: ignore[arg-type]

    async def deliver(self, event: Message, event_id: str | None = None) -> bool:
        """One delivery; False when the inbox says it was handled before."""
        envelope = events.Envelope(
            id=event_id or str(uuid.uuid4()),
            type=event.DESCRIPTOR.full_name,
            source="test",
            subject="",
            time="",
        )
        return await self.consumer._apply(
            self.handlers[event.DESCRIPTOR.full_name], event, envelope
        )

    async def rows(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            return list(await conn.fetch(sql, *args))

    async def pathway_credentials(self, learner: str) -> list[asyncpg.Record]:
        return await self.rows(
            """SELECT * FROM credentials WHERE learner_id = $1 AND pathway_id IS NOT NULL
               ORDER BY issued_at""",
            learner,
        )


def program(title: str) -> enrollment_pb2.ProgramSnapshot:
    return enrollment_pb2.ProgramSnapshot(
        program_id=str(uuid.uuid4()),
        provider_id=PROVIDER,
        provider_name="Acme Academy",
        title=title,
        price=money_pb2.Money(amount_minor=4900, currency="USD"),
        skills=[title],
        credential=catalog_pb2.CredentialTemplate(
            name=f"{title} badge",
            description="Can do it.",
            criteria="Passed.",
            issuance=catalog_pb2.ISSUANCE_POLICY_ON_COMPLETION,
        ),
    )


def published(
    programs: list[enrollment_pb2.ProgramSnapshot],
    *,
    pathway_id: str | None = None,
    required: int = 0,
    version: int = 2,
) -> catalog_events.PathwayPublished:
    return catalog_events.PathwayPublished(
        pathway=catalog_pb2.Pathway(
            id=pathway_id or str(uuid.uuid4()),
            provider_id=PROVIDER,
            provider_name="Acme Academy",
            version=version,
            status=catalog_pb2.PATHWAY_STATUS_PUBLISHED,
            spec=catalog_pb2.PathwaySpec(
                title="Data analyst",
                program_ids=[p.program_id for p in programs],
                required_count=required,
                achievement=catalog_pb2.PathwayAchievement(
                    name="Data Analyst Pathway",
                    description="Queries, models and reports on data.",
                    criteria="Earned every credential of the pathway.",
                    skills=["Data analysis"],
                    image_url="https://upskill.test/badges/analyst.png",
                ),
            ),
        )
    )


def completed(
    snap: enrollment_pb2.ProgramSnapshot, learner: str, enrollment_id: str | None = None
) -> enrollment_events.EnrollmentCompleted:
    return enrollment_events.EnrollmentCompleted(
        enrollment_id=enrollment_id or str(uuid.uuid4()),
        learner_id=learner,
        learner_email=f"{learner}@example.com",
        program=snap,
    )


def refunded(enrollment_id: str) -> enrollment_events.EnrollmentRefunded:
    return enrollment_events.EnrollmentRefunded(
        enrollment_id=enrollment_id, payment_id=str(uuid.uuid4()), reason="requested"
    )


THREE = [program("SQL"), program("Modelling"), program("Reporting")]


@pytest.mark.parametrize(
    "order", list(itertools.permutations(range(4))), ids=lambda o: "".join(map(str, o))
)
async def test_any_order_of_components_and_pathway_issues_one_credential(
    service: Service, order: tuple[int, ...]
) -> None:
    """Index 3 is the PathwayPublished: before, between or after the components."""
    learner = f"l-{uuid.uuid4().hex[:8]}"
    pathway = published(THREE)
    deliveries: list[Message] = [completed(p, learner) for p in THREE] + [pathway]
    for i in order:
        await service.deliver(deliveries[i])

    issued = await service.pathway_credentials(learner)
    assert len(issued) == 1
    assert issued[0]["status"] == "ISSUED"
    cited = await service.rows(
        "SELECT component_id::text FROM pathway_components WHERE credential_id = $1",
        issued[0]["id"],
    )
    components = await service.rows(
        "SELECT id::text FROM credentials WHERE learner_id = $1 AND program_id IS NOT NULL",
        learner,
    )
    assert {r["component_id"] for r in cited} == {r["id"] for r in components}


async def test_duplicated_and_replayed_events_change_nothing(service: Service) -> None:
    learner = "dupe"
    pathway = published(THREE)
    first = [completed(p, learner) for p in THREE]
    ids = [str(uuid.uuid4()) for _ in first]
    for event, event_id in zip(first, ids, strict=True):
        assert await service.deliver(event, event_id)
    assert await service.deliver(pathway, "00000000-0000-4000-8000-000000000001")
    # Redelivered under the same ids: the inbox stops them.
    for event, event_id in zip(first, ids, strict=True):
        assert not await service.deliver(event, event_id)
    assert not await service.deliver(pathway, "00000000-0000-4000-8000-000000000001")
    # Replayed under new ids (the inbox forgot): the rules stop them.
    replays: list[Message] = [*first, pathway]
    for replay in replays:
        assert await service.deliver(replay)

    assert len(await service.pathway_credentials(learner)) == 1
    outbox = await service.rows(
        "SELECT count(*) AS n FROM outbox WHERE type = 'upskill.credentials.v1.PathwayCredentialIssued'"
    )
    assert outbox[0]["n"] == 1


async def test_two_last_components_issued_at_once_give_one_credential(service: Service) -> None:
    """Two replicas issue the last two components at the same time. Were they not
    serialised, neither transaction would see the other's component and no pathway
    credential would ever be issued; the second waits for the first to commit (the
    learner's lock, and the provider's status list), then sees its component and awards
    the pathway, once."""
    learner = "race"
    programs = [program("A"), program("B"), program("C")]
    await service.deliver(published(programs))
    await service.deliver(completed(programs[0], learner))
    envelope = events.Envelope(str(uuid.uuid4()), "t", "test", "", "")
    handler = service.handlers[enrollment_events.EnrollmentCompleted.DESCRIPTOR.full_name]

    async with service.pool.acquire() as first:
        transaction = first.transaction()
        await transaction.start()
        await handler(first, completed(programs[1], learner), envelope)
        second = asyncio.create_task(service.deliver(completed(programs[2], learner)))
        await eventually_async(
            lambda: service.rows("SELECT 1 FROM pg_locks WHERE NOT granted"),
            what="the second issuance to wait for the first",
        )
        await transaction.commit()
    await second

    issued = await service.pathway_credentials(learner)
    assert len(issued) == 1
    cited = await service.rows(
        "SELECT count(*) AS n FROM pathway_components WHERE credential_id = $1", issued[0]["id"]
    )
    assert cited[0]["n"] == 3


def elsewhere(snap: enrollment_pb2.ProgramSnapshot) -> enrollment_pb2.ProgramSnapshot:
    """The program, at a provider of its own (so its issuance shares no status list)."""
    moved = enrollment_pb2.ProgramSnapshot()
    moved.CopyFrom(snap)
    moved.provider_id = str(uuid.uuid4())
    return moved


async def in_flight(service: Service, event: Message) -> tuple[asyncpg.Connection, Any]:
    """The event's handler run in a transaction left open: (connection, transaction)."""
    conn = await service.pool.acquire()
    transaction = conn.transaction()
    await transaction.start()
    envelope = events.Envelope(str(uuid.uuid4()), "t", "test", "", "")
    await service.handlers[event.DESCRIPTOR.full_name](conn, event, envelope)
    return conn, transaction


async def someone_waits(service: Service) -> None:
    await eventually_async(
        lambda: service.rows("SELECT 1 FROM pg_locks WHERE NOT granted"),
        what="the second transaction to wait for the first",
    )


async def test_two_last_components_of_other_providers_at_once_give_one_credential(
    service: Service,
) -> None:
    """As above, with components whose issuances share no status list: the learner's lock
    alone makes the second wait for the first and see its component."""
    learner = "race-elsewhere"
    programs = [program("A"), elsewhere(program("B")), elsewhere(program("C"))]
    await service.deliver(published(programs))
    await service.deliver(completed(programs[0], learner))

    conn, transaction = await in_flight(service, completed(programs[1], learner))
    try:
        second = asyncio.create_task(service.deliver(completed(programs[2], learner)))
        await someone_waits(service)
        await transaction.commit()
    finally:
        await service.pool.release(conn)
    await second

    assert len(await service.pathway_credentials(learner)) == 1


async def test_a_pathway_published_while_its_last_component_is_issued_is_awarded(
    service: Service,
) -> None:
    """The pathway gate: whichever of the two commits first, the other sees it."""
    for first in ("publication", "issuance"):
        learner = f"gate-{first}"
        programs = [elsewhere(program("A")), elsewhere(program("B"))]
        await service.deliver(completed(programs[0], learner))
        publication, issuance = published(programs), completed(programs[1], learner)
        held, then = (publication, issuance) if first == "publication" else (issuance, publication)

        conn, transaction = await in_flight(service, held)
        try:
            second = asyncio.create_task(service.deliver(then))
            await someone_waits(service)
            await transaction.commit()
        finally:
            await service.pool.release(conn)
        await second

        assert len(await service.pathway_credentials(learner)) == 1, first


async def test_the_learners_lock_is_taken_only_for_a_program_in_a_pathway(
    service: Service,
) -> None:
    learner = "lockless"
    in_pathway, alone = program("A"), program("Alone")
    await service.deliver(published([in_pathway, program("B")]))

    async def learner_locked(event: Message) -> bool:
        conn, transaction = await in_flight(service, event)
        try:
            return bool(
                await conn.fetchval(
                    """SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
                           AND pid = pg_backend_pid() AND classid = $1 AND objsubid = 2)""",
                    pathways.LEARNER_LOCK_CLASS,
                )
            )
        finally:
            await transaction.rollback()
            await service.pool.release(conn)

    assert not await learner_locked(completed(alone, learner))
    assert await learner_locked(completed(in_pathway, learner))


async def test_k_of_n_issues_at_k_and_cites_k(service: Service) -> None:
    learner = "kofn"
    programs = [program("A"), program("B"), program("C")]
    await service.deliver(published(programs, required=2))
    await service.deliver(completed(programs[2], learner))
    assert await service.pathway_credentials(learner) == []
    await service.deliver(completed(programs[0], learner))
    issued = await service.pathway_credentials(learner)
    assert len(issued) == 1
    cited = await service.rows(
        "SELECT count(*) AS n FROM pathway_components WHERE credential_id = $1", issued[0]["id"]
    )
    assert cited[0]["n"] == 2


async def test_revoking_a_component_revokes_the_pathway_and_re_earning_reissues(
    service: Service,
) -> None:
    learner = "revoke"
    await service.deliver(published(THREE))
    enrollment_ids = [str(uuid.uuid4()) for _ in THREE]
    for snap, enrollment_id in zip(THREE, enrollment_ids, strict=True):
        await service.deliver(completed(snap, learner, enrollment_id))
    first = (await service.pathway_credentials(learner))[0]

    await service.deliver(refunded(enrollment_ids[1]))

    [revoked] = await service.pathway_credentials(learner)
    assert revoked["id"] == first["id"]
    assert revoked["status"] == "REVOKED"
    assert revoked["revocation_reason"] == pathways.component_revoked_reason(
        "Modelling badge", "refunded"
    )
    # Reordered/late: the refund again, and the old completion again, change nothing.
    await service.deliver(refunded(enrollment_ids[1]))
    await service.deliver(completed(THREE[1], learner, enrollment_ids[1]))
    assert [r["status"] for r in await service.pathway_credentials(learner)] == ["REVOKED"]

    # Re-earned through a new enrollment: a new pathway credential, citing the new one.
    await service.deliver(completed(THREE[1], learner))
    statuses = [r["status"] for r in await service.pathway_credentials(learner)]
    assert statuses == ["REVOKED", "ISSUED"]


async def test_a_pathway_credential_revoked_by_a_person_is_not_reissued(
    service: Service,
) -> None:
    learner = "barred"
    programs = [program("A"), program("B"), program("C")]
    await service.deliver(published(programs, required=2))
    for snap in programs[:2]:
        await service.deliver(completed(snap, learner))
    [record] = await service.pathway_credentials(learner)
    async with service.pool.acquire() as conn, conn.transaction():
        from services.credentials import repository

        found = await repository.get(conn, str(record["id"]), for_update=True)
        assert await service.issuer.revoke(conn, found, "misconduct")
    await service.deliver(completed(programs[2], learner))
    assert [r["status"] for r in await service.pathway_credentials(learner)] == ["REVOKED"]


async def test_archived_before_published_arrives_awards_nothing(service: Service) -> None:
    learner = "archived"
    pathway_id = str(uuid.uuid4())
    await service.deliver(
        catalog_events.PathwayArchived(pathway_id=pathway_id, provider_id=PROVIDER, version=3)
    )
    await service.deliver(published(THREE, pathway_id=pathway_id, version=2))
    for snap in THREE:
        await service.deliver(completed(snap, learner))
    assert await service.pathway_credentials(learner) == []
    async with service.pool.acquire() as conn:
        found = await pathways.progress(conn, pathway_id, learner)
    assert found.pathway.open is False
    assert len(found.components) == 3


async def test_the_pathway_credential_passes_the_official_ob3_schema(service: Service) -> None:
    learner = "schema"
    await service.deliver(published(THREE))
    for snap in THREE:
        await service.deliver(completed(snap, learner))
    [record] = await service.pathway_credentials(learner)
    claims = jwt.decode(record["jwt"], options={"verify_signature": False})

    assert describe(schema_errors(claims)) == []
    assert claims["credentialSubject"]["achievement"]["name"] == "Data Analyst Pathway"
    assert claims["credentialSubject"]["achievement"]["image"]["type"] == "Image"
    assert [e["name"] for e in claims["evidence"]] == [f"{p.title} badge" for p in THREE]
    async with service.pool.acquire() as conn:
        verdict = await service.issuer.verify(conn, record["jwt"])
    assert verdict.verified, verdict


async def test_a_pathway_event_that_breaks_the_contract_is_refused(service: Service) -> None:
    bad = published(THREE)
    bad.pathway.id = "not-an-id"
    with pytest.raises(ContractViolationError):
        await service.deliver(bad)
    too_few = published(THREE[:1])
    with pytest.raises(ContractViolationError):
        await service.deliver(too_few)


# ---------------------------------------------------------------- a learner's pathways
# (services/credentials/pathway_progress.py: which pathways a learner started, how far
# along each is, archived ones, revoked components, the bound on how many are returned)


async def mine(
    service: Service, learner: str, limit: int = 20
) -> tuple[list[pathways.Progress], bool]:
    async with service.pool.acquire() as conn:
        return await learner_progress(conn, learner, limit)


def summary(found: list[pathways.Progress]) -> list[tuple[str, int, int, bool]]:
    return [
        (p.pathway.id, len(p.components), p.pathway.required, bool(p.pathway_credential_id))
        for p in found
    ]


async def test_only_started_pathways_most_advanced_first(service: Service) -> None:
    learner = f"l-{uuid.uuid4().hex[:8]}"
    a = [program("A1"), program("A2"), program("A3")]
    b = [program("B1"), program("B2")]
    c = [program("C1"), program("C2"), program("C3")]
    untouched = [program("U1"), program("U2")]
    pa, pb, pc, pu = published(a), published(b), published(c, required=2), published(untouched)
    for event in (pa, pb, pc, pu):
        await service.deliver(event)
    assert await mine(service, learner) == ([], False)

    await service.deliver(completed(a[0], learner))
    await service.deliver(completed(c[1], learner))
    found, more = await mine(service, learner)
    assert not more
    # C: 1 of 2 is further along than A: 1 of 3; B and U are not started.
    assert summary(found) == [(pc.pathway.id, 1, 2, False), (pa.pathway.id, 1, 3, False)]
    assert [r for r in found[1].pathway.program_ids if r in found[1].components] == [
        a[0].program_id
    ]

    for snap in a[1:]:
        await service.deliver(completed(snap, learner))
    found, _ = await mine(service, learner)
    # The earned pathway comes first, with its credential.
    assert summary(found) == [(pa.pathway.id, 3, 3, True), (pc.pathway.id, 1, 2, False)]
    held = await service.pathway_credentials(learner)
    assert found[0].pathway_credential_id == str(held[0]["id"])
    # Another learner sees none of it.
    assert await mine(service, f"other-{learner}") == ([], False)


async def test_revoked_component_counts_no_more(service: Service) -> None:
    learner = f"l-{uuid.uuid4().hex[:8]}"
    two = [program("R1"), program("R2")]
    pathway = published(two)
    await service.deliver(pathway)
    enrollment_id = str(uuid.uuid4())
    await service.deliver(completed(two[0], learner, enrollment_id))
    assert summary((await mine(service, learner))[0]) == [(pathway.pathway.id, 1, 2, False)]
    await service.deliver(refunded(enrollment_id))
    assert await mine(service, learner) == ([], False)


async def test_archived_pathway_shows_only_while_its_credential_is_held(
    service: Service,
) -> None:
    learner = f"l-{uuid.uuid4().hex[:8]}"
    earned = [program("E1"), program("E2")]
    dropped = [program("D1"), program("D2")]
    pe, pd = published(earned), published(dropped)
    await service.deliver(pe)
    await service.deliver(pd)
    for snap in earned:
        await service.deliver(completed(snap, learner))
    await service.deliver(completed(dropped[0], learner))
    for p in (pe, pd):
        await service.deliver(
            catalog_events.PathwayArchived(pathway_id=p.pathway.id, provider_id=PROVIDER, version=3)
        )
    found, _ = await mine(service, learner)
    # The one they can no longer earn is gone; the one they hold stays, closed.
    assert summary(found) == [(pe.pathway.id, 2, 2, True)]
    assert found[0].pathway.open is False


async def test_at_most_limit_pathways_and_says_there_are_more(service: Service) -> None:
    learner = f"l-{uuid.uuid4().hex[:8]}"
    shared = program("Shared")
    pathways = [published([shared, program(f"P{i}")]) for i in range(3)]
    for p in pathways:
        await service.deliver(p)
    await service.deliver(completed(shared, learner))
    found, more = await mine(service, learner, limit=2)
    assert more
    assert [p.pathway.id for p in found] == sorted(p.pathway.id for p in pathways)[:2]
    found, more = await mine(service, learner, limit=3)
    assert not more
    assert len(found) == 3
