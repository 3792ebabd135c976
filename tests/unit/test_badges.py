import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone

import jwt as pyjwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from joserfc import jwt

from services.credentials import badges
from services.credentials.badges import (
    build_credential,
    credential_from_claims,
    format_timestamp,
    identity_matches,
    issue_payload,
    jwt_claims,
    key_url,
    parse_timestamp,
    sign_credential,
    sign_payload,
)
from services.credentials.keys import JWS_REGISTRY, IssuerKey
from tests.issuances import BASE, ISSUED, make_issuance


def _b64json(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def test_credential_has_the_open_badges_3_envelope():
    vc = build_credential(make_issuance())

    assert vc["@context"] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert vc["id"] == "urn:uuid:0b9f4a6e-3f0c-4a55-9a55-5d3a9a3c2b10"
    assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert vc["issuer"] == {
        "id": f"{BASE}/issuers/prov-7",
        "type": ["Profile"],
        "name": "Acme Academy",
    }
    assert vc["name"] == "Data Wrangling"


def test_validity_window_is_utc_with_whole_seconds():
    vc = build_credential(make_issuance())

    assert vc["validFrom"] == "2025-03-04T05:06:07Z"
    assert vc["validUntil"] == "2026-03-04T05:06:07Z"


def test_issued_at_in_another_zone_is_converted_to_utc():
    plus_two = timezone(timedelta(hours=2))
    vc = build_credential(make_issuance(issued_at=datetime(2025, 3, 4, 7, 6, 7, tzinfo=plus_two)))

    assert vc["validFrom"] == "2025-03-04T05:06:07Z"


def test_no_valid_until_without_an_expiry():
    vc = build_credential(make_issuance(valid_for_days=None))

    assert "validUntil" not in vc


def test_subject_names_the_learner_and_the_achievement():
    subject = build_credential(make_issuance())["credentialSubject"]

    assert subject["id"] == "urn:upskill:learner:learner-42"
    assert subject["type"] == ["AchievementSubject"]
    achievement = subject["achievement"]
    assert achievement["id"] == f"{BASE}/programs/prog-9#achievement"
    assert achievement["type"] == ["Achievement"]
    assert achievement["name"] == "Data Wrangling"
    assert achievement["description"] == "Cleans and reshapes real-world data."
    assert achievement["criteria"] == {"narrative": "Completed all labs and the capstone."}


def test_each_skill_is_an_alignment_with_a_quoted_url():
    alignments = build_credential(make_issuance())["credentialSubject"]["achievement"]["alignment"]

    assert alignments == [
        {
            "type": ["Alignment"],
            "targetName": "Python",
            "targetUrl": f"{BASE}/skills/Python",
            "targetType": "ceasn:Competency",
        },
        {
            "type": ["Alignment"],
            "targetName": "SQL & joins",
            "targetUrl": f"{BASE}/skills/SQL%20%26%20joins",
            "targetType": "ceasn:Competency",
        },
    ]


@pytest.mark.parametrize(
    ("uri", "framework"),
    [
        ("http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d", "ESCO"),
        ("https://www.onetonline.org/link/summary/15-1252.00", "O*NET"),
    ],
)
def test_a_skill_given_as_a_framework_uri_aligns_to_that_framework(uri, framework):
    issuance = make_issuance(skills=[uri])
    (alignment,) = build_credential(issuance)["credentialSubject"]["achievement"]["alignment"]

    assert alignment == {
        "type": ["Alignment"],
        "targetName": uri,
        "targetUrl": uri,
        "targetFramework": framework,
        "targetType": "ceasn:Competency",
    }


@pytest.mark.parametrize(
    "skill",
    [
        "http://data.europa.eu/esco/",
        "http://data.europa.eu/esco/x y",
        "esco python",
        # Any whitespace str.isspace() knows, not only ASCII's.
        "https://www.onetonline.org/link\u00a0summary",
        "https://www.onetonline.org/link\u3000summary",
        "http://data.europa.eu/esco/skill\x1cx",
    ],
)
def test_text_that_only_looks_like_a_framework_uri_stays_a_local_skill(skill):
    issuance = make_issuance(skills=[skill])
    (alignment,) = build_credential(issuance)["credentialSubject"]["achievement"]["alignment"]

    assert alignment["targetUrl"].startswith(f"{BASE}/skills/")
    assert "targetFramework" not in alignment


def test_duplicate_and_blank_skills_are_dropped():
    issuance = make_issuance(skills=["Python", " ", "Python", "Go"])
    alignments = build_credential(issuance)["credentialSubject"]["achievement"]["alignment"]

    assert [a["targetName"] for a in alignments] == ["Python", "Go"]


def test_email_is_only_present_as_a_salted_sha256_identity_hash():
    vc = build_credential(make_issuance(), salt="pepper")
    (identity,) = vc["credentialSubject"]["identifier"]

    expected = hashlib.sha256(b"ada@example.compepper").hexdigest()
    assert identity == {
        "type": "IdentityObject",
        "identityHash": f"sha256${expected}",
        "identityType": "emailAddress",
        "hashed": True,
        "salt": "pepper",
    }
    assert "example.com" not in json.dumps(vc).lower()


def test_salt_is_random_per_credential():
    first = build_credential(make_issuance())["credentialSubject"]["identifier"][0]
    second = build_credential(make_issuance())["credentialSubject"]["identifier"][0]

    assert first["salt"] != second["salt"]
    assert first["identityHash"] != second["identityHash"]


def test_identity_matches_the_learners_email_in_any_case_and_nothing_else():
    identity = build_credential(make_issuance())["credentialSubject"]["identifier"][0]

    assert identity_matches(identity, "ada@example.com")
    assert identity_matches(identity, " ADA@EXAMPLE.COM ")
    assert not identity_matches(identity, "eve@example.com")


def test_no_identifier_without_email_or_name():
    subject = build_credential(make_issuance(learner_email=None))["credentialSubject"]

    assert "identifier" not in subject


def test_learner_name_is_an_unhashed_name_identity():
    issuance = make_issuance(learner_email=None, learner_name="Ada Lovelace")
    (identity,) = build_credential(issuance)["credentialSubject"]["identifier"]

    assert identity == {
        "type": "IdentityObject",
        "identityHash": "Ada Lovelace",
        "identityType": "name",
        "hashed": False,
    }


def test_credential_status_points_at_the_revocation_bit():
    vc = build_credential(make_issuance())

    assert vc["credentialStatus"] == {
        "id": f"{BASE}/status-lists/1#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "42",
        "statusListCredential": f"{BASE}/status-lists/1",
    }


def test_trailing_slash_on_base_url_does_not_double_up():
    vc = build_credential(make_issuance(base_url=BASE + "/"))

    assert vc["issuer"]["id"] == f"{BASE}/issuers/prov-7"


def test_credential_is_plain_json():
    vc = build_credential(make_issuance(learner_name="Ada"))

    assert json.loads(json.dumps(vc)) == vc


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"issued_at": datetime(2025, 1, 1)}, "timezone"),
        ({"valid_for_days": 0}, "valid_for_days"),
        ({"status_index": -1}, "status_index"),
    ],
)
def test_invalid_issuance_is_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        build_credential(make_issuance(**changes))


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
def test_signed_credential_names_its_key_by_an_absolute_url(alg):
    key = IssuerKey.generate(alg)
    token = sign_credential(build_credential(make_issuance()), key, BASE)

    header, _, _ = token.split(".")
    # OB 3.0 JOSE header: alg, kid (a dereferenceable URI), typ "JWT"; nothing else.
    assert _b64json(header) == {"alg": alg, "kid": f"{BASE}/keys/{key.kid}", "typ": "JWT"}


