"""Accessibility and layout checks the browser tests run on every page they touch.

axe-core (npm, pinned in package.json) is added to the browser context as an init script:
it runs before the page's own scripts and is not subject to the page's CSP, which forbids
inline scripts (and must keep doing so).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, ViewportSize

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE: ViewportSize = {"width": 390, "height": 844}
BLOCKING_IMPACTS = ("serious", "critical")


def enable_axe(context: BrowserContext) -> None:
    if not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"no axe-core at {AXE}: run `make test-browser` (npm install)")
        pytest.skip(f"no axe-core at {AXE}: npm install")
    context.add_init_script(path=str(AXE))


def serious_violations(page: Page) -> list[dict[str, Any]]:
    violations: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const result = await axe.run(document, {resultTypes: ["violations"]});
            return result.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ")),
            }));
        }"""
    )
    return [v for v in violations if v["impact"] in BLOCKING_IMPACTS]


def assert_accessible(page: Page) -> None:
    found = serious_violations(page)
    assert not found, f"axe on {page.url}:\n{json.dumps(found, indent=2)}"


def horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when it fits)."""
    overflow: int = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    return max(overflow, 0)
