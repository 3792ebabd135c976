"""The credentials service's issuing code on a real database: what it issues passes the
official 1EdTech OB 3.0 schema, status-list indexes are random and unique and lists grow,
keys rotate on a schedule and a withdrawn key's credentials stop verifying, and credentials
issued before the OB 3.0 JWT format keep verifying after the migration."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from joserfc import jws
from upskill.catalog.v1 import catalog_pb2
from upskill.enrollment.v1 import enrollment_pb2
from upskill.type.v1 import money_pb2

from services.cli.main import main
from services.common import db
from services.credentials import pathways, repository
from services.credentials.badges import Issuance, build_credential
from services.credentials.issuer import Issuer, NoSigningKeyError
from services.credentials.keys import JWS_REGISTRY, IssuerKey
from services.credentials.status_list import MIN_BITS, decode_list, is_set
from services.credentials.verification import VerificationStatus
from tests.databases import migrated_pool
from tests.polling import eventually_async
from tests.standards import ACHIEVEMENT_ONLY_PATHS, describe, schema_errors

pytestmark = pytest.mark.asyncio(loop_scope="session")

BASE = "http://upskill.test"
ESCO = "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"


def snapshot(provider_id: str | None = None, **template: Any) -> enrollment_pb2.ProgramSnapshot:
    return enrollment_pb2.ProgramSnapshot(
        program_id=str(uuid.uuid4()),
        provider_id=provider_id or str(uuid.uuid4()),
        provider_name="Acme Academy",
        title="Intro to SQL",
        price=money_pb2.Money(amount_minor=4900, currency="USD"),
        skills=["SQL", "Data modelling", ESCO],
        credential=catalog_pb2.CredentialTemplate(
            name="SQL Basics",
            description="Can query a relational database.",
            criteria="Passed the final project.",
            issuance=catalog_pb2.ISSUANCE_POLICY_ON_COMPLETION,
            **template,
        ),
    )


@pytest.fixture
async def pool(fresh_database: str) -> AsyncIterator[asyncpg.Pool]:
    async with migrated_pool(fresh_database, "services.credentials") as pool:
        yield pool


async def issue(
    pool: asyncpg.Pool, issuer: Issuer, snap: enrollment_pb2.ProgramSnapshot | None = None
) -> repository.CredentialRecord:
    async with pool.acquire() as conn, conn.transaction():
        record = await issuer.issue(
            conn,
            enrollment_id=str(uuid.uuid4()),
            learner_id="alice",
            learner_email="alice@example.com",
            snapshot=snap or snapshot(),
        )
    assert record is not None
    return record


async def verify(pool: asyncpg.Pool, issuer: Issuer, token: str) -> VerificationStatus:
    async with pool.acquire() as conn:
        return (await issuer.verify(conn, token)).status


def payload(token: str) -> dict[str, Any]:
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def header(token: str) -> dict[str, Any]:
    segment = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


async def started(pool: asyncpg.Pool, *keys: IssuerKey) -> Issuer:
    issuer = Issuer(list(keys) or [IssuerKey.generate()], BASE)
    async with pool.acquire() as conn:
        await issuer.register_key(conn)
    return issuer


# --- the official schema ------------------------------------------------------------------


@pytest.mark.parametrize("valid_for_days", [None, 365])
async def test_issued_credentials_pass_the_official_ob3_schema(
    pool: asyncpg.Pool, valid_for_days: int | None
) -> None:
    issuer = await started(pool)
    template: dict[str, Any] = {} if valid_for_days is None else {"valid_for_days": valid_for_days}
    record = await issue(pool, issuer, snapshot(**template))

    claims = payload(record.jwt)

    # The JWT payload is what a verifier (the 1EdTech validator among them) validates.
    assert describe(schema_errors(claims)) == []
    targets = [a["targetType"] for a in claims["credentialSubject"]["achievement"]["alignment"]]
    assert targets == ["ceasn:Competency"] * 3
    assert await verify(pool, issuer, record.jwt) is VerificationStatus.VALID


async def test_a_token_is_stored_as_it_is_without_compression(pool: asyncpg.Pool) -> None:
    # Migration 0500: a token of a few kB is not worth pglz's time on every insert and read.
    issuer = await started(pool)
    record = await issue(pool, issuer)
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT jwt, pg_column_compression(jwt) AS compression,"
            " pg_column_size(jwt) AS stored FROM credentials WHERE id = $1",
            record.id,
        )
    assert len(record.jwt) > 2048  # past the size at which PostgreSQL would compress it
    assert row["jwt"] == record.jwt
    assert row["compression"] is None
    assert row["stored"] >= len(record.jwt)


async def test_the_schema_check_catches_what_we_used_to_issue(pool: asyncpg.Pool) -> None:
    # The test must be able to fail: the old targetType and the old vc-wrapped payload.
    issuer = await started(pool)
    claims = payload((await issue(pool, issuer)).jwt)
    claims["credentialSubject"]["achievement"]["alignment"][0]["targetType"] = "ceterms:Skill"

    assert any("targetType" in line for line in describe(schema_errors(claims)))
    assert schema_errors({"vc": payload((await issue(pool, issuer)).jwt)})


async def test_the_status_list_credential_differs_from_the_schema_only_where_a_list_must(
    pool: asyncpg.Pool,
) -> None:
    # The OB 3.0 schema describes AchievementCredentials; a BitstringStatusListCredential
    # cannot be one (no OB context, no OpenBadgeCredential type, no achievement). Everything
    # they share (id, issuer profile, validFrom as a date-time, the VCDM 2.0 context first)
    # must pass, so the only errors allowed are at those three places.
    issuer = await started(pool)
    record = await issue(pool, issuer)
    async with pool.acquire() as conn:
        found = await issuer.status_list(conn, record.status_list_id)
    assert found is not None
    token, credential = found

    errors = schema_errors(payload(token))

    assert {str(e.absolute_path[0]) for e in errors if e.absolute_path} <= ACHIEVEMENT_ONLY_PATHS
    assert all(e.absolute_path for e in errors), describe(errors)
    assert payload(token)["issuer"] == payload(record.jwt)["issuer"]  # the list's issuer
    assert header(token)["typ"] == "vc+jwt"
    assert credential["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]


# --- random status-list indexes --------------------------------------------------------------


async def test_status_indexes_are_random_unique_and_not_in_issuance_order(
    pool: asyncpg.Pool,
) -> None:
    issuer = await started(pool)
    provider = str(uuid.uuid4())
    records = [await issue(pool, issuer, snapshot(provider)) for _ in range(12)]
    indexes = [r.status_index for r in records]

    assert len({r.status_list_id for r in records}) == 1  # one provider, one open list
    assert len(set(indexes)) == len(indexes)
    assert all(0 <= i < MIN_BITS for i in indexes)
    # Sequential allocation gives 0, 1, 2...; twelve uniform draws from 131,072 bits are
    # increasing with probability 1/12! and all below 1,000 with probability ~1e-26.
    assert indexes != sorted(indexes)
    assert max(indexes) > 1000
    assert all(r.jwt for r in records)
    entry = payload(records[0].jwt)["credentialStatus"]
    assert entry["statusListIndex"] == str(indexes[0])


async def test_concurrent_issuance_never_shares_an_index(pool: asyncpg.Pool) -> None:
    issuer = await started(pool)
    provider = str(uuid.uuid4())

    records = await asyncio.gather(*(issue(pool, issuer, snapshot(provider)) for _ in range(16)))

    slots = {(r.status_list_id, r.status_index) for r in records}
    assert len(slots) == len(records)
    async with pool.acquire() as conn:
        allocated = await conn.fetchval(
            "SELECT sum(allocated) FROM status_lists WHERE provider_id = $1", provider
        )
    assert allocated == len(records)


async def test_each_provider_has_its_own_lists(pool: asyncpg.Pool) -> None:
    issuer = await started(pool)
    a = await issue(pool, issuer, snapshot(str(uuid.uuid4())))
    b = await issue(pool, issuer, snapshot(str(uuid.uuid4())))

    assert a.status_list_id != b.status_list_id


async def test_a_full_list_grows_into_a_new_one(pool: asyncpg.Pool) -> None:
    issuer = await started(pool)
    provider = str(uuid.uuid4())
    first = await issue(pool, issuer, snapshot(provider))
    async with pool.acquire() as conn:
        # Fill the list: its capacity is what it already holds plus one.
        await conn.execute(
            "UPDATE status_lists SET capacity = allocated + 1 WHERE id = $1",
            first.status_list_id,
        )
    second = await issue(pool, issuer, snapshot(provider))
    third = await issue(pool, issuer, snapshot(provider))

    assert second.status_list_id == first.status_list_id
    assert third.status_list_id != first.status_list_id
    for record in (first, second, third):
        assert await verify(pool, issuer, record.jwt) is VerificationStatus.VALID


def draw_from(monkeypatch: pytest.MonkeyPatch, draws: Iterator[int]) -> None:
    """The CSPRNG's next draws, in order: the issuance's first statement's FIRST_DRAWS
    (repository.first_draws), then one for each statement that draws on (randbelow)."""
    monkeypatch.setattr(
        repository, "first_draws", lambda: [next(draws) for _ in range(repository.FIRST_DRAWS)]
    )
    monkeypatch.setattr(repository.secrets, "randbelow", lambda _: next(draws))


async def test_a_drawn_index_that_is_taken_is_drawn_again(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuer = await started(pool)
    provider = str(uuid.uuid4())
    first = await issue(pool, issuer, snapshot(provider))
    # The CSPRNG's next draws: the taken index, in all of the issuance's first statement and
    # in the first of the statements that draw on, then free ones.
    draws = itertools.chain(
        itertools.repeat(first.status_index, repository.FIRST_DRAWS + 1), itertools.count(7)
    )
    draw_from(monkeypatch, draws)

    second = await issue(pool, issuer, snapshot(provider))

    assert (second.status_list_id, second.status_index) == (first.status_list_id, 7)


async def test_an_index_committed_after_the_issuance_read_the_list_is_drawn_again(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issuing reads the list's taken indexes in the statement that locks the list, with
    that statement's snapshot: an index that the list's holder committed after it (here
    while the statement waited for the pathway gate) is not in it, so the INSERT refuses
    that index and the issuer draws again, under the lock."""
    issuer = await started(pool)
    provider = str(uuid.uuid4())
    opened = await issue(pool, issuer, snapshot(provider))  # the provider's list exists
    async with pool.acquire() as first:
        transaction = first.transaction()
        await transaction.start()
        held = await issuer.issue(
            first,
            enrollment_id=str(uuid.uuid4()),
            learner_id="alice",
            learner_email="",
            snapshot=snapshot(provider),
        )
        assert held is not None
        # A pathway being published holds the gate: the next issuance's statement waits.
        await first.execute("SELECT pg_advisory_xact_lock($1)", pathways.PATHWAY_GATE_LOCK)
        # Every first draw is the index the list's holder is about to commit; then others.
        taken = held.status_index
        draws = itertools.chain(
            itertools.repeat(taken, repository.FIRST_DRAWS),
            (i for i in itertools.count(1) if i not in (taken, opened.status_index)),
        )
        draw_from(monkeypatch, draws)
        refused = []  # the issuer asks after a refused INSERT only
        has_credential = repository.has_credential

        async def asked(conn: asyncpg.Connection, enrollment_id: str) -> bool:
            refused.append(enrollment_id)
            return await has_credential(conn, enrollment_id)

        monkeypatch.setattr(repository, "has_credential", asked)
        second = asyncio.create_task(issue(pool, issuer, snapshot(provider)))
        await eventually_async(
            lambda: waiting_for_a_lock(pool), what="the second issuance to wait for the gate"
        )
        await transaction.commit()
    record = await second

    assert record.status_list_id == held.status_list_id
    assert record.status_index not in (taken, opened.status_index)
    assert len(refused) == 1  # the first statement drew the taken index, the INSERT refused it
    async with pool.acquire() as conn:
        allocated = await conn.fetchval(
            "SELECT allocated FROM status_lists WHERE id = $1", record.status_list_id
        )
        outbox = await conn.fetchval("SELECT count(*) FROM outbox WHERE ce_subject = $1", record.id)
    assert allocated == 3
    assert outbox == 1
    assert await verify(pool, issuer, record.jwt) is VerificationStatus.VALID