def test_each_signature_has_its_own_typ_though_a_keys_header_is_made_once():
    key, vc = IssuerKey.generate("EdDSA"), build_credential(make_issuance())
    first = sign_credential(vc, key, BASE)
    status = sign_credential(vc, key, BASE, typ="vc+jwt")
    again = sign_credential(vc, key, BASE)

    assert _b64json(status.split(".")[0])["typ"] == "vc+jwt"
    # Ed25519 signatures are deterministic: the same header and claims, the same token.
    assert again == first
    assert _b64json(again.split(".")[0]) == {
        "alg": "EdDSA",
        "kid": f"{BASE}/keys/{key.kid}",
        "typ": "JWT",
    }


def test_the_default_key_signs_es256():
    token = sign_credential(build_credential(make_issuance()), IssuerKey.generate(), BASE)

    assert _b64json(token.split(".")[0])["alg"] == "ES256"


def test_the_payload_is_the_credential_with_the_registered_claims():
    vc = build_credential(make_issuance())
    token = sign_credential(vc, IssuerKey.generate(), BASE)

    claims = _b64json(token.split(".")[1])
    issued = int(ISSUED.replace(microsecond=0).timestamp())
    # VC-JOSE-COSE: the vc and vp claims MUST NOT be present; OB 3.0 maps the rest.
    assert claims == {
        **vc,
        "iss": f"{BASE}/issuers/prov-7",
        "sub": "urn:upskill:learner:learner-42",
        "jti": "urn:uuid:0b9f4a6e-3f0c-4a55-9a55-5d3a9a3c2b10",
        "nbf": issued,
        "exp": issued + 365 * 86400,
    }
    assert "vc" not in claims
    assert credential_from_claims(claims) == vc


def test_a_credential_that_already_uses_a_jwt_claim_name_is_refused():
    vc = build_credential(make_issuance())
    vc["iss"] = "https://elsewhere.example"

    with pytest.raises(ValueError, match="iss"):
        jwt_claims(vc)


def test_no_exp_claim_without_valid_until():
    claims = jwt_claims(build_credential(make_issuance(valid_for_days=None)))

    assert "exp" not in claims


