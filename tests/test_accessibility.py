"""Every page in real Chromium with axe-core (WCAG 2.x A/AA, its default rules): no violations on a desktop, on a
phone (390 px wide) and in dark mode; and no page scrolls sideways on a phone.

axe-core is the npm devDependency in node_modules; the browser context bypasses the site's CSP so that the test can
inject it (the site itself never loads it).
"""
from __future__ import annotations

import pytest

from conftest import ROOT
from generator.pages import PAGES

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
MODES = {"desktop": (DESKTOP, "light"), "phone": (PHONE, "light"), "desktop-dark": (DESKTOP, "dark")}

# Pages that run models: wait until their scripts have loaded the sessions and drawn what they draw first.
SETTLE_JS = """async () => {
    for (const api of [window.digitDreams, window.muddle]) {     // (an element with id="muddle" is window.muddle too)
        if (api && typeof api.idle === "function") { await api.ready; await api.idle(); }
    }
}"""

AXE_JS = """async () => {
    const result = await axe.run(document);
    return result.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
    }));
}"""


def open_page(browser, url: str, viewport: dict, scheme: str):
    """A fresh context (CSP bypassed for the injected script) with the page loaded and settled."""
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `npm ci` (axe-core is a devDependency)")
    context = browser.new_context(viewport=viewport, bypass_csp=True)
    page = context.new_page()
    page.emulate_media(color_scheme=scheme)
    response = page.goto(url, wait_until="networkidle")
    assert response is not None and response.ok
    page.evaluate(SETTLE_JS)
    return context, page


def report(violations: list[dict]) -> str:
    """One block per violation: its rule, impact, summary and the elements it was found on."""
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} — {len(v['nodes'])} element(s)")
        for node in v["nodes"][:8]:
            summary = " ".join(node["summary"].split())
            lines.append(f"    {node['target']}: {summary[:300]}")
    return "\n".join(lines)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("page_name", [p.name for p in PAGES])
def test_axe_finds_no_violations(browser, served_site, page_name, mode):
    viewport, scheme = MODES[mode]
    context, page = open_page(browser, served_site + f"{page_name}.html", viewport, scheme)
    try:
        assert page.evaluate("() => matchMedia('(prefers-color-scheme: dark)').matches") == (scheme == "dark")
        page.add_script_tag(path=str(AXE))
        violations = page.evaluate(AXE_JS)
    finally:
        context.close()
    assert not violations, f"{page_name}.html at {viewport['width']} px, {scheme}:\n{report(violations)}"


@pytest.mark.parametrize("page_name", [p.name for p in PAGES])
def test_no_page_scrolls_sideways_on_a_phone(browser, served_site, page_name):
    context, page = open_page(browser, served_site + f"{page_name}.html", PHONE, "light")
    try:
        widths = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
        wide = page.evaluate("""() => { const w = window.innerWidth; return [...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > w + 0.5)
            .filter((e) => !e.parentElement.closest('[role=region]'))
            .slice(0, 8).map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${e.classList}`); }""")
    finally:
        context.close()
    assert widths[0] <= widths[1], f"{page_name}.html lays out {widths[0]} px in a {widths[1]} px window: {wide}"
