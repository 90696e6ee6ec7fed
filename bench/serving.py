"""Serving a built site on 127.0.0.1 under a sub-path, as GitHub Pages serves a project site, for the benches."""
from __future__ import annotations

import contextlib
import functools
import http.server
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

SUB_PATH = "repo"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with the site's content types and no request logging."""

    extensions_map: ClassVar[dict[str, str]] = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                                                ".map": "application/json", ".mjs": "text/javascript",
                                                ".wasm": "application/wasm"}

    def log_message(self, *args) -> None:
        pass


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``root`` (which holds the site at ``root/SUB_PATH``) in a thread; the server and the site's URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/{SUB_PATH}/"


@contextlib.contextmanager
def site_in_chromium(site_dir: Path) -> Iterator[tuple[object, object, str]]:
    """``site_dir`` served under the sub-path and a fresh headless Chromium: (browser, a new page, the site's URL)."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / SUB_PATH).symlink_to(Path(site_dir).resolve(), target_is_directory=True)
        server, base = serve(Path(tmp))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                try:
                    yield browser, browser.new_page(), base
                finally:
                    browser.close()
        finally:
            server.shutdown()
