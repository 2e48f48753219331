"""A farm of local policy pages for the benchmarks: N pages of about 20 KB over many hosts.

Serves on loopback addresses only (127.0.0.2, 127.0.0.3, ...: one listening socket per address,
all on one port), so that a crawl meets many hosts as it would on the web and per-host
politeness is exercised. The server runs in its own process (`Farm`): in the benchmark's
process it would take CPU from the figures it is meant to feed.

Modes, switched between passes:

* `validators`: the same bytes on every request, with ETag and Last-Modified; a conditional
  request for an unchanged page gets 304.
* `rotating`: no validators, and tokens that rotate on every request (CSP nonces, a CSRF
  token, a request id) while nothing about the topic changes: what many dynamic sites serve.

`generation` makes every tenth page change its statement about Hong Kong requests (and its
figures): generation 0 is the baseline, each later one a real change of those pages.

    python bench/pagefarm.py --pages 100 --hosts 50     # serve until Ctrl-C, print the URLs
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import multiprocessing
import random
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate
from multiprocessing.connection import Connection
from typing import Any

TOKEN = b"@TOKEN@"
# Pages are served from 127.0.0.FIRST_HOST upwards; 127.0.0.1 stays free for other servers.
FIRST_HOST = 2
MAX_HOSTS = 250
# A fixed Last-Modified: validators mode never changes a page without a new generation.
LAST_MODIFIED = formatdate(1_700_000_000, usegmt=True)
CHANGE_EVERY = 10  # every tenth page changes in a new generation: "10% changed"

STANCES = (
    "We respond to valid legal requests from Hong Kong authorities, and we produce data only "
    "where a request is lawful and narrow.",
    "We have paused the processing of requests for user data from Hong Kong authorities "
    "while we assess the National Security Law.",
    "We will not process requests from Hong Kong authorities directly; they must go through "
    "the mutual legal assistance treaty process.",
    "We do not have user data to turn over to Hong Kong authorities.",
)
ABOUT_REQUESTS = (
    "We review each government request to make sure it satisfies the law and our policies.",
    "If a legal request is overly broad, we push back or ask for it to be narrowed.",
    "We notify users of requests for their information unless the law prohibits it.",
    "Emergency disclosure requests are reviewed around the clock by a dedicated team.",
    "Law enforcement agencies must send requests through our online portal.",
)
GENERAL = (
    "Our apps let people share photos and messages with the people they care about.",
    "You can change your settings at any time from the account page.",
    "We build products that are accessible to people with disabilities.",
    "Our offices are open from Monday to Friday, and support answers within a day.",
    "Security keys protect your account against phishing and stolen passwords.",
    "This page is available in several languages; pick yours at the bottom.",
    "We publish engineering notes about the systems that keep the service running.",
    "Accessibility reviews are part of every release of our applications.",
)


def page_html(index: int, generation: int = 0, size: int = 20_000) -> bytes:
    """Page `index` as served in `generation`: a transparency page with chrome around it.

    TOKEN marks the places where `rotating` mode puts a fresh token on every request.
    """
    rng = random.Random(index)
    variant = generation if index % CHANGE_EVERY == 0 else 0
    company = f"Company {index:05d}"
    stance = STANCES[(index + variant) % len(STANCES)]
    nav = "".join(f'<li><a href="/c{index}/s{n}/">Section {n}</a></li>' for n in range(10))
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Government requests | {company}</title>"
        '<meta name="csrf-token" content="@TOKEN@">'
        '<script nonce="@TOKEN@">window.__cfg={"req":"@TOKEN@"};</script>'
        '<style>.hidden{display:none}</style></head><body>'
        '<div class="cookie-banner"><p>We use cookies to improve your experience.</p>'
        "<button>Accept</button></div>"
        f'<header><a href="/">{company}</a><nav><ul>{nav}</ul></nav>'
        '<form action="/search"><input type="hidden" name="csrf" value="@TOKEN@">'
        '<input name="q"></form></header>'
        f"<main><article><h1>Government requests for user data</h1>"
        f"<p>Published by {company}.</p>"
        f'<section id="hk"><h2>Requests from Hong Kong</h2><p>{stance}</p>'
        f"<table><tr><th>Requests</th><td>{rng.randint(0, 300) + 7 * variant}</td></tr>"
        f"<tr><th>Accounts</th><td>{rng.randint(0, 400)}</td></tr></table></section>"
        '<script nonce="@TOKEN@">track("@TOKEN@")</script>'
    )
    tail = (f'</article></main><footer><a href="/privacy">Privacy</a> &copy; {company} '
            "<span>Request id @TOKEN@</span></footer></body></html>")
    sections, length = [], len(head) + len(tail)
    while length < size:
        sentences = ABOUT_REQUESTS if len(sections) % 3 == 0 else GENERAL
        title = "Legal process" if sentences is ABOUT_REQUESTS else "About our products"
        paragraphs = "".join(
            "<p>" + " ".join(rng.choice(sentences) for _ in range(4)) + "</p>" for _ in range(3))
        section = f"<section><h2>{title}</h2>{paragraphs}</section>"
        sections.append(section)
        length += len(section)
    return (head + "".join(sections) + tail).encode("utf-8")


@dataclass
class Served:
    """What the farm answered since the last `stats` call."""

    statuses: Counter = field(default_factory=Counter)
    in_flight: Counter = field(default_factory=Counter)
    peak: Counter = field(default_factory=Counter)  # most requests one host answered at once

    def report(self) -> dict[str, Any]:
        return {"requests": sum(self.statuses.values()), "statuses": dict(self.statuses),
                "peak_per_host": max(self.peak.values(), default=0),
                "hosts": len(self.peak)}


class PageServer:
    """The asyncio server: pages by path `/p/INDEX/`, robots.txt allowing everything."""

    def __init__(self, pages: int, size: int) -> None:
        self.pages, self.size = pages, size
        self.mode, self.generation = "validators", 0
        self.served = Served()
        self.counter = 0
        self._bodies: dict[tuple[int, int], list[bytes]] = {}

    def answer(self, path: str, headers: dict[str, str], host: str) -> tuple[int, dict, bytes]:
        if path == "/robots.txt":
            return 200, {"Content-Type": "text/plain"}, b"User-agent: *\nAllow: /\n"
        index = _page_index(path)
        if index is None or not 0 <= index < self.pages:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        parts = self._parts(index)
        kind = {"Content-Type": "text/html; charset=utf-8"}
        if self.mode == "rotating":
            self.counter += 1
            token = hashlib.blake2s(str(self.counter).encode(), digest_size=8).hexdigest()
            return 200, kind, token.encode().join(parts)
        body = b"fixed".join(parts)
        etag = '"' + hashlib.blake2s(body, digest_size=8).hexdigest() + '"'
        validators = {**kind, "ETag": etag, "Last-Modified": LAST_MODIFIED}
        if headers.get("if-none-match") == etag or (
                "if-none-match" not in headers
                and headers.get("if-modified-since") == LAST_MODIFIED):
            return 304, validators, b""
        return 200, validators, body

    def _parts(self, index: int) -> list[bytes]:
        variant = self.generation if index % CHANGE_EVERY == 0 else 0
        key = (index, variant)
        if key not in self._bodies:
            self._bodies[key] = page_html(index, variant, self.size).split(TOKEN)
        return self._bodies[key]

    async def serve_connection(self, reader: asyncio.StreamReader,
                               writer: asyncio.StreamWriter) -> None:
        host = writer.get_extra_info("sockname")[0]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                method, path, headers = _parse(head)
                self.served.in_flight[host] += 1
                self.served.peak[host] = max(self.served.peak[host],
                                             self.served.in_flight[host])
                status, extra, body = self.answer(path, headers, host)
                writer.write(_response(status, extra, b"" if method == "HEAD" else body))
                await writer.drain()
                self.served.in_flight[host] -= 1
                self.served.statuses[status] += 1
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()


def _page_index(path: str) -> int | None:
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "p" and parts[1].isdigit():
        return int(parts[1])
    return None


def _parse(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return method, path, headers


REASONS = {200: "OK", 304: "Not Modified", 404: "Not Found"}


def _response(status: int, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'OK')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if status != 304:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def host_addresses(hosts: int) -> list[str]:
    if not 1 <= hosts <= MAX_HOSTS:
        raise ValueError(f"hosts must be 1 to {MAX_HOSTS}")
    return [f"127.0.0.{FIRST_HOST + n}" for n in range(hosts)]


def free_port(addresses: list[str]) -> int:
    """A port free on every address (asked of the first, then checked on the others)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((addresses[0], 0))
            port = probe.getsockname()[1]
        if all(_free(address, port) for address in addresses[1:]):
            return port
    raise OSError("no port free on every loopback address")


