"""Pages that build their statement with JavaScript: `render: true`, and empty shells.

A local page writes its statement with a script, from data it fetches. Fetched plainly it is a
shell with a "Loading…" placeholder; rendered by headless Chromium it carries the statement.
Shell detection (monitor/shell.py) is pure and tested on hand-written HTML; the crawl runs in a
child process (Scrapy's reactor runs once per process) against a server on 127.0.0.1, and the
browser tests skip when Chromium is not installed (CI installs Debian's `chromium`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import REPO, run_cli, write_config
from fakeslack_server import FakeSlackServer

from monitor.config import ConfigError, load_config
from monitor.crawl.render import find_browser
from monitor.extract import extract
from monitor.records import Extraction
from monitor.shell import Fetch, compare_renderings, is_loading_text, looks_like_empty_shell
from monitor.topics import load_topic

TOPIC = load_topic("hong-kong-requests")
PAUSED = "We have paused the processing of requests for user data from Hong Kong authorities."
REFUSING = "We will not process requests for user data from Hong Kong authorities."
# Not about the topic: what is left of the page when the statement is missing.
INTRO = ("This page explains how Acme Cloud stores your files, how long it keeps them and how "
         "you can download a copy of everything it holds about you.")

needs_chromium = pytest.mark.skipif(
    find_browser() is None,
    reason="Chromium is not installed (Debian: apt-get install chromium; CI installs it)")
def script_page(data: str, delay_ms: int = 300, extra: str = "") -> str:
    """A page whose statement a script fetches from `data` and writes after `delay_ms`."""
    return f"""<!doctype html><html><head><title>Government requests</title></head><body>
