"""What the commands log: secrets never, Scrapy's noise only with -v."""

from __future__ import annotations

import logging

import pytest

from monitor.logs import setup_logging

SECRET = "xoxb-123-secret-token"


@pytest.fixture(autouse=True)
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_secret_in_a_message_or_a_traceback_is_blanked(
        capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(verbose=False, quiet=False, secrets=(SECRET,))
    log = logging.getLogger("stancewatch")
    log.warning("posting with %s", SECRET)
    try:
        raise RuntimeError(f"rejected token {SECRET}")
    except RuntimeError:
        log.exception("Slack said no")
    err = capsys.readouterr().err
    assert SECRET not in err
    assert "posting with [redacted]" in err and "RuntimeError: rejected token [redacted]" in err


def test_crawl_records_keep_one_line_without_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(verbose=False, quiet=True)
    try:
        raise ValueError("deep inside Scrapy")
    except ValueError:
        logging.getLogger("scrapy.core.engine").exception("Error while obtaining start requests")
    logging.getLogger("scrapy.downloadermiddlewares.retry").error("Gave up retrying <GET x>")
    logging.getLogger("scrapy-playwright").warning("Closing page\nCall log:\n  - navigating")
    err = capsys.readouterr().err
    assert "Error while obtaining start requests (-v shows more)" in err
    assert "Closing page (-v shows more)" in err
    assert "Traceback" not in err and "Gave up retrying" not in err and "Call log" not in err
    setup_logging(verbose=True, quiet=False)
    logging.getLogger("scrapy.downloadermiddlewares.retry").error("Gave up retrying <GET x>")
    assert "Gave up retrying" in capsys.readouterr().err
