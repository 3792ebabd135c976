"""Verified tokens are remembered until they expire, and only verified ones."""

from __future__ import annotations

import time

import pytest

from services.common.auth import (
    DEV_ISSUER,
    AuthSettings,
    Principal,
    Role,
    TokenVerifier,
    VerifiedTokens,
    mint_dev_token,
)
from services.common.errors import UnauthenticatedError

SECRET = "s" * 40


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def verifier(clock: Clock | None = None) -> TokenVerifier:
    v = TokenVerifier(AuthSettings("dev", SECRET, "", DEV_ISSUER, ""))
    if clock is not None:
        v._verified = VerifiedTokens(clock=clock)
    return v


def principal(subject: str = "ann") -> Principal:
    return Principal(subject=subject, role=Role.LEARNER)


def test_an_entry_lives_until_the_token_expires_and_no_longer() -> None:
    clock = Clock()
    cache = VerifiedTokens(ttl=60, clock=clock)
    cache.put("t", principal(), exp=clock.now + 10)
    clock.now += 9.9
    entry = cache.get("t")
    assert entry is not None
    assert entry.principal.subject == "ann"
    clock.now += 0.1
    assert cache.get("t") is None
    assert len(cache) == 0


def test_an_entry_lives_at_most_the_ttl_even_for_a_long_lived_token() -> None:
    clock = Clock()
    cache = VerifiedTokens(ttl=60, clock=clock)
    cache.put("t", principal(), exp=clock.now + 12 * 3600)
    clock.now += 60
    assert cache.get("t") is None


def test_a_token_without_a_numeric_exp_is_never_kept() -> None:
    cache = VerifiedTokens()
    cache.put("a", principal(), exp=None)
    cache.put("b", principal(), exp="9999999999")
    assert len(cache) == 0


def test_the_cache_is_bounded_and_evicts_the_least_recently_used() -> None:
    clock = Clock()
    cache = VerifiedTokens(size=3, clock=clock)
    for name in "abc":
        cache.put(name, principal(name), exp=clock.now + 100)
    assert cache.get("a") is not None  # a is now the most recent
    cache.put("d", principal("d"), exp=clock.now + 100)
    assert len(cache) == 3
    assert cache.get("b") is None
    assert [n for n in "acd" if cache.get(n) is not None] == ["a", "c", "d"]


def test_a_cached_token_still_stops_working_when_it_expires() -> None:
    clock = Clock(time.time())
    v = verifier(clock)
    token = mint_dev_token(SECRET, role=Role.LEARNER, subject="ann", ttl_seconds=30)
    assert v.verify(token).subject == "ann"
    assert v._verified.get(token) is not None  # the next request skips the signature check
    clock.now += 31
    # Past exp the entry is gone, so the next call verifies afresh (and PyJWT refuses it).
    assert v._verified.get(token) is None


def test_a_refused_token_is_refused_every_time_and_never_cached() -> None:
    v = verifier()
    forged = mint_dev_token("x" * 40, role=Role.ADMIN, subject="mallory")
    for _ in range(2):
        with pytest.raises(UnauthenticatedError):
            v.verify(forged)
    assert len(v._verified) == 0


def test_two_tokens_never_share_an_identity() -> None:
    v = verifier()
    ann = mint_dev_token(SECRET, role=Role.LEARNER, subject="ann")
    bob = mint_dev_token(SECRET, role=Role.PROVIDER, subject="bob", provider_id="p1")
    for _ in range(2):
        assert (v.verify(ann).subject, v.verify(ann).role) == ("ann", Role.LEARNER)
        assert (v.verify(bob).subject, v.verify(bob).provider_id) == ("bob", "p1")