# --- a provider's concurrent issuances: one list each, up to OPEN_LISTS -----------------


class Holder:
    """An issuance whose transaction stays open (its list's row locked) until `commit`."""

    def __init__(self, pool: asyncpg.Pool, issuer: Issuer, provider: str) -> None:
        self.pool, self.issuer, self.provider = pool, issuer, provider
        self.record: repository.CredentialRecord | None = None
        self.committed = asyncio.Event()
        self.task: asyncio.Task[repository.CredentialRecord] | None = None

    async def run(self) -> repository.CredentialRecord:
        async with self.pool.acquire() as conn, conn.transaction():
            self.record = await self.issuer.issue(
                conn,
                enrollment_id=str(uuid.uuid4()),
                learner_id="alice",
                learner_email="",
                snapshot=snapshot(self.provider),
            )
            await self.committed.wait()
        assert self.record is not None
        return self.record


_HOLDERS: list[Holder] = []


@pytest.fixture
async def no_holder_left(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """A failed test's holders commit, so the pool closes (and nothing waits forever)."""
    yield
    for holder in _HOLDERS:
        holder.committed.set()
    _HOLDERS.clear()


async def holding(pool: asyncpg.Pool, issuer: Issuer, provider: str) -> Holder:
    """Start an issuance and hold its transaction open; it must not wait for any lock."""
    holder = Holder(pool, issuer, provider)
    _HOLDERS.append(holder)
    holder.task = task = asyncio.create_task(holder.run())
    await eventually_async(
        lambda: holder.record is not None or task.done() or waiting_for_a_lock(pool),
        what="the issuance to be done or waiting",
    )
    assert holder.record is not None, "the issuance waited for another's list"
    return holder


async def release(*holders: Holder) -> list[repository.CredentialRecord]:
    for holder in holders:
        holder.committed.set()
    return [await holder.task for holder in holders if holder.task is not None]


async def lists_of(pool: asyncpg.Pool, provider: str) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return await conn.fetch(
            """SELECT l.id, l.allocated, l.capacity,
                      (SELECT count(*) FROM credentials c WHERE c.status_list_id = l.id) AS held
               FROM status_lists l WHERE provider_id = $1 ORDER BY created_at, id""",
            provider,
        )


@pytest.mark.usefixtures("no_holder_left")
async def test_an_issuance_takes_a_list_no_other_holds_and_opens_one_up_to_the_bound(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(repository, "OPEN_LISTS", 3, raising=False)
    issuer = await started(pool)
    provider = str(uuid.uuid4())
    await issue(pool, issuer, snapshot(provider))  # the provider's first list
    holders = []
    for _ in range(3):
        holders.append(await holding(pool, issuer, provider))  # takes the free list
        if len(holders) < 3:
            # Every list is held: opens another, without waiting for the holders.
            opener = await holding(pool, issuer, provider)
            await release(opener)
    taken = [h.record.status_list_id for h in holders if h.record is not None]
    assert len(set(taken)) == 3  # three issuances at once, three lists

    # The bound reached and every list held: the next one waits for the fullest, the oldest.
    waiting = asyncio.create_task(issue(pool, issuer, snapshot(provider)))
    await eventually_async(lambda: waiting_for_a_lock(pool), what="the issuance to wait")
    await release(holders[0])
    record = await waiting
    await release(*holders[1:])

    assert record.status_list_id == taken[0]
    lists = await lists_of(pool, provider)
    assert [r["id"] for r in lists] == taken
    assert [r["allocated"] for r in lists] == [r["held"] for r in lists] == [3, 2, 2]


@pytest.mark.usefixtures("no_holder_left")
async def test_one_transaction_at_a_time_opens_a_providers_list(pool: asyncpg.Pool) -> None:
    issuer = await started(pool)
    provider = str(uuid.uuid4())
    # The provider has no list: the first issuance opens one and holds it, uncommitted.
    first = await holding(pool, issuer, provider)
    # The second finds no list to take nor to wait for: it waits for the opener to commit.
    second = asyncio.create_task(issue(pool, issuer, snapshot(provider)))
    await eventually_async(lambda: waiting_for_a_lock(pool), what="the second to wait")
    (opened,) = await release(first)
    record = await second
    assert record.status_list_id == opened.status_list_id

    # One list held, another being opened (uncommitted): a third issuance does not open
    # one more, it waits for the held one.
    held = await holding(pool, issuer, provider)
    opener = await holding(pool, issuer, provider)
    assert opener.record is not None
    assert held.record is not None
    assert opener.record.status_list_id != held.record.status_list_id
    third = asyncio.create_task(issue(pool, issuer, snapshot(provider)))
    await eventually_async(lambda: waiting_for_a_lock(pool), what="the third to wait")
    await release(held)
    assert (await third).status_list_id == opened.status_list_id
    await release(opener)
    assert len(await lists_of(pool, provider)) == 2


@pytest.mark.parametrize("room_in_the_first", [None, 3])
async def test_many_concurrent_issuances_of_a_provider_share_no_index_and_few_lists(
    fresh_database: str, pool: asyncpg.Pool, room_in_the_first: int | None
) -> None:
    issuer = await started(pool)
    provider = str(uuid.uuid4())
    first = await issue(pool, issuer, snapshot(provider))
    if room_in_the_first is not None:  # the first list fills during the burst
        async with pool.acquire() as conn:
            await conn.execute(
                "UPDATE status_lists SET capacity = allocated + $2 WHERE id = $1",
                first.status_list_id,
                room_in_the_first,
            )
    wide = await db.create_pool(fresh_database, max_size=32)
    try:
        records = await asyncio.gather(
            *(issue(wide, issuer, snapshot(provider)) for _ in range(32))
        )
    finally:
        await wide.close()

    slots = {(r.status_list_id, r.status_index) for r in [first, *records]}
    assert len(slots) == 33
    lists = await lists_of(pool, provider)
    assert all(r["allocated"] == r["held"] <= r["capacity"] for r in lists)
    assert sum(r["held"] for r in lists) == 33
    with_room = [r for r in lists if r["allocated"] < r["capacity"]]
    assert len(with_room) <= repository.OPEN_LISTS
    assert len(lists) <= repository.OPEN_LISTS + (room_in_the_first is not None)
    if room_in_the_first is not None:
        assert lists[0]["allocated"] == lists[0]["capacity"]


async def test_two_deliveries_for_one_enrollment_at_once_issue_one_credential(
    pool: asyncpg.Pool,
) -> None:
    issuer = await started(pool)
    provider = str(uuid.uuid4())
    await issue(pool, issuer, snapshot(provider))  # the provider's list exists
    enrollment, snap = str(uuid.uuid4()), snapshot(provider)

    async def deliver(conn: asyncpg.Connection) -> repository.CredentialRecord | None:
        return await issuer.issue(
            conn, enrollment_id=enrollment, learner_id="alice", learner_email="", snapshot=snap
        )

    async def again() -> repository.CredentialRecord | None:
        async with pool.acquire() as conn, conn.transaction():
            return await deliver(conn)

    async with pool.acquire() as first:
        transaction = first.transaction()
        await transaction.start()
        assert await deliver(first) is not None
        second = asyncio.create_task(again())
        await eventually_async(
            lambda: waiting_for_a_lock(pool), what="the second delivery to wait for the first"
        )
        await transaction.commit()

    assert await second is None
    async with pool.acquire() as conn:
        issued = await conn.fetchval(
            "SELECT count(*) FROM credentials WHERE enrollment_id = $1", enrollment
        )
        outbox = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE type = 'upskill.credentials.v1.CredentialIssued'"
        )
    assert issued == 1
    assert outbox == 2


async def waiting_for_a_lock(pool: asyncpg.Pool) -> bool:
    async with pool.acquire() as conn:
        return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE NOT granted)"))


