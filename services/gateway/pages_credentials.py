"""Credentials worth sharing: the public credential page (earner's chosen name, badge image,
Open Graph / Twitter card tags, LinkedIn and share links, downloads), the badge SVG every
achievement's OB 3.0 `image` points at, the /verify page for anyone holding a credential,
and the favicon.

The page verifies the credential through the same VerifyCredential RPC as the API's
/api/v1/credentials/verify, so a person sees exactly the checks a program gets.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from typing import Annotated, Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from upskill.catalog.v1 import catalog_service_pb2
from upskill.credentials.v1 import credentials_service_pb2

from services.gateway import mapping, schemas
from services.gateway.clients import Clients, invoke
from services.gateway.dependencies import (
    AuthenticatorDep,
    ClientsDep,
    Viewer,
    resource_id,
    token_of,
)
from services.gateway.problems import ProblemError, not_found
from services.gateway.rendering import render

router = APIRouter(include_in_schema=False)

# A pasted or uploaded credential: a compact VC-JWT is a few kB; 64 KiB is the API's limit.
MAX_CREDENTIAL_BYTES = 65536
_JSON_MEDIA_TYPE = "application/ld+json"
_CREDENTIAL_URN = re.compile(r"^urn:uuid:([0-9a-fA-F-]{36})$")
_ENVELOPED_PREFIX = "data:application/vc+jwt,"
_BADGE_CACHE = {"Cache-Control": "public, max-age=3600"}


# ---------------------------------------------------------------- the credential page


@router.get("/credentials/{credential_id}", response_class=HTMLResponse)
async def credential_page(
    credential_id: str, request: Request, viewer: Viewer, clients: ClientsDep
) -> HTMLResponse:
    token = token_of(viewer)
    reply = await invoke(
        clients.credentials.GetCredential,
        credentials_service_pb2.GetCredentialRequest(
            credential_id=resource_id(credential_id, "credential")
        ),
        token=token,
    )
    earner_name = reply.credential.earner_name
    credential = mapping.credential_to_json(reply.credential)
    verdict, verify_error = await _verify(clients, credential.jwt, token)
    badge = _badge_facts(verdict.credential if verdict else None)
    base_url = request.app.state.settings.public_base_url.rstrip("/")
    page_url = f"{base_url}/credentials/{credential.id}"
    return render(
        request,
        "credential.html",
        {
            "credential": credential,
            "verdict": verdict,
            "verify_error": verify_error,
            "badge": badge,
            "earner_name": earner_name,
            "page_url": page_url,
            "image_url": badge.get("image")
            or f"{base_url}/programs/{credential.program_id}/badge.svg",
            "share": _share_links(credential, badge, page_url, earner_name),
        },
    )


async def _verify(clients: Clients, jwt: str, token: str) -> tuple[Any, str]:
    try:
        reply = await invoke(
            clients.credentials.VerifyCredential,
            credentials_service_pb2.VerifyCredentialRequest(credential=jwt),
            token=token,
        )
    except ProblemError as problem:
        # Fail closed: the page says it could not verify, never that the credential is valid.
        return None, problem.detail
    return mapping.verification_to_json(reply), ""


def _badge_facts(vc: dict[str, Any] | None) -> dict[str, Any]:
    """What the page shows from the signed credential (only once its signature verified)."""
    if not vc:
        return {}
    subject = vc.get("credentialSubject") or {}
    achievement = subject.get("achievement") or {}
    issuer = vc.get("issuer") or {}
    image = achievement.get("image")
    return {
        "name": achievement.get("name") or vc.get("name", ""),
        "description": achievement.get("description", ""),
        "criteria": (achievement.get("criteria") or {}).get("narrative", ""),
        "skills": [a.get("targetName") for a in achievement.get("alignment") or [] if a],
        "issuer_name": issuer.get("name", "") if isinstance(issuer, dict) else "",
        "issuer_id": issuer.get("id", "") if isinstance(issuer, dict) else str(issuer),
        "subject_id": subject.get("id", ""),
        "valid_from": vc.get("validFrom", ""),
        "valid_until": vc.get("validUntil", ""),
        "image": image.get("id", "") if isinstance(image, dict) else "",
    }


def _share_links(
    credential: Any, badge: dict[str, Any], page_url: str, earner_name: str
) -> dict[str, str]:
    name = badge.get("name") or credential.achievement_name
    issued = credential.issued_at
    add_to_profile = {
        "startTask": "CERTIFICATION_NAME",
        "name": name,
        "organizationName": badge.get("issuer_name", ""),
        "certUrl": page_url,
        "certId": credential.id,
    }
    if issued is not None:
        add_to_profile["issueYear"] = str(issued.year)
        add_to_profile["issueMonth"] = str(issued.month)
    text = f"{earner_name + ' earned' if earner_name else 'Earned'} {name}"
    return {
        "linkedin_add": "https://www.linkedin.com/profile/add?" + urlencode(add_to_profile),
        "linkedin_share": "https://www.linkedin.com/sharing/share-offsite/?"
        + urlencode({"url": page_url}),
        "x": "https://twitter.com/intent/tweet?" + urlencode({"url": page_url, "text": text}),
        "email": f"mailto:?subject={quote(text)}&body={quote(page_url)}",
    }


@router.get("/credentials/{credential_id}/credential.json")
async def credential_json(credential_id: str, viewer: Viewer, clients: ClientsDep) -> Response:
    """The credential as JSON: the OpenBadgeCredential its VC-JWT carries (readable; the
    signature is in the .jwt download, and /verify checks a JSON copy against it)."""
    reply = await invoke(
        clients.credentials.GetCredential,
        credentials_service_pb2.GetCredentialRequest(
            credential_id=resource_id(credential_id, "credential")
        ),
        token=token_of(viewer),
    )
    payload = _jwt_payload(reply.credential.jwt)
    body = {k: v for k, v in payload.items() if k not in _JWT_CLAIMS}
    name = re.sub(r"[^a-z0-9]+", "-", reply.credential.achievement_name.lower()).strip("-")[:60]
    return Response(
        json.dumps(body, indent=2, ensure_ascii=False),
        media_type=_JSON_MEDIA_TYPE,
        headers={
            "Content-Disposition": (
                f'attachment; filename="{name or "credential"}-{reply.credential.id}.json"'
            )
        },
    )


_JWT_CLAIMS = frozenset({"iss", "sub", "jti", "nbf", "exp", "iat"})


def _jwt_payload(jwt: str) -> dict[str, Any]:
    """The payload of a compact JWS, unverified: only for display and comparison."""
    try:
        part = jwt.split(".")[1]
        decoded = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return decoded if isinstance(decoded, dict) else {}


# ---------------------------------------------------------------- the badge image


@router.get("/programs/{program_id}/badge.svg")
async def badge_image(
    program_id: str, clients: ClientsDep, authenticator: AuthenticatorDep
) -> Response:
    """The achievement's badge: a generated SVG with its name and issuer (what the OB 3.0
    achievement `image` references). Text only, escaped: no script, no external reference.

    Read as the gateway itself: a credential's image must keep resolving after its program
    is archived; a draft (never sold, so on no credential) stays unknown."""
    reply = await invoke(
        clients.catalog.GetProgram,
        catalog_service_pb2.GetProgramRequest(program_id=resource_id(program_id, "program")),
        token=authenticator.service_token(),
    )
    program = mapping.program_to_json(reply.program)
    if program.status not in _SOLD:
        raise not_found(f"no program with id {program_id!r}")
    return Response(
        badge_svg(program.credential.name or program.title, program.provider_name or ""),
        media_type="image/svg+xml",
        headers={
            **_BADGE_CACHE,
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


_SOLD = frozenset({"PUBLISHED", "ARCHIVED"})


_PALETTE = ("#2454d6", "#0f7a5c", "#8a3ffc", "#b3261e", "#a15c00", "#1f6f8b")


def badge_svg(name: str, issuer: str) -> str:
    """A 256x256 round badge: initials in the middle, the name and issuer around it."""
    words = [w for w in re.split(r"\s+", name.strip()) if w]
    initials = "".join(w[0] for w in words[:3]).upper() or "?"
    colour = _PALETTE[sum(map(ord, name)) % len(_PALETTE)]
    title = _clip(name, 26)
    by = _clip(issuer, 30)
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256" viewBox="0 0 256 256"'
        f' role="img" aria-label="{escape(name, {chr(34): "&quot;"})}">'
        f"<title>{escape(name)}</title>"
        f'<circle cx="128" cy="128" r="124" fill="{colour}"/>'
        '<circle cx="128" cy="128" r="108" fill="none" stroke="#fff" stroke-width="4"/>'
        '<text x="128" y="128" text-anchor="middle" font-family="sans-serif" font-size="64"'
        f' font-weight="700" fill="#fff">{escape(initials)}</text>'
        '<text x="128" y="170" text-anchor="middle" font-family="sans-serif" font-size="15"'
        f' fill="#fff">{escape(title)}</text>'
        '<text x="128" y="192" text-anchor="middle" font-family="sans-serif" font-size="12"'
        f' fill="#fff">{escape(by)}</text>'
        "</svg>"
    )


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# ---------------------------------------------------------------- /verify


@router.get("/verify", response_class=HTMLResponse)
async def verify_page(request: Request, viewer: Viewer) -> HTMLResponse:
    return render(request, "verify.html", {"verdict": None, "pasted": ""})


@router.post("/verify", response_class=HTMLResponse)
async def verify_submit(
    request: Request,
    viewer: Viewer,
    clients: ClientsDep,
    credential: Annotated[str, Form(max_length=MAX_CREDENTIAL_BYTES)] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse:
    """Paste a credential (VC-JWT, or our JSON download) or upload its file; the same checks
    as POST /api/v1/credentials/verify, with a verdict a person can read."""
    text = credential.strip()
    if file is not None and file.filename:
        raw = await file.read(MAX_CREDENTIAL_BYTES + 1)
        if len(raw) > MAX_CREDENTIAL_BYTES:
            return _verify_answer(
                request, "", message="That file is too large to be a credential.", status_code=413
            )
        try:
            text = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            return _verify_answer(
                request, "", message="That file is not a credential (not text).", status_code=400
            )
    if not text:
        return _verify_answer(
            request, "", message="Paste a credential or choose its file.", status_code=400
        )
    if "\x00" in text:
        return _verify_answer(request, "", message="That is not a credential.", status_code=400)
    jwt, claimed = await _jwt_of(clients, text, token_of(viewer))
    if not jwt:
        return _verify_answer(
            request,
            text,
            message="That is neither a VC-JWT nor one of our credentials in JSON.",
            status_code=400,
        )
    verdict, error = await _verify(clients, jwt, token_of(viewer))
    if verdict is not None and claimed is not None:
        # A JSON copy proves nothing by itself: it must be exactly what the issuer signed.
        signed = verdict.credential or {}
        same = {k: v for k, v in signed.items() if k not in _JWT_CLAIMS} == claimed
        verdict.checks.append(
            schemas.VerificationCheck(
                name="matches_signed_copy",
                passed=same,
                detail="the JSON is what the issuer signed"
                if same
                else "the JSON differs from the credential the issuer signed",
            )
        )
        if not same:
            verdict.verified = False
            verdict.status = "MALFORMED"
    return _verify_answer(request, text, verdict=verdict, message=error)


async def _jwt_of(clients: Clients, text: str, token: str) -> tuple[str, dict[str, Any] | None]:
    """The VC-JWT to verify, and the JSON claimed to be it (when JSON was given)."""
    if not text.startswith("{"):
        return (text if text.count(".") == 2 else ""), None
    try:
        document = json.loads(text)
    except ValueError:
        return "", None
    if not isinstance(document, dict):
        return "", None
    enveloped = document.get("id")
    if isinstance(enveloped, str) and enveloped.startswith(_ENVELOPED_PREFIX):
        return enveloped.removeprefix(_ENVELOPED_PREFIX), None  # VCDM 2.0 enveloped VC
    match = _CREDENTIAL_URN.match(str(document.get("id", "")))
    if not match:
        return "", None
    try:
        credential_id = str(uuid.UUID(match.group(1)))
        reply = await invoke(
            clients.credentials.GetCredential,
            credentials_service_pb2.GetCredentialRequest(credential_id=credential_id),
            token=token,
        )
    except (ValueError, ProblemError):
        return "", None
    return reply.credential.jwt, document


def _verify_answer(
    request: Request,
    pasted: str,
    *,
    verdict: Any = None,
    message: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        "verify.html",
        {"verdict": verdict, "pasted": pasted, "message": message},
        status_code=status_code,
    )


# ---------------------------------------------------------------- favicon


@router.get("/favicon.ico")
async def favicon() -> RedirectResponse:
    """Browsers ask for /favicon.ico whatever the page says: send them to the SVG."""
    return RedirectResponse("/static/favicon.svg", status_code=301)
