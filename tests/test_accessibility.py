"""Every page in real Chromium with axe-core (WCAG 2.x A/AA, its default rules): no violations on a desktop and on a
phone (390 px wide), light and dark; no page scrolls sideways on a phone; the drawing pad works with a finger.

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
MODES = {"desktop": (DESKTOP, "light"), "phone": (PHONE, "light"), "desktop-dark": (DESKTOP, "dark"),
         "phone-dark": (PHONE, "dark")}

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
            .filter((e) => !e.ownerSVGElement && !e.parentElement.closest('[role=region]'))
            .slice(0, 8).map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${e.classList}`); }""")
    finally:
        context.close()
    assert widths[0] <= widths[1], f"{page_name}.html lays out {widths[0]} px in a {widths[1]} px window: {wide}"


def touch(cdp, kind: str, x: float, y: float) -> None:
    """One touch event through Chromium's input pipeline (as a finger: it would scroll the page if allowed to)."""
    points = [] if kind == "touchEnd" else [{"x": x, "y": y, "id": 1, "radiusX": 4, "radiusY": 4, "force": 1}]
    cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})


def test_the_pad_draws_with_a_finger_without_scrolling_the_page(browser, served_site):
    context = browser.new_context(viewport=PHONE, has_touch=True, is_mobile=True)
    try:
        page = context.new_page()
        page.goto(served_site + "try.html", wait_until="networkidle")
        page.evaluate("() => window.digitDreams.ready")
        pad = page.locator("#pad")
        pad.scroll_into_view_if_needed()
        page.evaluate("() => window.scrollBy(0, 40)")          # room to scroll both ways
        before = page.evaluate("() => window.scrollY")
        box = pad.bounding_box()
        assert before > 0 and box["y"] >= 0
        cdp = context.new_cdp_session(page)
        x, top, bottom = box["x"] + box["width"] / 2, box["y"] + 0.15 * box["height"], box["y"] + 0.85 * box["height"]
        touch(cdp, "touchStart", x, top)
        for k in range(1, 21):                                  # a vertical stroke downwards: a 1
            touch(cdp, "touchMove", x, top + (bottom - top) * k / 20)
        touch(cdp, "touchEnd", x, bottom)
        page.evaluate("() => window.digitDreams.idle()")
        assert page.evaluate("() => getComputedStyle(document.querySelector('#pad')).touchAction") == "none"
        assert page.evaluate("() => window.scrollY") == before, "drawing on the pad scrolled the page"
        assert page.get_attribute("#prediction-upright", "data-digit") != "", "the stroke was not drawn and read"
    finally:
        context.close()
