"""Shared fixtures: a local page server, a config writer, and the CLI run as a user runs it.

`check` installs Scrapy's reactor, which cannot be restarted inside one process, so commands
that fetch run in a subprocess; everything binds to 127.0.0.1 only.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Page:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    reset: bool = False  # close the connection without an answer


class PageServer:
    """Serves `pages[path]`; tests swap pages between checks. Records every request path."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                server.requests.append(self.path)
                if self.path == "/robots.txt":
                    self._answer(Page(b"User-agent: *\nAllow: /\n", 200, "text/plain"))
                    return
                self._answer(server.pages.get(self.path, Page(b"not found", 404, "text/plain")))

            def _answer(self, page: Page) -> None:
                if page.reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.close_connection = True
                    return
                self.send_response(page.status)
                self.send_header("Content-Type", page.content_type)
                if "Content-Length" not in page.headers:
                    self.send_header("Content-Length", str(len(page.body)))
                for name, value in page.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(page.body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.request_queue_size = 128
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def set(self, path: str, html: str | bytes, **kwargs: object) -> str:
        body = html.encode("utf-8") if isinstance(html, str) else html
        self.pages[path] = Page(body, **kwargs)  # type: ignore[arg-type]
        return self.base + path


@pytest.fixture
def pages() -> Iterator[PageServer]:
    server = PageServer()
    server.thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


def write_config(path: Path, targets: list[dict], **defaults: object) -> Path:
    data = {"defaults": {"politeness": {"per_host_concurrency": 4, "delay": "0s"}, **defaults},
            "targets": targets}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def run_cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `python -m monitor ARGS` as a user would; no Slack unless `env` sets it."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "STANCEWATCH_"))}
    base["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=cwd, text=True,
                          capture_output=True, env={**base, **(env or {})}, timeout=timeout)
