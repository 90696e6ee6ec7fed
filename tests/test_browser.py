"""Real Chromium (Playwright) opens every page over http: no console errors, no request to another host."""
from __future__ import annotations

from urllib.parse import urlparse

import pytest

from generator.pages import PAGES


@pytest.mark.parametrize("page_name", [p.name for p in PAGES])
def test_page_loads_cleanly_from_a_sub_path(browser, served_site, page_name):
    page = browser.new_page()
    errors, foreign, failed = [], [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: foreign.append(r.url) if urlparse(r.url).hostname != "127.0.0.1" else None)
    page.on("requestfailed", lambda r: failed.append(r.url))
    response = page.goto(served_site + f"{page_name}.html", wait_until="networkidle")
    assert response is not None and response.ok
    assert not errors and not foreign and not failed, (errors, foreign, failed)
    broken = page.evaluate("""() => [...document.images]
        .filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)""")
    assert not broken
    assert page.locator("nav a[aria-current=page]").count() == 1
    page.close()
