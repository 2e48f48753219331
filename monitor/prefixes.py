"""Literal prefixes of regular expressions, so that cheap string tests can skip a regex.

Python's `re` cannot skip ahead in a pattern that starts with `\\b` or is matched ignoring case:
it tries every position of the text, which made the topic vocabulary most of the cost of
reading a page. Most of our patterns start with literal words ("\\bpaus(e|ed)\\b", "\\blaw[- ]
enforcement\\b"), and a match can only begin with one of them. This module reads those words
from the pattern's parse tree (no library does: the standard library's own prefix analysis is
private and gives up at `\\b` and at alternations), and builds a trie regex that finds them all in
one pass. Callers use them only to skip patterns that cannot match: a pattern whose prefixes
cannot be read is always tried, so prefixes save time and never change what matches.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

# Three letters tell most words apart ("req" is no cue, "res" may be); a cue that starts with a
# two-letter word ("do", "no") is keyed by two.
KEY_LENGTH = 3
SHORT_KEY_LENGTH = 2
# Longer prefixes make the trie stop at fewer places ("in accordance" rather than every "in ").
PREFIX_LIMIT = 12
# A pattern whose alternatives multiply beyond this is described by shorter prefixes.
MAX_PREFIXES = 64

_WORD = re.compile(r"\w+")


def cue_prefixes(pattern: str) -> frozenset[str] | None:
    """Literal prefixes one of which starts every match, each at a word start; else None."""
    prefixes = _read(pattern, word_start=True)
    if not prefixes or min(map(len, prefixes)) < SHORT_KEY_LENGTH:
        return None
    if not all(_WORD.match(p) for p in prefixes):
        return None
    return prefixes


def needles(pattern: str) -> frozenset[str] | None:
    """Lower-cased literal text one piece of which every match contains; else None.

    For a pattern matched ignoring case: a text whose lower-cased form contains none of them
    cannot match. (`\\bHong\\s*Kong\\b|香港` gives "hong" and "香港".)
    """
    prefixes = _read(pattern, word_start=False)
    if not prefixes or min(map(len, prefixes)) < 1:
        return None
    return frozenset(p.lower() for p in prefixes)


def trie(words: Sequence[str]) -> str:
    """A regex matching any of `words`, as a trie ("pa(?:use|ss)"): one test per branch.

    It lets the regex engine find the few places worth a look in one pass over the text,
    instead of a Python loop over every word.
    """
    branches: dict[str, list[str]] = {}
    for word in words:
        if word:
            branches.setdefault(word[0], []).append(word[1:])
    parts = []
    for first, rests in sorted(branches.items()):
        tails = [rest for rest in rests if rest]
        if not tails:
            parts.append(re.escape(first))
        else:
            optional = "?" if len(tails) < len(rests) else ""
            parts.append(f"{re.escape(first)}(?:{trie(tails)}){optional}")
    return "|".join(parts)


def _read(pattern: str, word_start: bool) -> frozenset[str] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from re import _constants as sre  # noqa: PLC0415 - private, hence optional
            from re import _parser as sre_parser  # noqa: PLC0415

            tree = list(sre_parser.parse(pattern))
            for limit in (PREFIX_LIMIT, KEY_LENGTH):
                prefixes = _starts(tree, limit, sre, word_start)
                if prefixes is None or len(prefixes) <= MAX_PREFIXES:
                    break
    except Exception:  # noqa: BLE001 - without prefixes the pattern is tried whole: same result
        return None
    if not prefixes or len(prefixes) > MAX_PREFIXES:
        return None
    return frozenset(prefixes)


def _starts(items: list[Any], limit: int, sre: Any, word_start: bool) -> set[str] | None:
    """Prefixes of a sequence (which must begin with \\b when `word_start`), or None."""
    if not items:
        return None
    op, value = items[0]
    rest = items[1:]
    if op is sre.AT and value is sre.AT_BOUNDARY:
        return _prefixes(rest, limit, sre)
    if op is sre.LITERAL and not word_start:
        return _prefixes(items, limit, sre)
    if op is sre.SUBPATTERN:
        return _starts(list(value[-1]) + rest, limit, sre, word_start)
    if op is sre.BRANCH:
        found: set[str] = set()
        for branch in value[1]:
            starts = _starts(list(branch) + rest, limit, sre, word_start)
            if starts is None:
                return None
            found |= starts
        return found
    return None


def _prefixes(items: list[Any], limit: int, sre: Any) -> set[str]:
    """The literal text (up to `limit` characters) a match of the sequence may start with."""
    if limit == 0 or not items:
        return {""}
    op, value = items[0]
    rest = items[1:]
    if op is sre.LITERAL:
        return {chr(value) + tail for tail in _prefixes(rest, limit - 1, sre)}
    if op is sre.SUBPATTERN:
        return _prefixes(list(value[-1]) + rest, limit, sre)
    if op is sre.BRANCH:
        return {p for branch in value[1] for p in _prefixes(list(branch) + rest, limit, sre)}
    return {""}  # anything else ends the literal part
