"""The Open Badges 3.0 names that both the credentials service (which issues) and the
gateway's OB 3.0 API (which serves a learner's profile) must spell alike. Here, not in
services/credentials, so that the gateway needs no service internals."""

from __future__ import annotations

from urllib.parse import quote

OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"


def learner_uri(learner_id: str) -> str:
    """What `credentialSubject.id` names a learner by."""
    return f"urn:upskill:learner:{quote(learner_id, safe='')}"
