"""Small pure helpers of the report: safe links, file names, times, diff pieces, raw pages.

Everything a monitored page controls (its text, its URL, even a target id read back from the
database) passes through here or through Jinja2's autoescape before it reaches a file, so the
rules that keep a hostile page inert live in one place and are unit-tested.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from monitor.records import STANCES

# Segments of change.diff: "=" unchanged, "-" removed, "+" added.
Segment = tuple[str, str]

STANCE_LABEL = {
    "complying": "complying",
    "paused": "paused",
    "refusing": "refusing",
    "no_data": "no data",
    "unknown": "unknown",
    "not_mentioned": "not mentioned",
}
# What each stance means (CONTRACT.md), for tooltips and the legend.
STANCE_MEANING = {
    "complying": "handles requests from Hong Kong authorities in the ordinary way, or resumed",
    "paused": "has paused or suspended handling them, pending review",
    "refusing": "will not handle them, or only through a treaty (MLAT) or the US DoJ",
    "no_data": "says it has no user data to hand over, or never handed any over",
    "unknown": "mentions such requests, but no stance can be read",
    "not_mentioned": "the watched part says nothing about such requests",
}
KIND_LABEL = {"stance": "stance changed", "section": "wording changed",
              "quiet": "outside the relevant text"}
INCIDENT_LABEL = {"target_unreachable": "page unreachable",
                  "target_gone": "page gone (404/410)",
                  "extraction_failed": "watched part not found"}

_UNSAFE_URL = re.compile(r"[\x00-\x20\x7f]")  # controls and spaces: smuggling, not addresses
_SAFE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,80}")
_HEX = re.compile(r"[0-9a-f]{16,128}")
_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)


def stance_class(stance: str | None) -> str:
    """A CSS class for a stance; only known stances become class names, never page text."""
    if stance is None:
        return "none"
    return stance if stance in STANCES else "other"


def stance_label(stance: str | None) -> str:
    if stance is None:
        return "no stance"
    return STANCE_LABEL.get(stance, stance)


def plain_note(note: str | None) -> str:
    """A change note without the Slack markup it is stored with (`code` spans)."""
    return (note or "").replace("`", "")


def http_url(url: str | None) -> str | None:
    """The URL if it may become a link: absolute http(s) with a host, nothing odd in it.

    A watched page's address comes from the config and the stored page from the network;
    `javascript:`, `data:`, scheme-relative and whitespace-smuggled forms are shown as text.
    """
    if not url or _UNSAFE_URL.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return url


def file_name(identifier: str) -> str:
    """A file name for a target or change id: the id itself when it is plainly safe (the usual
    case, so URLs stay readable), otherwise a hash, so no id can climb out of the site."""
    if _SAFE_NAME.fullmatch(identifier):
        return identifier
    cleaned = re.sub(r"[^a-z0-9-]+", "-", identifier.lower()).strip("-")[:40] or "x"
    return f"{cleaned}-{hashlib.sha256(identifier.encode('utf-8')).hexdigest()[:12]}"


def raw_name(page_hash: str) -> str:
    """Stored pages are named by their SHA-256, which is hex; anything else is hashed again."""
    if _HEX.fullmatch(page_hash):
        return page_hash
    return hashlib.sha256(page_hash.encode("utf-8")).hexdigest()


@lru_cache(maxsize=65536)  # each time shows on several pages; parsing was a hot spot
def parse_time(at: str | None) -> datetime | None:
    if not at:
        return None
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


@lru_cache(maxsize=65536)
def show_time(at: str | None, seconds: bool = False) -> str:
    """'29 Nov 2026, 08:30': what a reader scans; the ISO form goes in <time datetime>."""
    moment = parse_time(at)
    if moment is None:
        return at or "-"
    return f"{moment.day} {moment:%b %Y, %H:%M}" + (f":{moment:%S}" if seconds else "")


def show_date(at: str | None) -> str:
    moment = parse_time(at)
    return f"{moment.day} {moment:%b %Y}" if moment else (at or "-")


@lru_cache(maxsize=65536)
def iso_time(at: str | None) -> str:
    moment = parse_time(at)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else ""


class Piece(NamedTuple):  # a tuple, not a dataclass: a long history makes millions of them
    """One run of a rendered diff. op: "=", "-", "+", "fold" (unchanged words behind a
    <details>) or "gap" (words left out of an excerpt). sep goes before the run."""

    op: str
    text: str
    sep: str = " "
    words: int = 0


FOLD_OVER = 120  # unchanged runs longer than this (in words) are folded on change pages
FOLD_KEEP = 40  # words kept visible on each side of a fold


def diff_pieces(diff: tuple[Segment, ...]) -> list[Piece]:
    """The full diff for a change page; long unchanged stretches fold so the edits stand out
    on a phone, while the whole text stays one tap away (no script needed)."""
    pieces: list[Piece] = []
    previous = ""
    for index, (op, text) in enumerate(diff):
        sep = "" if not pieces or text.startswith("\n") or previous.endswith("\n") else " "
        previous = text
        if op != "=":
            pieces.append(Piece(op if op in ("-", "+") else "=", text, sep))
            continue
        if text.count(" ") < FOLD_OVER:  # the common case, without splitting
            pieces.append(Piece("=", text, sep))
            continue
        words = text.split(" ")
        head_keep = 0 if index == 0 else FOLD_KEEP
        tail_keep = 0 if index == len(diff) - 1 else FOLD_KEEP
        if len(words) <= FOLD_OVER or len(words) <= head_keep + tail_keep + 20:
            pieces.append(Piece("=", text, sep))
            continue
        middle = words[head_keep:len(words) - tail_keep]
        if head_keep:
            pieces.append(Piece("=", " ".join(words[:head_keep]), sep))
            sep = " "
        pieces.append(Piece("fold", " ".join(middle), sep, len(middle)))
        if tail_keep:
            pieces.append(Piece("=", " ".join(words[-tail_keep:]), ""))
    return pieces


def diff_excerpt(diff: tuple[Segment, ...], context: int = 8, max_edits: int = 3,
                 max_words: int = 40) -> list[Piece]:
    """A one-paragraph taste of a change for the target page: the first few edits with a few
    words of context each. Empty when nothing in the relevant text changed."""
    groups: list[tuple[int, int]] = []  # [start, end) of each run of edits
    index = 0
    while index < len(diff):
        if diff[index][0] == "=":
            index += 1
            continue
        end = index
        while end < len(diff) and diff[end][0] != "=":
            end += 1
        groups.append((index, end))
        index = end
    if not groups:
        return []
    pieces: list[Piece] = []
    shown = groups[:max_edits]
    for number, (start, end) in enumerate(shown):
        if number == 0 and start > 0:
            before = diff[start - 1][1].split()
            if len(before) > context:
                pieces.append(Piece("gap", "…"))
            pieces.append(Piece("=", " ".join(before[-context:])))
        for op, text in diff[start:end]:
            words = text.split()
            clipped = " ".join(words[:max_words]) + (" …" if len(words) > max_words else "")
            pieces.append(Piece(op if op in ("-", "+") else "=", clipped))
        after = diff[end][1].split() if end < len(diff) else []
        if number < len(shown) - 1:
            if len(after) <= 2 * context:
                pieces.append(Piece("=", " ".join(after)))
            else:
                pieces += [Piece("=", " ".join(after[:context])), Piece("gap", "…"),
                           Piece("=", " ".join(after[-context:]))]
            continue
        if after:
            pieces.append(Piece("=", " ".join(after[:context])))
        if len(after) > context or len(groups) > len(shown):
            pieces.append(Piece("gap", "…"))
    pieces = [p for p in pieces if p.text]
    return [Piece(p.op, p.text, "" if i == 0 else " ") for i, p in enumerate(pieces)]


def decode_page(body: bytes, content_type: str) -> str | None:
    """The stored page as text for an escaped <pre>, or None for binary content (a PDF, say).

    Tries the declared charset, then UTF-8, then a <meta charset> near the top; pages in Big5
    or GB18030 are common on Hong Kong sites and must read as text, not mojibake.
    """
    declared = _CHARSET.search(content_type.encode("latin-1", "replace"))
    sniffed = _CHARSET.search(body[:1024])  # where HTML requires <meta charset> to be
    candidates = [m.group(1).decode("ascii") for m in (declared, sniffed) if m]
    for encoding in (candidates[0] if candidates else None, "utf-8", *candidates[1:]):
        if not encoding:
            continue
        try:
            text = body.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
        return None if "\x00" in text[:8192] else text
    if b"\x00" in body[:8192]:
        return None
    return body.decode("utf-8", errors="replace")
