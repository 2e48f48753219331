"""The shipped watchlist: it loads with the real config loader and covers what issue 8 promised.

A newsroom installs Stancewatch and runs `check` on this file first, so a typo here would break
the first ten minutes; and a watchlist that quietly shrank would stop watching a company.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from conftest import REPO

from monitor.config import Config, load_config
from monitor.topics import available_topics

WATCHLIST = REPO / "targets.yaml"
MIN_TARGETS = 20
MIN_COMPANIES = 12
# The companies of the July 2020 story and their peers (issue 8), as the watchlist names them.
REQUIRED_COMPANIES = {"Meta", "Google", "X", "Telegram", "Signal", "Microsoft", "Apple", "Zoom",
                      "TikTok", "Amazon", "Cloudflare", "Dropbox"}


@pytest.fixture(scope="module")
def watchlist() -> Config:
    return load_config(WATCHLIST)


def test_the_shipped_watchlist_is_large_enough(watchlist: Config) -> None:
    companies = {t.company for t in watchlist.targets}
    assert len(watchlist.targets) >= MIN_TARGETS
    assert len(companies) >= MIN_COMPANIES
    assert companies >= REQUIRED_COMPANIES, REQUIRED_COMPANIES - companies


def test_every_page_is_https_and_watched_once(watchlist: Config) -> None:
    urls = [t.url for t in watchlist.targets]
    assert [u for u in urls if urlsplit(u).scheme != "https"] == []
    assert len(set(urls)) == len(urls)


def test_both_topics_are_used(watchlist: Config) -> None:
    topics = {t.topic for t in watchlist.targets}
    assert topics == set(available_topics()) == {"hong-kong-requests", "government-requests"}


def test_every_entry_says_what_it_is_and_why_it_is_watched() -> None:
    """A comment directly above each `- id:` line: the list is read by people who must judge
    an alert about the page without opening it."""
    lines = WATCHLIST.read_text(encoding="utf-8").splitlines()
    entries = [i for i, line in enumerate(lines) if re.match(r"^\s*- id:", line)]
    assert entries
    uncommented = [lines[i].strip() for i in entries if not lines[i - 1].strip().startswith("#")]
    assert uncommented == []