async def test_revocation_sets_the_randomly_placed_bit_and_verify_reads_it(
    pool: asyncpg.Pool,
) -> None:
    issuer = await started(pool)
    provider = str(uuid.uuid4())
    kept = await issue(pool, issuer, snapshot(provider))
    revoked = await issue(pool, issuer, snapshot(provider))
    async with pool.acquire() as conn, conn.transaction():
        await issuer.revoke(conn, revoked, "issued in error")
    async with pool.acquire() as conn:
        found = await issuer.status_list(conn, revoked.status_list_id)
    assert found is not None
    bits = decode_list(payload(found[0])["credentialSubject"]["encodedList"])

    assert is_set(bits, revoked.status_index)
    assert not is_set(bits, kept.status_index)
    assert sum(byte.bit_count() for byte in bits) == 1
    assert await verify(pool, issuer, revoked.jwt) is VerificationStatus.REVOKED
    assert await verify(pool, issuer, kept.jwt) is VerificationStatus.VALID


# --- key rotation and withdrawal ---------------------------------------------------------


async def test_a_scheduled_key_signs_from_its_moment_and_the_old_one_keeps_verifying(
    pool: asyncpg.Pool,
) -> None:
    old, new = IssuerKey.generate(), IssuerKey.generate("RS256")
    issuer = await started(pool, old)
    before = await issue(pool, issuer)
    moment = datetime.now(UTC) + timedelta(days=1)
    async with pool.acquire() as conn:
        await repository.register_key(conn, new.kid, new.alg, new.public_jwk(), signs_from=moment)
    rotated = await started(pool, old, new)  # the service now holds both keys

    async with pool.acquire() as conn:
        assert (await rotated.signer(conn, datetime.now(UTC))).kid == old.kid
        assert (await rotated.signer(conn, moment + timedelta(seconds=1))).kid == new.kid
        jwks = await rotated.jwks(conn)
    # The new key is published ahead of its moment, so caches have it when it signs.
    assert {k["kid"] for k in jwks["keys"]} == {f"{BASE}/keys/{old.kid}", f"{BASE}/keys/{new.kid}"}

    async with pool.acquire() as conn:
        # The moment comes (one clock: the test and its database share the machine's).
        assert await repository.schedule_key(conn, new.kid, datetime.now(UTC))
    after = await issue(pool, rotated)

    assert header(before.jwt)["kid"] == f"{BASE}/keys/{old.kid}"
    assert header(after.jwt) == {"alg": "RS256", "kid": f"{BASE}/keys/{new.kid}", "typ": "JWT"}
    assert await verify(pool, rotated, before.jwt) is VerificationStatus.VALID
    assert await verify(pool, rotated, after.jwt) is VerificationStatus.VALID


