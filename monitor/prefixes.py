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

import ahocorasick_rs

# Three letters tell most words apart ("req" is no cue, "res" may be); a cue that starts with a
# two-letter word ("do", "no") is keyed by two.
KEY_LENGTH = 3
SHORT_KEY_LENGTH = 2
# Longer prefixes make the trie stop at fewer places ("in accordance" rather than every "in ").
PREFIX_LIMIT = 12
# A pattern whose alternatives multiply beyond this is described by shorter prefixes.
MAX_PREFIXES = 64
# A character class of up to this many plain characters counts as alternatives ("[- ]").
MAX_CLASS = 4

_WORD = re.compile(r"\w+")
# Lone surrogates, which Rust strings (ahocorasick_rs) cannot hold.
_SURROGATE = re.compile("[\ud800-\udfff]")
# An inline flag group that turns on ignoring case ("(?i:...)"): needles as written would miss.
_SCOPED_IGNORECASE = re.compile(r"\(\?[a-zA-Z]*i")


def cue_prefixes(pattern: str) -> frozenset[str] | None:
    """Literal prefixes one of which starts every match, each at a word start; else None."""
    prefixes = _read(pattern, word_start=True)
    if not prefixes or min(map(len, prefixes)) < SHORT_KEY_LENGTH:
        return None
    if not all(_WORD.match(p) for p in prefixes):
        return None
    return prefixes


def needles(pattern: str, lower: bool = True) -> frozenset[str] | None:
    """Literal text one piece of which every match contains (lower-cased); else None.

    For a pattern matched ignoring case: a text whose lower-cased form contains none of them
    cannot match. (`\\bHong\\s*Kong\\b|香港` gives "hong" and "香港".) With `lower=False`,
    for a pattern matched as written: the pieces are as written.
    """
    prefixes = _read(pattern, word_start=False)
    if not prefixes or min(map(len, prefixes)) < 1:
        return None
    return frozenset(map(fold_case, prefixes)) if lower else prefixes


def fold_case(text: str) -> str:
    """`text` lower-cased the way `re` compares characters when ignoring case; same length.

    str.lower() alone is not it: "İ" lowers to two characters (re compares it as "i"), and re
    also takes "ı" for "i", "ſ" for "s" and a few Greek and Cyrillic letters for others: a
    needle search in plain lower case would miss "POLıCE", which `(?i)police` matches.
    """
    if text.isascii():
        return text.lower()
    return text.translate(_SIMPLE_LOWER).lower().translate(_SAME_LETTER)


def _same_letter() -> dict[int, int]:
    """Each lower-case letter `re` takes for others when ignoring case -> one of its class."""
    try:  # private, hence optional: without it the needles are as before, plain lower case
        from re._casefix import _EXTRA_CASES  # noqa: PLC0415
    except ImportError:
        return {}
    table = {code: min(code, *others) for code, others in _EXTRA_CASES.items()}
    return {code: first for code, first in table.items() if code != first}


_SIMPLE_LOWER = {0x130: "i"}  # "İ": str.lower() gives "i" and a combining dot
_SAME_LETTER = _same_letter()


class Screened:
    """A regex behind a cheap test: a text holding none of its needles is never searched.

    Python's `re` tries an alternation that starts with `\\b` at every position of the text;
    a few `in` tests rule most texts out at a fraction of that. Matches are the regex's own.
    """

    def __init__(self, regex: re.Pattern[str]) -> None:
        self.regex = regex
        ignoring_case = regex.flags & re.IGNORECASE or _SCOPED_IGNORECASE.search(regex.pattern)
        self.needles = None if ignoring_case else needles(regex.pattern, lower=False)

    def search(self, text: str) -> re.Match[str] | None:
        if self.needles is None:
            return self.regex.search(text)
        for needle in self.needles:  # a loop: any() over a generator cost more than the tests
            if needle in text:
                return self.regex.search(text)
        return None


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
    if op is sre.IN and len(value) <= MAX_CLASS and all(kind is sre.LITERAL for kind, _ in value):
        tails = _prefixes(rest, limit - 1, sre)  # a small class is a branch: "law[- ]enf"
        return {chr(code) + tail for _, code in value for tail in tails}
    if op is sre.SUBPATTERN:
        return _prefixes(list(value[-1]) + rest, limit, sre)
    if op is sre.BRANCH:
        return {p for branch in value[1] for p in _prefixes(list(branch) + rest, limit, sre)}
    return {""}  # anything else ends the literal part


def find_needles(automaton: ahocorasick_rs.AhoCorasick, text: str) -> list[tuple[int, int, int]]:
    """Every needle of the automaton in `text`, overlaps included: (needle, start, end), with
    start and end in characters of `text`, as Python counts them.

    A lone surrogate (text decoded with "surrogateescape") counts as U+FFFD, which keeps the
    length: no needle is a surrogate, and ahocorasick_rs refuses such text.
    """
    try:
        return automaton.find_matches_as_indexes(text, overlapping=True)
    except UnicodeEncodeError:
        return automaton.find_matches_as_indexes(_SURROGATE.sub("\ufffd", text),
                                                 overlapping=True)
