"""Politeness at scale: many hosts crawled at once, and none sees more than its limit.

The pages are served from several loopback addresses (127.0.0.2, 127.0.0.3, ...), one host
each as Scrapy sees hosts. The server holds every page request of a host until as many are in
flight there as the limit allows (or as the host has pages left): requests overlap as much as
the crawler lets them instead of being answered before the next one comes, so a crawler that
sends more than the limit shows it in the counts. The server counts; the test compares the
counts with the limit. Nothing here depends on timing.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli, write_config

from monitor.config import Politeness
from monitor.crawl.settings import crawl_settings

HOSTS = [f"127.0.0.{n}" for n in range(2, 7)]
PAGES_PER_HOST = 10  # 50 targets: the pass reads in a reader process too
# A held request gives up after this long, so that a test can fail instead of hanging.
HOLD_LIMIT_SECONDS = 30
PAGE = ("<html><body><main><h1>Requests from Hong Kong authorities</h1><p>We respond to "
        "valid legal requests from Hong Kong authorities. Page {n}.</p></main></body></html>")


class HostCounts:
    """Requests in flight per host, the most seen at once, and the pages left to serve."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.changed = threading.Condition()
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.left = Counter({host: PAGES_PER_HOST for host in HOSTS})
        self.gave_up = 0
        self.connections: Counter[str] = Counter()  # open now, per host
        self.peak_connections: Counter[str] = Counter()

    def connected(self, host: str, change: int) -> None:
        with self.changed:
            self.connections[host] += change
            self.peak_connections[host] = max(self.peak_connections[host],
                                              self.connections[host])

    def arrive(self, host: str) -> None:
        with self.changed:
            self.in_flight[host] += 1
            self.peak[host] = max(self.peak[host], self.in_flight[host])
            self.changed.notify_all()

    def hold(self, host: str) -> None:
        """Wait until the host's allowance is in use, or all its remaining pages are asked."""
        with self.changed:
            if not self.changed.wait_for(
                    lambda: self.in_flight[host] >= min(self.limit, self.left[host]),
                    timeout=HOLD_LIMIT_SECONDS):
                self.gave_up += 1

    def leave(self, host: str, page: bool) -> None:
        with self.changed:
            self.in_flight[host] -= 1
            self.left[host] -= page
            self.changed.notify_all()


class ManyHosts:
    """One threaded HTTP server per loopback address, all on one port, sharing HostCounts."""

    def __init__(self, limit: int) -> None:
        self.counts = HostCounts(limit)
        counts = self.counts

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                host = self.server.server_address[0]  # type: ignore[index]
                page = self.path.startswith("/p/")
                counts.arrive(host)
                if page:
                    counts.hold(host)
                # Counted out before the answer goes: once the client has read it, it may
                # rightly send the next request before this thread would get to count.
                counts.leave(host, page)
                body = (PAGE.format(n=self.path) if page else "User-agent: *\n").encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html" if page else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        class CountingServer(ThreadingHTTPServer):
            """Counts the connections open at once too: a crawler that opens more than its
            limit shows it here even before it sends the requests on them."""

            def process_request_thread(self, request: Any, client_address: Any) -> None:
                host = self.server_address[0]
                counts.connected(host, 1)
                try:
                    super().process_request_thread(request, client_address)
                finally:
                    counts.connected(host, -1)

        self.port = _free_port()
        self.servers = [CountingServer((host, self.port), Handler) for host in HOSTS]
        for server in self.servers:
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, daemon=True).start()

    def urls(self) -> list[str]:
        """Hosts interleaved, as a real watchlist mixes companies."""
        return [f"http://{host}:{self.port}/p/{n}/" for n in range(PAGES_PER_HOST)
                for host in HOSTS]

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def _free_port() -> int:
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((HOSTS[0], 0))
            port = probe.getsockname()[1]
        try:
            for host in HOSTS[1:]:
                with socket.socket() as other:
                    other.bind((host, port))
        except OSError:
            continue
        return port
    raise OSError("no port free on every test address")


@pytest.fixture
def many_hosts(request: pytest.FixtureRequest) -> Iterator[ManyHosts]:
    farm = ManyHosts(request.param)
    yield farm
    farm.close()


@pytest.mark.parametrize("many_hosts", [1, 2, 3], indirect=True)
def test_no_host_sees_more_requests_at_once_than_its_limit(many_hosts: ManyHosts,
                                                          tmp_path: Path) -> None:
    limit = many_hosts.counts.limit
    config = write_config(tmp_path / "targets.yaml", [
        {"id": f"t{n:02d}", "company": f"Company {n}", "url": url}
        for n, url in enumerate(many_hosts.urls())],
        politeness={"per_host_concurrency": limit, "delay": "0s"})
    result = run_cli("check", "--config", str(config), "--state", str(tmp_path / "state"),
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    counts = many_hosts.counts
    assert sum(counts.left.values()) == 0  # every page was fetched
    assert counts.gave_up == 0
    assert set(counts.peak) == set(HOSTS)
    assert max(counts.peak.values()) <= limit
    assert max(counts.peak_connections.values()) <= limit
    assert min(counts.peak.values()) == limit  # the allowance was used: the test has teeth


def test_the_config_politeness_is_what_scrapy_is_told() -> None:
    """Per-host limit and delay from the config, and no random jitter shortening the delay."""
    settings = crawl_settings(Politeness(per_host_concurrency=3, delay="1.5s"), None, False)
    assert settings["CONCURRENT_REQUESTS_PER_DOMAIN"] == 3
    assert settings["DOWNLOAD_DELAY"] == 1.5
    assert settings["DOWNLOAD_DELAY_JITTER"] == 0
    assert settings["CONCURRENT_REQUESTS"] >= 3
