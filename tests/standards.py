"""Third-party standards artefacts for tests, read from ../shared/standards/ (never copied
into the project). A test that needs one skips, naming the file, when it is missing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft201909Validator
from jsonschema.exceptions import ValidationError

STANDARDS = Path(__file__).resolve().parent.parent.parent / "shared" / "standards"
OB3_SCHEMA = "ob_v3p0_achievementcredential_schema.json"

# What makes a credential an AchievementCredential rather than any VCDM 2.0 credential: a
# status list credential fails exactly these parts of the OB 3.0 schema, and nothing else.
ACHIEVEMENT_ONLY_PATHS = frozenset({"@context", "type", "credentialSubject"})


def load(name: str) -> Any:
    path = STANDARDS / name
    if not path.is_file():
        pytest.skip(f"{name} is not in {STANDARDS} (the shared standards folder)")
    return json.loads(path.read_text())


def ob3_validator() -> Draft201909Validator:
    """The official 1EdTech OB 3.0 AchievementCredential schema, with format checking (the
    schema says draft 2019-09; date-time needs the jsonschema[format] extra)."""
    schema = load(OB3_SCHEMA)
    assert schema["$schema"].startswith("https://json-schema.org/draft/2019-09/")
    Draft201909Validator.check_schema(schema)
    return Draft201909Validator(schema, format_checker=Draft201909Validator.FORMAT_CHECKER)


def schema_errors(document: Mapping[str, Any]) -> list[ValidationError]:
    return sorted(ob3_validator().iter_errors(document), key=lambda e: list(e.absolute_path))


def describe(errors: list[ValidationError]) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:200]}" for e in errors]
