"""PageSpider: one request per target, yielding what came back. No content logic here.

Conditional requests carry the validators of the last good fetch; every answer (304 and errors
included) and every failure becomes one FetchedPage item, so the tracker records all of them.
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

from monitor.records import FetchedPage


@dataclass(frozen=True)
class PageRequest:
    """What the spider needs to fetch one target."""

    target_id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None


class PageSpider(scrapy.Spider):
    name = "page"
    custom_settings = {"HTTPERROR_ALLOW_ALL": True}

    def __init__(self, pages: Iterable[PageRequest] = (), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pages = list(pages)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for page in self.pages:
            yield scrapy.Request(
                page.url,
                headers=_validators(page),
                callback=self.parse,
                errback=self.failed,
                dont_filter=True,
                cb_kwargs={"page": page},
                meta={"page": page, "started": time.monotonic()},
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
            etag=_header(response, "ETag"),
            last_modified=_header(response, "Last-Modified"),
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
    text = f"{failure.type.__name__}: {failure.getErrorMessage()}"
    lowered = text.lower()
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
    if "lost" in lowered or "reset" in lowered or "closed" in lowered:
        return f"connection dropped ({text})"
    if "dns" in lowered or "lookup" in lowered:
        return f"host not found ({text})"
    return text