def _free(address: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((address, port))
        except OSError:
            return False
    return True


def page_urls(pages: int, hosts: int, port: int) -> list[str]:
    """Page i lives on host i mod hosts: targets of one host are spread through the list."""
    addresses = host_addresses(hosts)
    return [f"http://{addresses[i % hosts]}:{port}/p/{i}/" for i in range(pages)]


# --- the farm in its own process ---------------------------------------------------------


def _serve(pages: int, hosts: int, port: int, size: int, control: Connection) -> None:
    asyncio.run(_serve_async(pages, hosts, port, size, control))


async def _serve_async(pages: int, hosts: int, port: int, size: int,
                       control: Connection) -> None:
    server = PageServer(pages, size)
    listeners = [await asyncio.start_server(server.serve_connection, address, port,
                                            backlog=1024)
                 for address in host_addresses(hosts)]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_reader(control.fileno(), _command, server, control, stop)
    control.send("ready")
    await stop.wait()
    for listener in listeners:
        listener.close()


def _command(server: PageServer, control: Connection, stop: asyncio.Event) -> None:
    name, value = control.recv()
    if name == "mode":
        server.mode = value
    elif name == "generation":
        server.generation = value
    elif name == "stats":
        control.send(server.served.report())
        server.served = Served()
        return
    elif name == "quit":
        stop.set()
    control.send("ok")


class Farm:
    """The page farm as a child process; a context manager."""

    def __init__(self, pages: int, hosts: int = 50, size: int = 20_000) -> None:
        self.pages, self.hosts, self.size = pages, hosts, size
        self.port = free_port(host_addresses(hosts))
        self.urls = page_urls(pages, hosts, self.port)
        self._control, child = multiprocessing.Pipe()
        self._process = multiprocessing.get_context("fork").Process(
            target=_serve, args=(pages, hosts, self.port, size, child), daemon=True)

    def __enter__(self) -> Farm:
        self._process.start()
        if self._control.recv() != "ready":
            raise RuntimeError("the page farm did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._ask("quit", None)
        self._process.join(10)

    def set_mode(self, mode: str) -> None:
        self._ask("mode", mode)

    def set_generation(self, generation: int) -> None:
        self._ask("generation", generation)

    def stats(self) -> dict[str, Any]:
        """Requests answered since the last call, by status, and the peak per host."""
        return self._ask("stats", None)

    def _ask(self, name: str, value: object) -> Any:
        self._control.send((name, value))
        return self._control.recv()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--mode", choices=("validators", "rotating"), default="validators")
    args = parser.parse_args()
    with Farm(args.pages, args.hosts) as farm:
        farm.set_mode(args.mode)
        print("\n".join(farm.urls[:5] + ["..."]), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
