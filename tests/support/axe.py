"""axe-core (npm, served by our app under /vendor/axe-core) run inside a page by the browser tests.

``assert_no_serious_violations(page)`` injects axe into the page as it is now and fails on every
serious or critical WCAG 2.1 A/AA violation, listing each rule with the elements it found.
"""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

AXE_URL = "/vendor/axe-core/axe.min.js"
#: WCAG 2.0/2.1 levels A and AA, what issue 25 asks for.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING = ("serious", "critical")


async def axe_violations(page: Page, *, include: str | None = None) -> list[dict[str, Any]]:
    """All axe violations of the page (or of the ``include`` selector), any impact."""
    if not await page.evaluate("() => Boolean(window.axe)"):
        # A same-origin script tag: allowed by the pages' strict CSP (script-src 'self').
        await page.add_script_tag(url=AXE_URL)
        await page.wait_for_function("() => Boolean(window.axe)")
    return await page.evaluate(
        """async ([include, tags]) => {
            const result = await window.axe.run(include || document,
              { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] });
            return result.violations.map((v) => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.map((n) =>
                ({ target: n.target.join(" "), summary: n.failureSummary })),
            }));
        }""",
        [include, TAGS],
    )


def describe(violations: list[dict[str, Any]]) -> str:
    """One paragraph per rule: id, impact, what it means, and up to five offending elements."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:5]:
            lines.append(f"    {node['target']}: {(node['summary'] or '').splitlines()[-1:]}")
    return "\n".join(lines)


async def assert_no_serious_violations(page: Page, *, include: str | None = None) -> None:
    """Fail, listing them, when axe finds serious or critical violations."""
    found = [v for v in await axe_violations(page, include=include) if v["impact"] in FAILING]
    assert not found, f"axe-core: serious/critical violations on {page.url}\n{describe(found)}"
