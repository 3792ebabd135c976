"""Public profiles' pure rules: which handles are accepted (and how they fold), how shown
credentials group by skill, and what is read from a credential's own payload."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from services.common.errors import InvalidArgumentError
from services.credentials.public_profiles import (
    RESERVED_HANDLES,
    achievement_facts,
    clean_handle,
)
from services.gateway.profile_view import (
    CredentialVerdict,
    ShownCredential,
    group_by_skill,
)


@pytest.mark.parametrize(
    ("value", "stored"),
    [("ada", "ada"), ("Ada-Lovelace-1815", "ada-lovelace-1815"), ("a" * 30, "a" * 30), ("", "")],
)
def test_good_handles_are_stored_lowercase(value: str, stored: str) -> None:
    assert clean_handle(value) == stored


@pytest.mark.parametrize(
    "value",
    ["ab", "a" * 31, "-ada", "ada-", "ada--b", "ada_b", "ada b", "ada.b", "adà", "\u212ada",
     "\u0430da", "ada\x00", "ADMIN", "u", "me"],
)  # fmt: skip
def test_bad_handles_name_the_handle_field(value: str) -> None:
    with pytest.raises(InvalidArgumentError) as refused:
        clean_handle(value)
    assert [v.field for v in refused.value.violations] == ["handle"]


def test_every_reserved_word_would_otherwise_be_a_valid_handle() -> None:
    # A reserved word that breaks the shape rule anyway is dead weight in the list.
    for word in RESERVED_HANDLES:
        with pytest.raises(InvalidArgumentError, match="invalid handle") as refused:
            clean_handle(word)
        if len(word) >= 3:
            assert "reserved" in refused.value.violations[0].message, word


def _shown(cid: str, skills: list[str]) -> ShownCredential:
    return ShownCredential(
        id=cid,
        achievement_name=cid,
        issuer_name="",
        program_id="p",
        status="ISSUED",
        issued_at=None,
        valid_until=None,
        revoked_at=None,
        revocation_reason=None,
        skills=skills,
        url="",
        jwt="",
        verification=CredentialVerdict(verified=True, status="VALID", checks=[]),
    )


def test_credentials_group_under_each_skill_in_first_seen_order_other_last() -> None:
    groups = group_by_skill([_shown("a", []), _shown("b", ["python", "sql"]), _shown("c", ["sql"])])
    assert [(g.skill, g.credential_ids) for g in groups] == [
        ("python", ["b"]),
        ("sql", ["b", "c"]),
        ("Other", ["a"]),
    ]


def _token(payload: object) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"e30.{body}.sig"


def test_facts_come_from_the_credentials_payload() -> None:
    facts = achievement_facts(
        _token(
            {
                "issuer": {"id": "x", "name": "Academy"},
                "validUntil": "2030-01-01T00:00:00Z",
                "credentialSubject": {
                    "achievement": {
                        "alignment": [
                            {"targetName": "python"},
                            {"targetName": "python"},
                            {"targetUrl": "no name"},
                            "junk",
                        ]
                    }
                },
            }
        )
    )
    assert facts.skills == ["python"]
    assert facts.issuer_name == "Academy"
    assert facts.valid_until == datetime(2030, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    "token", ["", "a.b.c", "e30.W10.x", _token({"credentialSubject": "x", "validUntil": 5})]
)
def test_unreadable_payloads_give_no_facts(token: str) -> None:
    facts = achievement_facts(token)
    assert facts.skills == []
    assert facts.valid_until is None
