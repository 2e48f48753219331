"""Logging for the commands: one handler on stderr, secrets blanked out, Scrapy kept quiet.

Without -v, what Scrapy logs about a failed download (a retry given up, robots.txt unreachable)
repeats what the pass reports for the target itself, with a forty-line traceback that cron
mails to the deployer at every pass: those records are left out, and any other record of
Scrapy's, its plugins', Twisted's or APScheduler's keeps its first line. -v shows them all.
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger("stancewatch")

# Scrapy's loggers whose records repeat what a pass reports per target.
REPORTED_BY_THE_PASS = ("scrapy.downloadermiddlewares.retry",
                        "scrapy.downloadermiddlewares.robotstxt")
CRAWL_LOGGERS = ("scrapy", "twisted", "apscheduler")


def setup_logging(verbose: bool, quiet: bool, secrets: tuple[str, ...] = ()) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s",
                                           "%Y-%m-%dT%H:%M:%S"))
    if not verbose:
        handler.addFilter(CrawlNoise())
    if secrets:
        handler.addFilter(SecretFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    log.setLevel(level)


class CrawlNoise(logging.Filter):
    """Leave out Scrapy's repeats of a failed download; keep other crawl records to one line
    (scrapy-playwright adds the browser's call log to its message, Scrapy a traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(REPORTED_BY_THE_PASS):
            return False
        if not record.name.startswith(CRAWL_LOGGERS):
            return True
        message = record.getMessage()
        first = message.split("\n", 1)[0]
        if first != message or record.exc_info or record.exc_text:
            record.exc_info = None
            record.exc_text = None
            record.msg = f"{first} (-v shows more)"
            record.args = None
        return True


class SecretFilter(logging.Filter):
    """Last line of defence: a secret that reaches a log record, its traceback included, is
    blanked out."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self._redact(record.getMessage()), None
        if record.exc_info:  # formatted here, so that the formatter prints the redacted text
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self._redact(record.exc_text)
        return True

    def _redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text
