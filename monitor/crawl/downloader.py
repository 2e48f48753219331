"""Scrapy's downloader, with its per-host concurrency limit kept in bursts.

Scrapy 2.19 (measured here; the move to coroutines began earlier) on the asyncio reactor
starts a slot's downloads as tasks, and a download counts as "transferring" (what the
per-host limit is checked against) only when its task first runs. So when many requests
reach a slot at once (a pass starting, or the queue refilling after a download ends),
`Downloader._process_queue` sees the slot free for every one of them and starts them all:
a host got up to CONCURRENT_REQUESTS (128) requests at once instead of its
`per_host_concurrency` of 16 (measured in Scrapy's own agent with the testbed's bench_cycle;
see scrapy/scrapy#6799 on the functions that only run when scheduled). With a download
delay the slot starts one request per delay, which hides it on real deployments.

The fix is one line: a download counts as transferring from the moment it is scheduled.
`Downloader._download` adds it again (a set) and removes it when it ends, as before.
"""

from __future__ import annotations

from typing import Any

from scrapy.core.downloader import Downloader


class PoliteDownloader(Downloader):
    def _wait_for_download(self, slot: Any, request: Any, queue_dfd: Any) -> Any:
        slot.transferring.add(request)  # counted now, before the task that downloads it runs
        return super()._wait_for_download(slot, request, queue_dfd)
