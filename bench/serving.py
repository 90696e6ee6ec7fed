"""Serving a built site on 127.0.0.1 under a sub-path, as GitHub Pages serves a project site, for the benches."""
from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path
from typing import ClassVar

SUB_PATH = "repo"


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
