"""Pure pieces of the learner and credential pages: the display-name rule and the badge SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from services.common.errors import InvalidArgumentError
from services.credentials.badges import badge_image_url
from services.credentials.profiles import MAX_DISPLAY_NAME, Profile, clean_display_name
from services.gateway.pages_credentials import badge_svg


@pytest.mark.parametrize(
    ("given", "kept"),
    [("  Ada   Lovelace ", "Ada Lovelace"), ("Zoë Ŝtrange", "Zoë Ŝtrange"), ("", "")],
)
def test_a_display_name_is_one_trimmed_line(given: str, kept: str) -> None:
    assert clean_display_name(given) == kept


@pytest.mark.parametrize(
    "bad", ["Ada\nLovelace", "Ada\x00", "\x1b[31m", "tab\there", "x" * (MAX_DISPLAY_NAME + 1)]
)
def test_a_display_name_refuses_control_characters_breaks_and_length(bad: str) -> None:
    with pytest.raises(InvalidArgumentError) as refused:
        clean_display_name(bad)
    assert [v.field for v in refused.value.violations] == ["display_name"]


def test_a_name_is_shown_only_with_consent() -> None:
    assert Profile("alice", "Alice", True, None).shown_name == "Alice"
    assert Profile("alice", "Alice", False, None).shown_name == ""


@pytest.mark.parametrize(
    "name",
    ['SQL & <Analysts> "quoted"', "</svg><script>alert(1)</script>", "x" * 500, ""],
)
def test_the_badge_is_well_formed_svg_whatever_the_name(name: str) -> None:
    svg = badge_svg(name, "Academy <&>")
    root = ET.fromstring(svg)  # raises on anything not well-formed
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    assert "<script" not in svg


def test_the_badge_url_quotes_the_program_id() -> None:
    assert badge_image_url("https://u.example/", "a/b") == (
        "https://u.example/programs/a%2Fb/badge.svg"
    )
