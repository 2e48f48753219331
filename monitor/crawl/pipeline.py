"""The one item pipeline: hand each fetched page to the tracker as soon as it arrives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scrapy.crawler import Crawler

from monitor.records import FetchedPage

HANDLER_SETTING = "STANCEWATCH_HANDLER"


class HandOverPipeline:
    def __init__(self, handler: Callable[[FetchedPage], None]) -> None:
        self.handler = handler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HandOverPipeline:
        return cls(crawler.settings[HANDLER_SETTING])

    def process_item(self, item: Any) -> Any:
        if isinstance(item, FetchedPage):
            self.handler(item)
        return item
