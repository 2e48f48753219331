"""Run crawls in this process on Scrapy's asyncio reactor.

The reactor cannot be restarted, so a process installs it once (`run_reactor`) and every crawl
is a coroutine on its loop (`crawl`). Nothing here may import twisted.internet.reactor before
`run_reactor` has installed the asyncio one: that makes every crawl fail silently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

from monitor.config import Politeness
from monitor.crawl.pipeline import HANDLER_SETTING
from monitor.crawl.settings import crawl_settings
from monitor.records import FetchedPage

T = TypeVar("T")
ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def run_reactor(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Install the asyncio reactor, run `main()` on its loop, stop, and return main's result."""
    from scrapy.utils.reactor import install_reactor

    install_reactor(ASYNCIO_REACTOR)
    from twisted.internet import defer, reactor

    outcome: dict[str, Any] = {}

    def finished(result: Any) -> None:
        outcome["result"] = result
        reactor.stop()  # type: ignore[attr-defined]

    def start() -> None:
        deferred = defer.Deferred.fromFuture(asyncio.ensure_future(main()))
        deferred.addBoth(finished)

    reactor.callWhenRunning(start)  # type: ignore[attr-defined]
    reactor.run(installSignalHandlers=False)  # type: ignore[attr-defined]
    result = outcome.get("result")
    from twisted.python.failure import Failure

    if isinstance(result, Failure):
        result.raiseException()
    return result  # type: ignore[return-value]


async def crawl(requests: Sequence[Any], politeness: Politeness, contact: str | None,
                handler: Callable[[FetchedPage], Awaitable[None] | None],
                verbose: bool = False) -> None:
    """Fetch every request once; `handler` gets each FetchedPage as it arrives.

    Requests marked `render` share the crawl with plain ones; the browser is set up only
    when there are some (monitor/crawl/render.py).
    """
    if not requests:
        return
    from scrapy.crawler import AsyncCrawlerRunner

    from monitor.crawl.render import NO_BROWSER, find_browser, render_settings
    from spiders.page import PageSpider

    settings = crawl_settings(politeness, contact, verbose)
    settings[HANDLER_SETTING] = handler
    rendered = [r for r in requests if getattr(r, "render", False)]
    browser = find_browser() if rendered else None
    if browser:
        settings.update(render_settings(browser, [r.render_timeout for r in rendered]))
    runner = AsyncCrawlerRunner(settings)
    await runner.crawl(PageSpider, pages=list(requests),
                       no_browser=NO_BROWSER if rendered and not browser else None)


def fetch_once(requests: Sequence[Any], politeness: Politeness | None = None,
               contact: str | None = None) -> dict[str, FetchedPage]:
    """One crawl of `requests` in this process (which must not have run the reactor yet).

    For one-off commands such as `try`: returns the fetched pages by target id.
    """
    pages: dict[str, FetchedPage] = {}

    def keep(page: FetchedPage) -> None:
        pages[page.target_id] = page

    run_reactor(lambda: crawl(requests, politeness or Politeness(delay=0), contact, keep))
    return pages
