"""The one item pipeline: hand each fetched page to the tracker as soon as it arrives.

The handler may be a coroutine (a page read in a reader process): Scrapy goes on fetching
while it waits.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from scrapy.crawler import Crawler

from monitor.records import FetchedPage

HANDLER_SETTING = "STANCEWATCH_HANDLER"


class HandOverPipeline:
    def __init__(self, handler: Callable[[FetchedPage], Awaitable[None] | None]) -> None:
        self.handler = handler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HandOverPipeline:
        return cls(crawler.settings[HANDLER_SETTING])

    async def process_item(self, item: Any) -> Any:
        if isinstance(item, FetchedPage):
            handled = self.handler(item)
            if handled is not None:
                await handled
        return item
