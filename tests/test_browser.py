"""Real Chromium (Playwright) opens every page over http: no console errors, no request to another host."""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from generator.site import PAGES

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


@pytest.fixture(scope="module")
def served_site(quick_build):
    """The quick site under a sub-path (/repo/), as on a GitHub Pages project site."""
    root = quick_build["out"].parent / "serve-root"
    root.mkdir(exist_ok=True)
    link = root / "repo"
    if not link.exists():
        link.symlink_to(quick_build["out"], target_is_directory=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/repo/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (.ci/run does)")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


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
    broken = page.evaluate("""() => [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)""")
    assert not broken
    assert page.locator("nav a[aria-current=page]").count() == 1
    page.close()
