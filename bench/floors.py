"""The two floors a check pass is measured against, each run in its own process.

    python bench/floors.py scrapy --urls URLS.txt     # a Scrapy spider that does nothing
    python bench/floors.py fetch --urls URLS.txt      # a bare asyncio HTTP/1.1 fetch

`scrapy` is Scrapy's own floor: a spider that requests every URL and throws the answers away,
with Scrapy's defaults except those that only cap throughput (concurrency, delay, robots.txt,
cookies, telnet). A product built on Scrapy cannot go below it, so a pass is quoted as a
multiple of it. `fetch` is what the bytes cost without any framework: keep-alive connections,
one request line, read the body. Each prints one JSON line (pages, failures, seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from urllib.parse import urlsplit

# Scrapy buys nothing above this on loopback (CPU-bound in Scrapy itself); 64 is the testbed's.
SCRAPY_CONCURRENCY = 64
PER_HOST = 16  # the benchmark config's per_host_concurrency
FETCH_CONCURRENCY = 32


def scrapy_floor(urls: list[str]) -> dict[str, object]:
    import scrapy
    from scrapy.crawler import CrawlerProcess

    tally = {"ok": 0, "failed": 0}

    class NothingSpider(scrapy.Spider):
        name = "nothing"

        async def start(self):  # type: ignore[override]
            for url in urls:
                yield scrapy.Request(url, callback=self.parse, errback=self.failed,
                                     dont_filter=True)

        def parse(self, response: scrapy.http.Response) -> None:
            tally["ok" if response.status == 200 else "failed"] += 1

        def failed(self, failure: object) -> None:
            tally["failed"] += 1

    process = CrawlerProcess({
        "CONCURRENT_REQUESTS": SCRAPY_CONCURRENCY, "CONCURRENT_REQUESTS_PER_DOMAIN": PER_HOST,
        "DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "ROBOTSTXT_OBEY": False,
        "COOKIES_ENABLED": False, "TELNETCONSOLE_ENABLED": False, "LOG_LEVEL": "WARNING",
    })
    started = time.monotonic()
    process.crawl(NothingSpider)
    process.start()
    return {"pages": len(urls), **tally, "seconds": round(time.monotonic() - started, 3)}


async def _fetch_all(urls: list[str]) -> dict[str, object]:
    by_host: dict[tuple[str, int], list[str]] = defaultdict(list)
    for url in urls:
        parts = urlsplit(url)
        by_host[(parts.hostname or "", parts.port or 80)].append(parts.path or "/")
    queue: asyncio.Queue[tuple[tuple[str, int], str]] = asyncio.Queue()
    for host, paths in by_host.items():
        for path in paths:
            queue.put_nowait((host, path))
    tally = {"ok": 0, "failed": 0}
    pools: dict[tuple[str, int], list] = defaultdict(list)

    async def worker() -> None:
        while not queue.empty():
            host, path = queue.get_nowait()
            ok = await _get(pools[host], host, path)
            tally["ok" if ok else "failed"] += 1

    started = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(FETCH_CONCURRENCY)))
    for pool in pools.values():
        for _, writer in pool:
            writer.close()
    return {"pages": len(urls), **tally, "seconds": round(time.monotonic() - started, 3)}


async def _get(pool: list, host: tuple[str, int], path: str) -> bool:
    """One GET on a pooled keep-alive connection; True for a 200 with its whole body."""
    reader, writer = pool.pop() if pool else await asyncio.open_connection(*host)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host[0]}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    pool.append((reader, writer))
    return head.startswith(b"HTTP/1.1 200")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("floor", choices=("scrapy", "fetch"))
    parser.add_argument("--urls", required=True, help="a file with one URL per line")
    args = parser.parse_args()
    with open(args.urls, encoding="utf-8") as handle:
        urls = [line.strip() for line in handle if line.strip()]
    result = scrapy_floor(urls) if args.floor == "scrapy" else asyncio.run(_fetch_all(urls))
    print(json.dumps(result))
    return 0 if result["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
