"""axe-core (npm, pinned in package-lock.json) run inside the page: WCAG 2.1 A/AA rules."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


async def assert_no_serious_violations(page: Page) -> list[dict]:
    """Fail on any serious or critical violation; return the minor ones for the record."""
    assert AXE.exists(), "run `make web` (npm ci) for axe-core"
    if not await page.evaluate("() => Boolean(window.axe)"):
        # Served by the app from node_modules: the pages' CSP refuses an inline copy.
        await page.add_script_tag(url="/vendor/axe-core/axe.min.js")
    result = await page.evaluate(
        """() => axe.run(document, {runOnly: {type: "tag",
             values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})"""
    )
    serious = [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "targets": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"] if v["impact"] in SERIOUS
    ]
    assert not serious, serious
    return [v for v in result["violations"] if v["impact"] not in SERIOUS]
