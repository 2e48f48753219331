"""The demo's web site: bundled sample pages served from 127.0.0.1 on a free port.

A real HTTP server (not a fake fetcher) so the demo runs the same Scrapy crawl as `check`:
robots.txt, conditional requests, the size cap and the tracker all see a real answer. Between
two passes the walkthrough swaps which sample file each path serves.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.resources import files
from types import TracebackType

HOST = "127.0.0.1"  # loopback only: the demo never serves, nor fetches, beyond this machine
ROBOTS = b"User-agent: *\nAllow: /\n"


def sample_page(name: str) -> bytes:
    """One bundled sample page (package data, so it works from an installed wheel too)."""
    return files("monitor.demo").joinpath("pages", name).read_bytes()


class DemoSite:
    """Serves `path -> sample file` as currently shown; `show` swaps the files between passes."""

    def __init__(self) -> None:
        self._pages: dict[str, bytes] = {}
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.split("?", 1)[0]
                if path == "/robots.txt":
                    self._answer(200, "text/plain", ROBOTS)
                    return
                with site._lock:
                    body = site._pages.get(path)
                if body is None:
                    self._answer(404, "text/plain", b"not found")
                else:
                    self._answer(200, "text/html; charset=utf-8", body)

            def _answer(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass  # the walkthrough narrates; access logs would drown it

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-site",
                                        daemon=True)

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self._server.server_port}"

    def url(self, path: str) -> str:
        return self.base + path

    def show(self, pages: Mapping[str, str]) -> None:
        """Serve these sample files at these paths from now on (paths not named stay as they
        were)."""
        loaded = {path: sample_page(name) for path, name in pages.items()}
        with self._lock:
            self._pages.update(loaded)

    def __enter__(self) -> DemoSite:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()