<nav><a href="/">Home</a> <a href="/blog">Blog</a></nav>
<main><h1>Government requests</h1><p>{INTRO}</p>
<div id="statement"><p class="loading">Loading…</p></div>{extra}</main>
<noscript>Please enable JavaScript to read this page.</noscript>
<script>
setTimeout(function () {{
  fetch("{data}").then(function (r) {{ return r.ok ? r.json() : null; }})
    .then(function (d) {{
      if (d) document.getElementById("statement").innerHTML = "<p>" + d.statement + "</p>";
    }});
}}, {delay_ms});
</script></body></html>"""


def static_page(body: str) -> str:
    return (f"<!doctype html><html><head><title>T</title></head><body><main>{body}</main>"
            "</body></html>")


def extracted(html: str, select: tuple[str, ...] = ()) -> Extraction:
    return extract(html, select, (), TOPIC)


def shell(html: str, select: tuple[str, ...] = (), **kwargs: Any) -> str | None:
    return looks_like_empty_shell(html, extracted(html, select), select, **kwargs)


# --- config ------------------------------------------------------------------------------------


def test_render_options_are_read_with_their_defaults(tmp_path: Path) -> None:
    path = write_config(tmp_path / "targets.yaml", [
        {"id": "spa", "company": "A", "url": "https://example.com/a", "render": True,
         "render_wait": "#statement p", "render_timeout": "8s"},
        {"id": "spa-default", "company": "A", "url": "https://example.com/b", "render": True},
        {"id": "plain", "company": "A", "url": "https://example.com/c"},
    ], render_timeout="30s")
    cfg = load_config(path)
    assert (cfg.target("spa").render_wait, cfg.target("spa").render_timeout) == (
        "#statement p", 8.0)
    assert cfg.target("spa-default").render_timeout == 30.0
    assert cfg.target("plain").render is False


@pytest.mark.parametrize("entry, key, words", [
    ({"render_wait": "#x"}, "render_wait", "only applies with render: true"),
    ({"render": True, "render_wait": "div[["}, "render_wait", "not a valid CSS selector"),
    ({"render": True, "render_timeout": "10m"}, "render_timeout", "between 1s and 120s"),
    ({"render": True, "render_timeout": "soon"}, "render_timeout", "not a duration"),
    ({"render": True, "render_wiat": "#x"}, "render_wiat", "unknown key"),
])
def test_render_option_mistakes_name_the_key(tmp_path: Path, entry: dict, key: str,
                                             words: str) -> None:
    path = write_config(tmp_path / "targets.yaml", [
        {"id": "spa", "company": "A", "url": "https://example.com/a", **entry}])
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"key '{key}'" in str(caught.value) and words in str(caught.value)
    assert "'spa'" in str(caught.value)


# --- shell detection (pure) --------------------------------------------------------------------


@pytest.mark.parametrize("text, loading", [
    ("Loading…", True), ("Loading...", True), ("Loading the report, please wait", True),
    ("Content is loading", True), ("Please wait…", True), ("One moment please", True),
    ("Please wait 30 days for a reply.", False), ("We are loading new figures every month "
                                                  "into this report.", False),
    (PAUSED, False),
])
def test_loading_placeholders_are_told_from_sentences(text: str, loading: bool) -> None:
    assert is_loading_text(text) is loading


def test_a_plain_fetch_of_a_script_built_page_is_a_shell() -> None:
    reason = shell(script_page("/data"))
    assert reason is not None and "loading placeholder" in reason
    assert "render: true" in reason  # the plain fetch says what to do about it


@pytest.mark.parametrize("body, words", [
    ('<h1>Report</h1><div id="root"></div>', "app root"),
    ('<h1>Report</h1><div id="__next"></div>', "app root"),
    ('<h1>Report</h1><div class="skeleton-line"></div><div class="skeleton-line"></div>',
     "spinner or skeleton"),
    ('<h1>Report</h1><div role="progressbar"></div>', "spinner or skeleton"),
])
def test_plain_shell_signs(body: str, words: str) -> None:
    html = static_page(f"<p>{INTRO}</p>{body}") + "<script src='/app.js'></script>"
    reason = shell(html)
    assert reason is not None and words in reason


def test_a_body_of_scripts_and_a_noscript_notice_is_a_shell() -> None:
    html = ("<html><body><noscript>You need to enable JavaScript to run this app.</noscript>"
            "<script src='/static/app.js'></script></body></html>")
    reason = looks_like_empty_shell(html, extracted(html), ())
    assert reason is not None and "JavaScript" in reason


@pytest.mark.parametrize("html", [
    # the statement is there: whatever else the page carries, it is content
    static_page(f"<p>{PAUSED}</p><div class='spinner'></div><div id='root'></div>"),
    # the statement was removed, the rest of the page stands: a real change to not_mentioned
    static_page(f"<h1>Help</h1><p>{INTRO}</p><p>Contact us for anything else.</p>"),
    # a spinner that is hidden, a lazily loaded image: not loading
    static_page(f"<p>{INTRO}</p><div class='spinner' hidden></div>"
                "<img class='lazy-loading' src='a.png'>"),
    # a server-rendered app root with its text in it
    static_page(f'<div id="root"><p>{INTRO}</p></div>') + "<script src='/a.js'></script>",
])
def test_pages_with_text_are_not_shells(html: str) -> None:
    assert shell(html) is None


def test_a_placeholder_in_the_watched_part_counts_even_beside_other_text() -> None:
    html = static_page(f"<h2>Hong Kong</h2><p>{INTRO}</p><p>Loading statement…</p>")
    assert "loading placeholder" in (shell(html) or "")


def test_rendered_pages_count_only_what_the_browser_saw() -> None:
    """After rendering, an empty mount point is the page having nothing to say, unless its
    scripts failed; a spinner counts only when the browser marked it visible."""
    base = f'<p>{INTRO}</p><div id="app"></div><div class="spinner"></div>'
    assert shell(static_page(base), rendered=True) is None
    failed = static_page(base).replace("<html>", '<html data-stancewatch-script-errors="2">')
    assert "2 script errors" in (shell(failed, rendered=True) or "")
    marked = static_page(f'<p>{INTRO}</p><div class="spinner" data-stancewatch-loading></div>')
    assert "still loading" in (shell(marked, rendered=True) or "")


def test_a_missing_wait_selector_means_the_page_did_not_finish() -> None:
    html = static_page(f"<p>{PAUSED}</p>")
    assert "never showed '#done'" in (shell(html, wait_for="#done", rendered=True) or "")
    assert shell(html, wait_for="main p", rendered=True) is None


def test_select_matching_nothing_on_a_shell_says_why() -> None:
    html = "<html><body><div id='root'></div><script src='/a.js'></script></body></html>"
    found = extracted(html, ("#statement",))
    assert not found.matched
    assert "only scripts" in (looks_like_empty_shell(html, found, ("#statement",)) or "")


def test_comparison_says_when_a_page_needs_the_browser() -> None:
    from monitor.records import FetchedPage

    def fetch(html: str) -> Fetch:
        from datetime import UTC, datetime

        page = FetchedPage("t", "u", "u", 200, html.encode(), datetime.now(UTC), 0.1,
                           text=html)
        return Fetch(page, extracted(html), None)

    plain = fetch(script_page("/data"))
    rendered = fetch(static_page(f"<p>{INTRO}</p><p>{PAUSED}</p>"))
    needed = compare_renderings(plain, rendered)
    assert needed.needs_render and PAUSED in needed.only_rendered
    assert "needs `render: true`" in "\n".join(needed.lines())
    same = compare_renderings(rendered, rendered)
    assert not same.needs_render and "leave `render` off" in same.verdict
    failed = compare_renderings(None, rendered, plain_failed="HTTP 403")
    assert failed.needs_render and "HTTP 403" in failed.verdict


def test_browser_errors_are_cut_to_what_a_user_needs() -> None:
    from twisted.python.failure import Failure

    from spiders.page import describe_failure

    launch = ("BrowserType.launch: Target page, context or browser has been closed\n"
              "Browser logs:\n\n<launching> /usr/bin/chromium --no-sandbox --headless\n"
              "[pid=7][err] error while loading shared libraries: libnss3.so")
    assert describe_failure(Failure(RuntimeError(launch))) == (
        "the headless browser could not start (RuntimeError: BrowserType.launch: Target page, "
        "context or browser has been closed: error while loading shared libraries: libnss3.so)")
    slow = "Page.goto: Timeout 20000ms exceeded.\nCall log:\n  - navigating to \"http://x/\""
    assert describe_failure(Failure(TimeoutError(slow))) == (
        "timed out (TimeoutError: Page.goto: Timeout 20000ms exceeded.)")


# --- the crawl, with a real browser --------------------------------------------------------------


class Site:
    """Pages and JSON data on 127.0.0.1; records the headers of every request by path."""

    def __init__(self) -> None:
        self.pages: dict[str, tuple[int, str, str]] = {}
        self.seen: dict[str, list[dict[str, str]]] = {}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = urlsplit(self.path).path
                site.seen.setdefault(self.path, []).append(dict(self.headers))
                status, kind, body = site.pages.get(path, (404, "text/plain", "not found"))
                if path == "/robots.txt":
                    status, kind, body = 200, "text/plain", "User-agent: *\nAllow: /\n"
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", '"v1"')
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # listen() runs in the constructor: set it on the class
            daemon_threads = True

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"

    def html(self, path: str, html: str, status: int = 200) -> str:
        self.pages[path] = (status, "text/html; charset=utf-8", html)
        return self.base + path

    def data(self, path: str, statement: str | None) -> None:
        if statement is None:
            self.pages.pop(path, None)
        else:
            self.pages[path] = (200, "application/json", json.dumps({"statement": statement}))


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


CHILD = """
import json, sys
from monitor.config import Politeness
from monitor.crawl.runner import fetch_once
from spiders.page import PageRequest

