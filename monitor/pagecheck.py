"""Is a fetched answer a page we can read? Pure: a FetchedPage in, a problem (or None) out.

Faults are operational, never content: a 500, a block page, a PDF or a screen of garbage bytes
must not be read as the company's new wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.prefixes import needles
from monitor.records import FetchedPage

GONE = "gone"
UNREACHABLE = "unreachable"

HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "application/xml", "text/xml")
# Interstitials of bot-protection services: a block, not the company's page. Searched in the
# lower-cased start of the page: a pattern without IGNORECASE lets `re` skip ahead by first letter.
CHALLENGE = re.compile(
    r"checking (if the site connection is secure|your browser)|just a moment\.\.\.|"
    r"attention required!? \| cloudflare|cf-browser-verification|cf-challenge|"
    r"challenges\.cloudflare\.com|enable javascript and cookies to continue|"
    r"ddos protection by|verify you are (a )?human|are you a robot|captcha-delivery",
)
# A readable page has few replacement or control characters; garbage bytes have many.
MAX_GARBLED_SHARE = 0.02
# Replacement characters and the control characters text never holds (not tab, LF, FF, CR).
GARBLED_CHARS = re.compile("[\x00-\x08\x0b\x0e-\x1f\ufffd]")
CHALLENGE_SCAN_CHARS = 20_000
# Text every challenge match starts with: a few substring tests spare most pages the search.
CHALLENGE_NEEDLES = tuple(sorted(needles(CHALLENGE.pattern) or ("",)))


@dataclass(frozen=True)
class Problem:
    kind: str  # GONE or UNREACHABLE
    reason: str


def problem(page: FetchedPage) -> Problem | None:
    """Why this answer cannot be read as the page, or None when it can (304 included)."""
    found = answer_problem(page)
    if found is not None or page.status == 304 or page.text is None:
        return found
    return text_problem(page.text)


def answer_problem(page: FetchedPage) -> Problem | None:
    """`problem` without reading the text: what the error, status and headers alone tell."""
    if page.error:
        return Problem(UNREACHABLE, page.error)
    if page.status == 304:
        return None
    if page.status in (404, 410):
        return Problem(GONE, f"HTTP {page.status}: the page is gone")
    if page.status in (401, 403, 429, 451):
        return Problem(UNREACHABLE, f"HTTP {page.status}: the site refused us (blocked?)")
    if not 200 <= page.status < 300:
        return Problem(UNREACHABLE, f"HTTP {page.status}")
    media = page.content_type.split(";")[0].strip().lower()
    if page.text is None or (media and media not in HTML_TYPES):
        return Problem(UNREACHABLE, f"not an HTML page ({media or 'unknown type'})")
    return None


def text_problem(text: str) -> Problem | None:
    """Why the text of an HTML answer is not the page (garbage, a bot challenge), or None.

    Apart from `answer_problem` because it costs a scan of the text: the tracker has it done
    with the reading, in a reader process when there is one.
    """
    if _garbled(text):
        return Problem(UNREACHABLE, "the answer is not readable text (garbled bytes)")
    start = text[:CHALLENGE_SCAN_CHARS].lower()
    if any(n in start for n in CHALLENGE_NEEDLES) and CHALLENGE.search(start):
        return Problem(UNREACHABLE, "a bot-challenge page answered instead of the page")
    return None


def _garbled(text: str) -> bool:
    if not text.strip():
        return True
    sample = text[:50_000]
    bad = len(GARBLED_CHARS.findall(sample))
    return bad / len(sample) > MAX_GARBLED_SHARE or "<" not in sample
