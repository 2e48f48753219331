"""PageSpider: one request per target, yielding what came back. No content logic here.

Conditional requests carry the validators of the last good fetch; every answer (304 and errors
included) and every failure becomes one FetchedPage item, so the tracker records all of them.
Pages marked `render` go through headless Chromium (monitor/crawl/render.py) and are never
fetched conditionally: the shell's validators say nothing about the text its scripts load.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from monitor.config import DEFAULT_RENDER_TIMEOUT
from monitor.records import FetchedPage


@dataclass(frozen=True)
class PageRequest:
    """What the spider needs to fetch one target."""

    target_id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    render: bool = False  # fetch with headless Chromium and wait for the text to settle
    render_wait: str | None = None  # CSS selector the rendered page must show
    render_timeout: float = DEFAULT_RENDER_TIMEOUT


class PageSpider(scrapy.Spider):
    name = "page"
    custom_settings = {"HTTPERROR_ALLOW_ALL": True}

    def __init__(self, pages: Iterable[PageRequest] = (), no_browser: str | None = None,
                 **kwargs: Any) -> None:
        """`no_browser`: why rendered pages cannot be fetched in this crawl, if they cannot."""
        super().__init__(**kwargs)
        self.pages = list(pages)
        self.no_browser = no_browser

    async def start(self) -> AsyncIterator[scrapy.Request | FetchedPage]:
        for page in self.pages:
            if page.render and self.no_browser:
                yield _unfetched(page, self.no_browser)
                continue
            meta: dict[str, Any] = {"page": page, "started": time.monotonic()}
            if page.render:
                from monitor.crawl.render import render_meta

                meta.update(render_meta(page.render_wait, page.render_timeout,
                                        self.settings.get("USER_AGENT")))
            yield scrapy.Request(
                page.url,
                headers={} if page.render else _validators(page),
                callback=self.parse,
                errback=self.failed,
                dont_filter=True,
                cb_kwargs={"page": page},
                meta=meta,
            )

    def parse(self, response: Response, page: PageRequest) -> Iterable[FetchedPage]:
        yield FetchedPage(
            target_id=page.target_id,
            url=page.url,
            final_url=response.url,
            status=response.status,
            body=response.body,
            fetched_at=datetime.now(UTC),
            duration=time.monotonic() - response.meta["started"],
            content_type=response.headers.get("Content-Type", b"").decode("latin-1"),
            # A rendered page is the DOM the scripts built: the shell's validators don't fit it.
            etag=None if page.render else _header(response, "ETag"),
            last_modified=None if page.render else _header(response, "Last-Modified"),
            text=response.text if isinstance(response, TextResponse) else None,
        )

    def failed(self, failure: Failure) -> Iterable[FetchedPage]:
        request = failure.request  # type: ignore[attr-defined]
        page: PageRequest = request.meta["page"]
        yield FetchedPage(
            target_id=page.target_id,
            url=page.url,
            final_url=request.url,
            status=0,
            body=b"",
            fetched_at=datetime.now(UTC),
            duration=time.monotonic() - request.meta["started"],
            error=describe_failure(failure),
        )


def _unfetched(page: PageRequest, reason: str) -> FetchedPage:
    return FetchedPage(target_id=page.target_id, url=page.url, final_url=page.url, status=0,
                       body=b"", fetched_at=datetime.now(UTC), duration=0.0, error=reason)


def _validators(page: PageRequest) -> dict[str, str]:
    headers = {}
    if page.etag:
        headers["If-None-Match"] = page.etag
    if page.last_modified:
        headers["If-Modified-Since"] = page.last_modified
    return headers


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def describe_failure(failure: Failure) -> str:
    """A failed download in words a newsroom developer understands."""
    message = failure.getErrorMessage().strip()
    if "Call log:" in message or "Browser logs:" in message:
        message = _browser_message(message)
    text = f"{failure.type.__name__}: {message}"
    lowered = text.lower()
    if "browsertype.launch" in lowered or "executable doesn't exist" in lowered:
        return f"the headless browser could not start ({text})"
    if "browser has been closed" in lowered or "target crashed" in lowered:
        return f"the headless browser crashed or closed ({text})"
    if "robots.txt" in lowered or "forbidden by robots" in lowered:
        return "blocked by the site's robots.txt"
    if "maxsize" in lowered or "larger than" in lowered or "cancelled" in lowered:
        return f"page too large or download cancelled ({text})"
    if "timeout" in lowered or "timed out" in lowered:
        return f"timed out ({text})"
    if "max redirect" in lowered or "redirect" in lowered:
        return f"too many redirects ({text})"
    if "refused" in lowered:
        return f"connection refused ({text})"
    if ("lost" in lowered or "reset" in lowered or "closed" in lowered
            or "empty_response" in lowered):
        return f"connection dropped ({text})"
    if "dns" in lowered or "lookup" in lowered or "name_not_resolved" in lowered:
        return f"host not found ({text})"
    return text


def _browser_message(message: str) -> str:
    """Playwright's first line, and the browser's last complaint when it failed to start.

    Its errors append a call log or the browser's whole launch log (the command line alone is
    a few thousand characters): too much for a status line or an alert.
    """
    lines = message.splitlines()
    complaints = [line.split("[err]", 1)[1].strip() for line in lines if "[err]" in line]
    first = lines[0].strip() if lines else ""
    return f"{first}: {complaints[-1]}" if complaints else first