@pytest.mark.parametrize("alg", ["ES256", "RS256", "EdDSA"])
def test_signature_verifies_with_the_public_key_alone(alg):
    # PyJWT, not joserfc (which signs): the token is standard JWS for another library.
    key = IssuerKey.generate(alg)
    token = sign_credential(build_credential(make_issuance()), key, BASE)
    public = pyjwt.PyJWK(key.public_jwk()).key

    claims = pyjwt.decode(token, public, algorithms=[alg], options={"verify_exp": False})

    assert claims["jti"] == "urn:uuid:0b9f4a6e-3f0c-4a55-9a55-5d3a9a3c2b10"
    header, _, signature = token.split(".")
    other = sign_credential(build_credential(make_issuance(learner_id="eve")), key, BASE)
    with pytest.raises(pyjwt.InvalidSignatureError):
        pyjwt.decode(f"{header}.{other.split('.')[1]}.{signature}", public, algorithms=[alg])


def test_signing_needs_an_issuer_id():
    vc = build_credential(make_issuance())
    vc["issuer"] = {"name": "nobody"}

    with pytest.raises(ValueError, match="issuer"):
        sign_credential(vc, IssuerKey.generate(), BASE)


# --- issue_payload: the issuer's way to the same JWT -------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
_SKILL = st.one_of(
    _TEXT,
    st.sampled_from(["Python", " SQL & joins ", "", "http://data.europa.eu/esco/skill/x y"]),
    _TEXT.map(lambda rest: "https://www.onetonline.org/" + rest),
)


def _old_jwt(vc: dict, key: IssuerKey, typ: str = "JWT") -> str:
    """How sign_credential signed before sign_payload: joserfc's jwt.encode of the claims."""
    header = {"alg": key.alg, "kid": key_url(BASE, key.kid), "typ": typ}
    return jwt.encode(
        header, jwt_claims(vc), key.jose_key(), algorithms=[key.alg], registry=JWS_REGISTRY
    )


_ED25519 = IssuerKey.generate("EdDSA")  # deterministic signatures: equal tokens compare


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(_TEXT, min_size=7, max_size=7),
    skills=st.lists(_SKILL, max_size=4),
    email=st.one_of(st.none(), st.just(""), _TEXT),
    name=st.one_of(st.none(), _TEXT),
    days=st.one_of(st.none(), st.integers(1, 3650)),
    index=st.integers(0, 2**20),
    issued=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2200, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7, minutes=-30))]),
    ),
    slash=st.booleans(),
)
def test_issue_payload_is_the_built_credentials_claims_byte_for_byte(
    texts, skills, email, name, days, index, issued, slash
):
    credential_id, learner_id, provider_id, provider_name, program_id, achievement, url = texts
    issuance = make_issuance(
        credential_id=credential_id,
        learner_id=learner_id,
        learner_email=email,
        learner_name=name,
        provider_id=provider_id,
        provider_name=provider_name,
        program_id=program_id,
        achievement_name=achievement,
        achievement_description=achievement[::-1],
        criteria=achievement + achievement,
        skills=skills,
        issued_at=issued,
        valid_for_days=days,
        status_list_url=url,
        status_index=index,
        base_url=BASE + "/" if slash else BASE,
    )
    vc = build_credential(issuance, salt="pepper")

    payload, valid_until = issue_payload(issuance, salt="pepper")

    assert payload == json.dumps(jwt_claims(vc), ensure_ascii=False, separators=(",", ":")).encode()
    assert valid_until == (parse_timestamp(vc["validUntil"]) if "validUntil" in vc else None)
    assert sign_payload(payload, _ED25519, BASE) == _old_jwt(vc, _ED25519)
    assert sign_credential(vc, _ED25519, BASE) == _old_jwt(vc, _ED25519)
    assert sign_credential(vc, _ED25519, BASE, typ="vc+jwt") == _old_jwt(vc, _ED25519, "vc+jwt")


def test_issue_payload_draws_a_new_salt_per_credential():
    first, _ = issue_payload(make_issuance())
    second, _ = issue_payload(make_issuance())

    salts = [json.loads(p)["credentialSubject"]["identifier"][0]["salt"] for p in (first, second)]
    assert salts[0] != salts[1]


@pytest.mark.parametrize("field", ["provider_name", "achievement_name", "criteria", "program_id"])
@pytest.mark.parametrize("slot", ["id", "subject", "statusId", "statusIndex", "nbf"])
def test_a_program_whose_text_names_a_slot_still_gets_its_own_credential(field, slot):
    issuance = make_issuance(**{field: f"{badges._SLOT_TOKEN}:{slot}"})

    payload, _ = issue_payload(issuance, salt="pepper")

    vc = build_credential(issuance, salt="pepper")
    assert payload == json.dumps(jwt_claims(vc), ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"valid_for_days": 0}, "valid_for_days"),
        ({"status_index": -1}, "status_index"),
        ({"valid_for_days": 0, "status_index": -1}, "valid_for_days"),
    ],
)
def test_issue_payload_refuses_what_build_credential_refuses(changes, message):
    with pytest.raises(ValueError, match=message):
        issue_payload(make_issuance(**changes))


@given(
    st.datetimes(
        min_value=datetime(2, 1, 1),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=45))]),
    )
)
def test_timestamps_are_written_as_strftime_wrote_them(value):
    assert format_timestamp(value) == value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