async def test_a_withdrawn_key_leaves_the_jwks_and_what_it_signed_stops_verifying(
    pool: asyncpg.Pool, fresh_database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    compromised, successor = IssuerKey.generate(), IssuerKey.generate()
    issuer = await started(pool, compromised)
    signed = await issue(pool, issuer)
    async with pool.acquire() as conn:
        await repository.register_key(conn, successor.kid, successor.alg, successor.public_jwk())

    # The operator's command, against the credentials database.
    code = await asyncio.to_thread(
        main,
        # After '--': a kid may start with '-' (base64url), which argparse would take for an
        # option.
        [
            *("keys", "--database-url", fresh_database, "withdraw", "--reason", "leak"),
            *("--", compromised.kid),
        ],
    )
    assert code == 0
    assert "UNKNOWN_KEY" in capsys.readouterr().out

    both = await started(pool, compromised, successor)
    async with pool.acquire() as conn:
        jwks = await both.jwks(conn)
        listed = {k.kid: k for k in await repository.keys(conn, with_counts=True)}
        assert (await both.signer(conn, datetime.now(UTC))).kid == successor.kid
    assert [k["kid"] for k in jwks["keys"]] == [f"{BASE}/keys/{successor.kid}"]
    assert listed[compromised.kid].withdrawn_reason == "leak"
    assert listed[compromised.kid].credentials == 1
    assert await verify(pool, both, signed.jwt) is VerificationStatus.UNKNOWN_KEY
    async with pool.acquire() as conn:
        verdict = await both.verify(conn, signed.jwt)
    assert "withdrew" in verdict.checks[-1].detail
    assert await verify(pool, both, (await issue(pool, both)).jwt) is VerificationStatus.VALID


async def test_a_service_holding_only_withdrawn_keys_refuses_to_start(pool: asyncpg.Pool) -> None:
    key = IssuerKey.generate()
    await started(pool, key)
    async with pool.acquire() as conn:
        await repository.withdraw_key(conn, key.kid, "compromised")
        with pytest.raises(NoSigningKeyError, match="withdrawn"):
            await Issuer(key, BASE).register_key(conn)


async def test_a_service_holding_only_keys_scheduled_for_later_refuses_to_start(
    pool: asyncpg.Pool,
) -> None:
    await started(pool)
    later = IssuerKey.generate()
    async with pool.acquire() as conn:
        await repository.register_key(
            conn,
            later.kid,
            later.alg,
            later.public_jwk(),
            signs_from=datetime.now(UTC) + timedelta(days=1),
        )
        with pytest.raises(NoSigningKeyError, match="scheduled for later"):
            await Issuer(later, BASE).register_key(conn)


async def test_keys_cli_schedules_and_lists(
    pool: asyncpg.Pool, fresh_database: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    await started(pool)
    new = IssuerKey.generate()
    key_file = tmp_path / "new.pem"
    key_file.write_text(new.private_pem())
    moment = "2030-01-01T00:00:00+00:00"

    cli = ["keys", "--database-url", fresh_database]
    schedule = [*cli, "schedule", "--key-file", str(key_file), "--from", moment]
    assert await asyncio.to_thread(main, schedule) == 0
    assert await asyncio.to_thread(main, [*cli, "list", "--json"]) == 0

    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()[1:]]
    assert {"kid": new.kid, "signs_from": moment} in [
        {"kid": r["kid"], "signs_from": r["signs_from"]} for r in rows
    ]
    async with pool.acquire() as conn:
        stored = await conn.fetchval("SELECT public_jwk FROM issuer_keys WHERE kid = $1", new.kid)
    assert "d" not in json.loads(stored)  # the private key never reaches the database


# --- credentials from before the OB 3.0 JWT format ---------------------------------------


async def test_credentials_issued_before_the_migration_keep_verifying(
    fresh_database: str,
) -> None:
    pool = await db.create_pool(fresh_database)
    try:
        legacy_key = IssuerKey.generate("EdDSA")
        async with pool.acquire() as conn:
            token = await _issue_the_old_way(conn, legacy_key)
            await db.migrate(conn, "services.common", "services.credentials")
        issuer = await started(pool)  # a new ES256 key, as `upskill keygen` makes now

        assert await verify(pool, issuer, token) is VerificationStatus.VALID
        async with pool.acquire() as conn:
            kids = [k["kid"] for k in (await issuer.jwks(conn))["keys"]]
        # Old tokens name the bare thumbprint; the JWKS still answers to it.
        assert legacy_key.kid in kids
        assert f"{BASE}/keys/{legacy_key.kid}" in kids
        new = await issue(pool, issuer)
        assert header(new.jwt)["alg"] == "ES256"
        assert new.status_list_id != "revocation-1"  # old sequential lists take no more
    finally:
        await pool.close()


async def _issue_the_old_way(conn: asyncpg.Connection, key: IssuerKey) -> str:
    """The schema, key row, status list and token exactly as the release before wrote them."""
    versions = db.migration_files("services.common") + [
        (version, sql)
        for version, sql in db.migration_files("services.credentials")
        if version < "credentials/0005"
    ]
    await conn.execute(
        "CREATE TABLE schema_migrations (version text PRIMARY KEY,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    for version, sql in versions:
        await conn.execute(sql)
        await conn.execute("INSERT INTO schema_migrations (version) VALUES ($1)", version)
    legacy_jwk = {"kty": "OKP", "crv": "Ed25519", "x": key.public_jwk()["x"], "kid": key.kid,
                  "alg": "EdDSA", "use": "sig"}  # fmt: skip
    await conn.execute(
        "INSERT INTO issuer_keys (kid, public_jwk) VALUES ($1, $2)", key.kid, json.dumps(legacy_jwk)
    )
    await conn.execute(
        "INSERT INTO status_lists (id, size, next_index) VALUES ('revocation-1', $1, 1)", MIN_BITS
    )
    credential_id = str(uuid.uuid4())
    issued = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    credential = build_credential(
        Issuance(
            credential_id=credential_id,
            learner_id="alice",
            learner_email="alice@example.com",
            provider_id=str(uuid.uuid4()),
            provider_name="Acme",
            program_id=str(uuid.uuid4()),
            achievement_name="SQL Basics",
            achievement_description="Can query",
            criteria="Pass",
            issued_at=issued,
            valid_for_days=None,
            status_list_url=f"{BASE}/status-lists/revocation-1",
            status_index=0,
            base_url=BASE,
        )
    )
    claims = {
        "vc": credential,
        "iss": credential["issuer"]["id"],
        "sub": credential["credentialSubject"]["id"],
        "jti": credential["id"],
        "nbf": int(issued.timestamp()),
        "iat": int(issued.timestamp()),
    }
    token = jws.serialize_compact(
        {"alg": "EdDSA", "kid": key.kid, "typ": "JWT"},
        json.dumps(claims),
        key.jose_key(),
        algorithms=["EdDSA"],
        registry=JWS_REGISTRY,
    )
    await conn.execute(
        """INSERT INTO credentials (id, enrollment_id, program_id, provider_id, learner_id,
               achievement_name, status, jwt, kid, status_list_id, status_index, issued_at)
           VALUES ($1, $2, $3, $4, 'alice', 'SQL Basics', 'ISSUED', $5, $6, 'revocation-1', 0,
                   $7)""",
        credential_id,
        str(uuid.uuid4()),
        str(uuid.uuid4()),
        str(uuid.uuid4()),
        token,
        key.kid,
        issued,
    )
    return token
