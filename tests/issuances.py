"""One sample issuance for the credential tests (building, signing, verifying): each test
changes only what it is about."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from services.credentials.badges import Issuance

BASE = "https://upskill.example"
ISSUED = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


def make_issuance(**changes: Any) -> Issuance:
    issuance = Issuance(
        credential_id="0b9f4a6e-3f0c-4a55-9a55-5d3a9a3c2b10",
        learner_id="learner-42",
        learner_email="Ada@Example.com",
        provider_id="prov-7",
        provider_name="Acme Academy",
        program_id="prog-9",
        achievement_name="Data Wrangling",
        achievement_description="Cleans and reshapes real-world data.",
        criteria="Completed all labs and the capstone.",
        skills=["Python", "SQL & joins"],
        issued_at=ISSUED,
        valid_for_days=365,
        status_list_url=f"{BASE}/status-lists/1",
        status_index=42,
        base_url=BASE,
    )
    return dataclasses.replace(issuance, **changes)
