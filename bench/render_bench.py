"""What a `render: true` target costs against a plain one: time, CPU and memory of a pass.

Serves N pages of about 20 KB on 127.0.0.1 that carry the same statement, once in the HTML
(plain) and once built by a script from inline JSON (rendered), and runs the real crawl
(monitor.crawl.runner.crawl, the one `check` uses) in a fresh process for each measurement: a
pass of 1 and of N plain targets, 1 and N rendered ones, and N of each in one mixed pass.
Reports the median wall time of the crawl, the per-page marginal cost, the CPU time of the
whole process tree, and its peak memory (PSS summed over the tree, browser included).

Why: a rendered target starts a browser, loads the page and waits for its text to settle; the
figures tell a newsroom how many of them a schedule can afford, and show that plain targets in
the same pass keep their speed.

    python bench/render_bench.py [--pages 20] [--repeat 3] [--data-delay-ms 0]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
STATEMENT = ("We have paused the processing of requests for user data from Hong Kong "
             "authorities while we assess the new law.")
FILLER = ("Our transparency report describes how we handle requests from governments around "
          "the world, how many we receive and how often we produce data in response. ")
# Enough filler paragraphs for a page of about 20 KB, the size of a real policy page.
FILLER_PARAGRAPHS = 110
# How often the memory of the process tree is sampled while a pass runs.
RSS_SAMPLE_SECONDS = 0.05


def plain_page() -> bytes:
    body = "".join(f"<p>{FILLER}</p>" for _ in range(FILLER_PARAGRAPHS))
    return (f"<!doctype html><html><head><title>Report</title></head><body><main>"
            f"<h1>Hong Kong</h1><p>{STATEMENT}</p>{body}</main></body></html>").encode()


def script_page(delay_ms: int) -> bytes:
    """The same page, its text written by a script (after `delay_ms`, as if fetched)."""
    data = json.dumps({"statement": STATEMENT, "filler": [FILLER] * FILLER_PARAGRAPHS})
    return (f"<!doctype html><html><head><title>Report</title></head><body>"
            f"<main id='root'><p class='loading'>Loading…</p></main>"
            f"<script type='application/json' id='data'>{data}</script><script>"
            f"setTimeout(function () {{"
            f"  var d = JSON.parse(document.getElementById('data').textContent);"
            f"  document.getElementById('root').innerHTML = '<h1>Hong Kong</h1><p>' + "
            f"    d.statement + '</p>' + d.filler.map(function (f) {{ return '<p>' + f + "
            f"    '</p>'; }}).join('');"
            f"}}, {delay_ms});</script></body></html>").encode()


class _Server(ThreadingHTTPServer):
    # listen() runs in the constructor: the backlog must be raised on the class, or 16
    # concurrent connections overflow the default 5 and stall for a SYN retry (a second).
    request_queue_size = 256
    daemon_threads = True


def serve(delay_ms: int) -> ThreadingHTTPServer:
    pages = {"plain": plain_page(), "script": script_page(delay_ms)}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            if self.path == "/robots.txt":
                body, kind = b"User-agent: *\nAllow: /\n", "text/plain"
            else:
                body, kind = pages[self.path.split("/")[1]], "text/html; charset=utf-8"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- one pass, in a child process (Scrapy's reactor runs once per process) ------------------


def child(base: str, plain: int, rendered: int) -> None:
    """Run one crawl and print its figures as JSON on stdout."""
    sys.path.insert(0, str(REPO))
    from monitor.config import Politeness
    from monitor.crawl.runner import crawl, run_reactor
    from spiders.page import PageRequest

    requests = [PageRequest(f"plain-{i}", f"{base}/plain/{i}") for i in range(plain)]
    requests += [PageRequest(f"rendered-{i}", f"{base}/script/{i}", render=True)
                 for i in range(rendered)]
    pages: list = []
    plain_done = 0.0
    loose = Politeness(per_host_concurrency=16, delay=0)  # one loopback host: no politeness
    started = time.perf_counter()

    def arrived(page: Any) -> None:
        nonlocal plain_done
        pages.append(page)
        if page.target_id.startswith("plain"):
            plain_done = time.perf_counter() - started

    run_reactor(lambda: crawl(requests, loose, None, arrived))
    seconds = time.perf_counter() - started
    with_text = sum(1 for p in pages if p.text and STATEMENT in p.text.split("<script")[0])
    errors = sorted({p.error for p in pages if p.error})
    print(json.dumps({"seconds": seconds, "pages": len(pages), "with_text": with_text,
                      "errors": errors, "plain_done": plain_done}))


# --- measuring a pass from the parent -----------------------------------------------------------


@dataclass
class Pass:
    seconds: float  # the crawl, inside the child
    cpu: float  # user + system of the child and everything it started
    peak_mb: float  # highest sum of PSS over the process tree
    with_text: int
    pages: int
    plain_done: float  # when the last plain page had come back, since the crawl started


def measure(base: str, plain: int, rendered: int) -> Pass:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", base, str(plain), str(rendered)],
        stdout=subprocess.PIPE, text=True, cwd=REPO)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_pss_kb(process.pid))
        time.sleep(RSS_SAMPLE_SECONDS)
    output = process.stdout.read() if process.stdout else ""
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if process.returncode != 0:
        raise SystemExit(f"the crawl failed (exit {process.returncode})")
    figures = json.loads(output.strip().splitlines()[-1])
    if figures["errors"]:
        raise SystemExit(f"fetch errors: {figures['errors']}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Pass(figures["seconds"], cpu, peak / 1024, figures["with_text"], figures["pages"],
                figures["plain_done"])


def tree_pss_kb(root: int) -> int:
    """Memory of `root` and all its descendants, from /proc (Linux).

    PSS, not RSS: Chromium's processes share most of their pages, and summing RSS would count
    those once per process.
    """
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        children.setdefault(parent, []).append(int(entry))
    return sum(_pss_kb(pid) for pid in _descendants(root, children))


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:  # gone already, or not ours to read
        pass
    return 0


def _descendants(root: int, children: dict[int, list[int]]) -> Iterator[int]:
    yield root
    for child_pid in children.get(root, []):
        yield from _descendants(child_pid, children)


def median_pass(base: str, plain: int, rendered: int, repeat: int) -> Pass:
    runs = [measure(base, plain, rendered) for _ in range(repeat)]
    return Pass(statistics.median(r.seconds for r in runs), statistics.median(r.cpu for r in runs),
                max(r.peak_mb for r in runs), min(r.with_text for r in runs), runs[0].pages,
                statistics.median(r.plain_done for r in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=20, help="targets of each kind (N)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--data-delay-ms", type=int, default=0,
                        help="how long the script waits before writing the text")
    args = parser.parse_args()
    from monitor.crawl.render import find_browser

    if find_browser() is None:
        raise SystemExit("no Chromium on the PATH (apt-get install chromium): nothing to compare")
    server = serve(args.data_delay_ms)
    base = f"http://127.0.0.1:{server.server_port}"
    n = args.pages
    cases = [("plain", 1, 0), ("plain", n, 0), ("rendered", 0, 1), ("rendered", 0, n),
             ("mixed", n, n)]
    results = {}
    print(f"{'pass':<10}{'targets':>8}{'crawl s':>9}{'CPU s':>8}{'peak MB':>9}{'text ok':>9}")
    for label, plain, rendered in cases:
        result = median_pass(base, plain, rendered, args.repeat)
        results[(label, plain + rendered)] = result
        print(f"{label:<10}{plain + rendered:>8}{result.seconds:>9.2f}{result.cpu:>8.2f}"
              f"{result.peak_mb:>9.0f}{result.with_text:>6}/{result.pages}")
    server.shutdown()
    plain_1, plain_n = results[("plain", 1)], results[("plain", n)]
    render_1, render_n = results[("rendered", 1)], results[("rendered", n)]
    mixed = results[("mixed", 2 * n)]
    per_plain = (plain_n.seconds - plain_1.seconds) / (n - 1) if n > 1 else plain_1.seconds
    per_render = (render_n.seconds - render_1.seconds) / (n - 1) if n > 1 else render_1.seconds
    print(f"\nfixed cost of a pass with a rendered target (browser start): "
          f"{render_1.seconds - plain_1.seconds:.2f} s")
    print(f"marginal cost per target: plain {per_plain * 1000:.0f} ms, rendered "
          f"{per_render * 1000:.0f} ms ({per_render / max(per_plain, 1e-6):.0f}x)")
    cpu_plain = (plain_n.cpu - plain_1.cpu) / max(n - 1, 1)
    cpu_render = (render_n.cpu - render_1.cpu) / max(n - 1, 1)
    print(f"marginal CPU per target: plain {cpu_plain * 1000:.0f} ms, rendered "
          f"{cpu_render * 1000:.0f} ms")
    print(f"peak memory: {plain_n.peak_mb:.0f} MB plain, {render_n.peak_mb:.0f} MB with the "
          "browser")
    print(f"mixed pass of {n}+{n}: {mixed.seconds:.2f} s, against {render_n.seconds:.2f} s for "
          f"the rendered ones alone; its plain pages were all back after "
          f"{mixed.plain_done:.2f} s (a plain-only pass: {plain_n.plain_done:.2f} s)")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.path.insert(0, str(REPO))
        main()
