"""Scrapy glue: settings from the config, the pipeline that hands pages over, and the runner.

Decision (docs/decisions/0001-one-reactor-per-process.md): every command that fetches runs
Scrapy's asyncio reactor once per process and drives crawls with AsyncCrawlerRunner from
coroutines; `check` runs one crawl and stops the reactor, `run` keeps it running and lets
APScheduler's AsyncIOScheduler start a crawl per due batch on the same loop.
"""