requests = [PageRequest(**r) for r in json.loads(sys.argv[1])]
pages = fetch_once(requests, Politeness(per_host_concurrency=8, delay=0))
print(json.dumps({k: {"status": p.status, "error": p.error, "text": p.text, "etag": p.etag}
                  for k, p in pages.items()}))
"""


def crawl_in_child(requests: list[dict[str, Any]], path: str | None = None) -> dict[str, dict]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if path is not None:
        env["PATH"] = path
    result = subprocess.run([sys.executable, "-c", CHILD, json.dumps(requests)], env=env,
                            capture_output=True, text=True, timeout=180, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@needs_chromium
def test_one_crawl_fetches_plain_and_rendered_pages(site: Site) -> None:
    site.data("/data/paused", PAUSED)
    url = site.html("/js", script_page("/data/paused"))
    never = site.html("/never", script_page("/data/missing"))
    spin = site.html("/spin", script_page("/data/missing").replace(
        '<p class="loading">Loading…</p>', '<div class="spinner-border"></div>').replace(
        "</main>", "<div class='file-uploader'></div></main>"))
    late = site.html("/late", script_page("/data/paused", delay_ms=1500))
    empty = site.html("/empty", script_page("/data/none").replace(
        "d.statement", "'We publish a report on these requests every six months.'").replace(
        "r.ok ? r.json() : null", "{}"))
    broken = site.html("/broken", static_page(f'<p>{INTRO}</p><div id="root"></div>')
                       .replace("</body>", "<script>null.boom();</script></body>"))
    site.html("/fail", static_page("<p>Internal error</p>"), status=500)
    pages = crawl_in_child([
        {"target_id": "plain", "url": url + "?plain", "etag": '"v1"'},
        {"target_id": "rendered", "url": url + "?rendered", "etag": '"v1"', "render": True},
        {"target_id": "late", "url": late, "render": True},
        {"target_id": "never", "url": never, "render": True},
        {"target_id": "spin", "url": spin, "render": True},
        {"target_id": "wait", "url": url + "?wait", "render": True, "render_wait": "#done",
         "render_timeout": 2},
        {"target_id": "empty", "url": empty, "render": True},
        {"target_id": "broken", "url": broken, "render": True},
        {"target_id": "fail", "url": site.base + "/fail", "render": True},
    ])

    # the plain fetch: a shell, fetched conditionally as ever
    plain = pages["plain"]["text"]
    assert PAUSED not in plain and "render: true" in (shell(plain) or "")
    assert site.seen["/js?plain"][0].get("If-None-Match") == '"v1"'
    # rendered: the statement the script wrote; never conditional, no validators kept
    rendered = pages["rendered"]
    assert PAUSED in extracted(rendered["text"]).relevant
    assert shell(rendered["text"], rendered=True) is None
    assert "If-None-Match" not in site.seen["/js?rendered"][0]
    assert rendered["etag"] is None
    # a slow script is waited for: its text, not the placeholder
    assert PAUSED in extracted(pages["late"]["text"]).relevant
    # data that never arrives, a selector that never appears, scripts that crash: shells
    assert "loading placeholder" in (shell(pages["never"]["text"], rendered=True) or "")
    spinning = pages["spin"]["text"]
    assert "still loading" in (shell(spinning, rendered=True) or "")
    assert 'class="file-uploader"' in spinning  # not a loader: the browser left it unmarked
    assert "file-uploader\" data-stancewatch-loading" not in spinning
    assert pages["wait"]["error"] is None
    assert "never showed '#done'" in (shell(pages["wait"]["text"], wait_for="#done",
                                            rendered=True) or "")
    assert "script error" in (shell(pages["broken"]["text"], rendered=True) or "")
    # scripts that ran and wrote nothing about the topic: content, not a shell
    assert shell(pages["empty"]["text"], rendered=True) is None
    assert "six months" in pages["empty"]["text"]
    # an error page is an error page, rendered or not
    assert pages["fail"]["status"] == 500


def test_without_chromium_rendered_targets_fail_clearly_and_plain_ones_go_on(site: Site,
                                                                           tmp_path: Path
                                                                           ) -> None:
    site.data("/data/paused", PAUSED)
    url = site.html("/js", script_page("/data/paused"))
    pages = crawl_in_child([{"target_id": "plain", "url": url},
                            {"target_id": "rendered", "url": url, "render": True}],
                           path=str(tmp_path))  # a PATH with no browser on it
    assert pages["plain"]["status"] == 200 and pages["plain"]["error"] is None
    assert "apt-get install chromium" in pages["rendered"]["error"]


# --- end to end: `check` -----------------------------------------------------------------------


@needs_chromium
def test_check_alerts_rendered_stance_changes_and_never_reads_a_shell(site: Site,
                                                                      tmp_path: Path) -> None:
    site.data("/data/statement", PAUSED)
    url = site.html("/js", script_page("/data/statement"))
    config = write_config(tmp_path / "targets.yaml", [
        {"id": "acme-rendered", "company": "Acme", "url": url + "?r", "render": True},
        {"id": "acme-plain", "company": "Acme", "url": url + "?p"},
    ])

    def check(slack: FakeSlackServer) -> list[tuple[str, str, Any]]:
        env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_CHANNEL": "C0TEST",
               "SLACK_API_URL": slack.api_url}
        before = len(slack.messages)
        result = run_cli("check", "--config", str(config), "--state", str(tmp_path / "state"),
                         cwd=tmp_path, env=env, timeout=180)
        assert result.returncode == 0, result.stderr
        return [(m["metadata"]["event_type"], m["metadata"]["event_payload"]["target"],
                 m["metadata"]["event_payload"]["new_stance"]) for m in slack.messages[before:]]

    with FakeSlackServer() as slack:
        assert check(slack) == []  # baselines; the plain shell is a first failed extraction
        site.data("/data/statement", REFUSING)
        assert sorted(check(slack)) == [("extraction_failed", "acme-plain", None),
                                        ("stance_changed", "acme-rendered", "refusing")]
        site.data("/data/statement", None)  # the data stops coming: a half-loaded page
        assert check(slack) == []
        site.data("/data/statement", REFUSING)
        assert check(slack) == []  # back as it was: nothing to say
    status = run_cli("status", "--config", str(config), "--state", str(tmp_path / "state"),
                     "--json", cwd=tmp_path)
    assert "render: true" in status.stdout  # the plain target's incident says what to do
