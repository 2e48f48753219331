"""Fetching `render: true` targets with headless Chromium, through scrapy-playwright.

Only a crawl that has such targets gets the browser: `render_settings` installs
scrapy-playwright's download handler, which hands requests marked `playwright` to Chromium and
every other request to Scrapy's own HTTP handler, so plain targets keep the plain fast path
even in a pass that renders others, and a pass with both kinds is one crawl.

Chromium is Debian's `chromium` package, found on the PATH: Playwright's own browser download
is not available where Stancewatch runs. Without it, a rendered target fails to fetch with a
message that says what to install; plain targets are unaffected.

When is a rendered page finished? `load` says the page's own scripts have run, not that the
data they fetch has arrived and been written into the page. So after `load` (and after the
target's `render_wait` selector, when it has one) the page must *settle*: its text unchanged
and no request in flight for a quiet interval. A page that still shows a loading placeholder,
a spinner or no text at all needs a longer quiet interval: its data may still be on the way.
When `render_timeout` runs out first, the page is taken as it is; an empty or half-loaded page
then becomes an `extraction_failed` incident (monitor/shell.py), never a content change.

Rendered targets are never fetched conditionally: the HTML shell's ETag says nothing about the
data its scripts load, so a 304 for the shell would hide a changed statement.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from monitor.config import DEFAULT_RENDER_TIMEOUT
from monitor.shell import ERRORS_MARK, LOADING_CLASS, LOADING_LINE_PATTERN, LOADING_MARK

if TYPE_CHECKING:  # playwright is imported only by crawls that render
    from playwright.async_api import Page
    from playwright.async_api import Request as BrowserRequest
    from playwright.async_api import Response as BrowserResponse

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome-stable", "google-chrome")
NO_BROWSER = ("render: true needs a headless Chromium, and none is installed "
              "(Debian/Ubuntu: apt-get install chromium)")
# Flags for a browser that runs unattended, often as root in a container (hence no sandbox),
# and should talk to nobody but the watched site.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-dev-shm-usage"]
CONTEXT_NAME = "stancewatch"
# Each open page costs tens of MB in Chromium; four at once keeps a pass fast and small.
RENDER_PAGES_AT_ONCE = 4
# Images, video and fonts never carry the statement; not loading them saves most of the bytes.
SKIPPED_RESOURCES = frozenset(("image", "media", "font"))
# Connections that stay open for the page's lifetime: waiting for them would never settle.
BACKGROUND_RESOURCES = frozenset(("eventsource", "websocket", "ping", "manifest"))
# A request in flight for longer than this is a long poll or a stuck tracker, not page data.
LONG_REQUEST_SECONDS = 5.0
# Text unchanged and network idle this long: the page is done.
QUIET_SECONDS = 0.5
# ...unless it still looks like it is loading (placeholder, spinner, no text): then wait longer.
LOADING_QUIET_SECONDS = 3.0
POLL_SECONDS = 0.1

# Elements that may show a page is still loading; VISIBLE_MARKERS_JS keeps those that are
# visible and, like shell.py on a plain page, busy, empty or showing a loading line.
LOADING_MARKERS = ('[aria-busy="true"], [role="progressbar"], [class*="spinner"], '
                   '[class*="skeleton"], [class*="shimmer"], [class*="loader"], '
                   '[class*="loading"]')
VISIBLE_MARKERS_JS = """(markers, classPattern, linePattern) => {
  const loadingClass = new RegExp(classPattern, "i");
  const loadingLine = new RegExp(linePattern, "i");
  return [...document.querySelectorAll(markers)].filter((el) => {
    if (["IMG", "PICTURE", "VIDEO", "IFRAME", "INPUT"].includes(el.tagName)) return false;
    if (!(el.checkVisibility && el.checkVisibility())) return false;
    const busy = el.getAttribute("aria-busy") === "true"
      || el.getAttribute("role") === "progressbar";
    const classed = [...el.classList].some((name) => loadingClass.test(name));
    const text = (el.innerText || "").trim();
    return busy || (classed && (!text || loadingLine.test(text)));
  });
}"""
# One look at the page: how much text, a cheap hash of it, and whether it still looks loading.
SAMPLE_JS = f"""([markers, classPattern, linePattern]) => {{
  const body = document.body;
  const text = body ? body.innerText : "";
  let hash = 0;
  for (let i = 0; i < text.length; i++) hash = (hash * 31 + text.charCodeAt(i)) | 0;
  const visible = ({VISIBLE_MARKERS_JS})(markers, classPattern, linePattern).length > 0;
  const loading = !text.trim() || visible || new RegExp(linePattern, "im").test(text);
  return [text.length, hash, loading];
}}"""
# Before the DOM is taken: mark what is still visibly loading and how many script errors the
# page had, so that shell detection (monitor/shell.py) can read both from the stored page.
MARK_JS = f"""([markers, classPattern, linePattern, loadingMark, errorsMark, errors]) => {{
  ({VISIBLE_MARKERS_JS})(markers, classPattern, linePattern)
    .forEach((el) => el.setAttribute(loadingMark, ""));
  document.documentElement.setAttribute(errorsMark, String(errors));
}}"""
MARKER_ARGS = [LOADING_MARKERS, LOADING_CLASS.pattern, LOADING_LINE_PATTERN]
# Requests whose failure means the page's own text may be missing.
SCRIPT_RESOURCES = frozenset(("script", "fetch", "xhr"))


def find_browser() -> str | None:
    """The Chromium executable on the PATH, or None."""
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def render_settings(browser: str, timeouts: Sequence[float]) -> dict[str, Any]:
    """Scrapy settings that send `playwright` requests to Chromium (and the rest as usual)."""
    handler = "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler"
    return {
        "DOWNLOAD_HANDLERS": {"http": handler, "https": handler},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {"executable_path": browser, "headless": True,
                                      "args": list(LAUNCH_ARGS)},
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": RENDER_PAGES_AT_ONCE,
        # Bounds the wait for `load` after the page methods; navigation has its own timeout.
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": max(timeouts, default=DEFAULT_RENDER_TIMEOUT)
        * 1000,
        "PLAYWRIGHT_ABORT_REQUEST": skip_resource,
    }


def skip_resource(request: BrowserRequest) -> bool:
    """Whether the browser should not load this resource (it cannot hold the statement)."""
    return request.resource_type in SKIPPED_RESOURCES


def render_meta(wait_for: str | None, timeout: float, user_agent: str | None) -> dict[str, Any]:
    """Request meta that has scrapy-playwright render the page and wait until it settles."""
    from scrapy_playwright.page import PageMethod

    session = RenderSession(wait_for, timeout)
    context: dict[str, Any] = {"locale": "en-US", "service_workers": "block"}
    if user_agent:  # the same name in navigator.userAgent as in the request headers
        context["user_agent"] = user_agent
    return {
        "playwright": True,
        "playwright_context": CONTEXT_NAME,
        "playwright_context_kwargs": context,
        "playwright_page_init_callback": session.attach,
        "playwright_page_goto_kwargs": {"wait_until": "load", "timeout": timeout * 1000},
        "playwright_page_methods": [PageMethod(session.settle)],
    }


class RenderSession:
    """One rendered fetch: watches the page's requests from before navigation, then waits for
    the page to settle, all within the target's render timeout."""

    def __init__(self, wait_for: str | None, timeout: float) -> None:
        self.wait_for = wait_for
        self.timeout = timeout
        self.started = time.monotonic()
        self.in_flight: dict[BrowserRequest, float] = {}
        self.last_activity = self.started
        self.settled: bool | None = None  # None until settle() ran; False when it timed out
        self.script_errors = 0  # uncaught exceptions, failed script and data requests
        self.status: int | None = None  # of the page itself (the main frame's last response)

    async def attach(self, page: Page, request: Any) -> None:
        """Before navigation (scrapy-playwright's page init callback): start counting."""
        self.started = self.last_activity = time.monotonic()
        self.in_flight.clear()
        self.script_errors, self.status = 0, None
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._failed)
        page.on("response", lambda response: self._answered(page, response))
        page.on("pageerror", self._script_error)

    def _started(self, request: BrowserRequest) -> None:
        now = time.monotonic()
        self.last_activity = now
        if request.resource_type not in BACKGROUND_RESOURCES | SKIPPED_RESOURCES:
            self.in_flight[request] = now

    def _ended(self, request: BrowserRequest) -> None:
        self.last_activity = time.monotonic()
        self.in_flight.pop(request, None)

    def _failed(self, request: BrowserRequest) -> None:
        self._ended(request)
        if request.resource_type in SCRIPT_RESOURCES:
            self.script_errors += 1

    def _answered(self, page: Page, response: BrowserResponse) -> None:
        if response.frame == page.main_frame and response.request.is_navigation_request():
            self.status = response.status
        elif response.status >= 400 and response.request.resource_type in SCRIPT_RESOURCES:
            self.script_errors += 1

    def _script_error(self, error: Any) -> None:
        self.script_errors += 1

    def _network_busy(self, now: float) -> bool:
        return any(now - began < LONG_REQUEST_SECONDS for began in self.in_flight.values())

    async def settle(self, page: Page) -> bool:
        """Wait until the page is done, then mark it for shell detection; False on timeout."""
        from playwright.async_api import Error as BrowserError

        if self.status is not None and self.status >= 400:  # an error page: nothing to wait for
            self.settled = True
        else:
            self.settled = await self._wait(page)
        # Navigating away at the last moment leaves the page unmarked; it is taken as it is.
        with suppress(BrowserError):
            await page.evaluate(MARK_JS, [*MARKER_ARGS, LOADING_MARK, ERRORS_MARK,
                                          self.script_errors])
        return self.settled

    async def _wait(self, page: Page) -> bool:
        """Wait for `render_wait`, then for text and network to stay quiet; False on timeout."""
        from playwright.async_api import Error as BrowserError

        deadline = self.started + self.timeout
        if self.wait_for:
            try:
                await page.wait_for_selector(self.wait_for, state="attached",
                                             timeout=max(deadline - time.monotonic(), 0.1) * 1000)
            except BrowserError:  # the page is taken as it is; shell.py names what is missing
                return False
        sample: Any = None
        changed_at = time.monotonic()
        while True:
            try:
                current = await page.evaluate(SAMPLE_JS, MARKER_ARGS)
            except BrowserError:  # navigating (a script redirect): not settled yet
                current = None
            now = time.monotonic()
            if current != sample:
                sample, changed_at = current, now
            loading = sample is None or bool(sample[2])
            quiet = now - max(changed_at, self.last_activity)
            if not self._network_busy(now) and quiet >= (
                    LOADING_QUIET_SECONDS if loading else QUIET_SECONDS):
                return True
            if now + POLL_SECONDS >= deadline:
                return False
            await asyncio.sleep(POLL_SECONDS)
