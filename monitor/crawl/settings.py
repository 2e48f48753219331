"""Scrapy settings for Stancewatch crawls: polite by default, in one place."""

from __future__ import annotations

from typing import Any

from monitor.config import Politeness

VERSION = "0.1"
REPO_URL = "https://github.com/stancewatch/stancewatch"
# Real pages are a few hundred KB at most; anything past this is a fault, not a policy page.
MAX_PAGE_BYTES = 10 * 1024 * 1024
# Long enough for a slow transparency report, short enough that a hung site can't stall a pass.
DOWNLOAD_TIMEOUT = 30


def user_agent(contact: str | None) -> str:
    """Name ourselves and say how site owners can reach us."""
    return f"Stancewatch/{VERSION} (+{contact or REPO_URL})"


def crawl_settings(politeness: Politeness, contact: str | None, verbose: bool) -> dict[str, Any]:
    concurrency = politeness.per_host_concurrency
    return {
        "BOT_NAME": "stancewatch",
        "USER_AGENT": user_agent(contact),
        "ROBOTSTXT_OBEY": True,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_ENABLED": verbose,
        "LOG_LEVEL": "DEBUG" if verbose else "ERROR",
        "DOWNLOAD_TIMEOUT": DOWNLOAD_TIMEOUT,
        "DOWNLOAD_MAXSIZE": MAX_PAGE_BYTES,
        "DOWNLOAD_WARNSIZE": 0,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": 2,
        "RETRY_HTTP_CODES": [500, 502, 503, 504, 522, 524, 408],
        "REDIRECT_MAX_TIMES": 10,
        # Per-host limits: Scrapy keys its download slots on the URL's host.
        "CONCURRENT_REQUESTS": max(16, concurrency * 8),
        "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        "DOWNLOAD_DELAY": politeness.delay,
        "DOWNLOAD_DELAY_JITTER": 0,
        # The spider yields one item per response; Scrapy starts this many tasks per response.
        "CONCURRENT_ITEMS": 1,
        "AUTOTHROTTLE_ENABLED": False,
        "HTTPCACHE_ENABLED": False,  # conditional GET is ours (see spiders/page.py)
        "ITEM_PIPELINES": {"monitor.crawl.pipeline.HandOverPipeline": 100},
        # Keeps the per-host limit when many requests reach a host at once (see the module).
        "DOWNLOADER": "monitor.crawl.downloader.PoliteDownloader",
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
        "LOGSTATS_INTERVAL": 0,
    }
