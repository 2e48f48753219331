"""Topics: the vocabulary of each topic lives in a YAML file beside this module.

A new topic is a new file, no code: `relevance` says which passages are about the topic (used by
extract.py), `stances` holds the named stance rules (used by stance.py; a topic without them has
no stance vocabulary and only ever produces `section_changed`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

import ahocorasick_rs
import yaml

from monitor.prefixes import find_needles, fold_case, needles

TOPIC_DIR = Path(__file__).parent
DEFAULT_TOPIC = "hong-kong-requests"


@dataclass(frozen=True)
class Pattern:
    """One pattern of a topic's vocabulary, matched ignoring case, with its needles: the text
    every match starts with, one of them, case-folded (prefixes.fold_case; None: unknown). A
    `str in str` test for the needles costs a fraction of a regex search, and most passages
    contain none of them."""

    regex: re.Pattern[str]
    needles: tuple[str, ...] | None  # sorted: the repr is part of extraction's fingerprint

    def found_in(self, text: str, lowered: str) -> bool:
        """Whether the pattern matches `text` (`lowered` is `fold_case(text)`)."""
        if self.needles is not None and not any(n in lowered for n in self.needles):
            return False
        return self.regex.search(text) is not None


Group = tuple[Pattern, ...]


@dataclass(frozen=True)
class Relevance:
    """A passage is relevant when a `phrase` matches, or a `subject` and an `about` both do;
    never when an `exclude` pattern matches (requests the topic is explicitly not about)."""

    phrases: Group
    subjects: Group
    about: Group
    exclude: Group = ()

    def excluded(self, text: str) -> bool:
        return _any(self.exclude, text, fold_case(text))

    def matches(self, text: str) -> bool:
        return self.flags([text])[0]

    def flags(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text is relevant. A text is searched only for the patterns one of whose
        needles it contains, and one Aho-Corasick pass over it finds every needle of the
        vocabulary: most passages hold none, and searching each pattern in each passage was
        the cost of reading a page."""
        index = _needle_index(self)
        return [index.relevant(text) for text in texts]


def _any(group: Group, text: str, lowered: str) -> bool:
    return any(pattern.found_in(text, lowered) for pattern in group)


class _NeedleIndex:
    """A vocabulary's needles in one automaton: where in a text each pattern may match.

    ahocorasick_rs finds every needle in one pass over the text, which the standard library
    cannot do (a regex alternation tries every needle at every position, `str.find` finds one
    needle a pass). A needle is the literal start of its pattern's matches, so the pattern is
    tried only there (`match`, not `search`): a failed search scanned the whole passage.
    """

    def __init__(self, relevance: Relevance) -> None:
        groups = (relevance.exclude, relevance.phrases, relevance.subjects, relevance.about)
        patterns = [pattern for group in groups for pattern in group]
        self.regexes = [pattern.regex for pattern in patterns]
        bounds = list(accumulate(map(len, groups), initial=0))
        self.exclude, self.phrases, self.subjects, self.about = (
            tuple(range(start, end)) for start, end in pairwise(bounds))
        # A pattern without needles may match anywhere: it is searched in every text.
        self.anywhere = frozenset(i for i, p in enumerate(patterns) if p.needles is None)
        holders: dict[str, list[int]] = {}
        for number, pattern in enumerate(patterns):
            for needle in pattern.needles or ():
                holders.setdefault(needle, []).append(number)
        # Needle number -> the patterns it starts.
        self.holders = [tuple(numbers) for numbers in holders.values()]
        self.automaton: ahocorasick_rs.AhoCorasick | None = None
        if holders:
            self.automaton = ahocorasick_rs.AhoCorasick(list(holders))

    def starts(self, text: str) -> dict[int, list[int]]:
        """Pattern number -> the places in `text` where one of its needles starts."""
        places: dict[int, list[int]] = {}
        if self.automaton is not None:
            holders = self.holders
            # fold_case keeps the length: places in the folded text are places in `text`.
            for needle, start, _ in find_needles(self.automaton, fold_case(text)):
                for number in holders[needle]:
                    places.setdefault(number, []).append(start)
        return places

    def relevant(self, text: str) -> bool:
        """The Relevance rule, trying each pattern only where it may match."""
        places = self.starts(text)
        if not places and not self.anywhere:
            return False

        def hit(group: tuple[int, ...]) -> bool:
            for number in group:
                if number in self.anywhere:
                    if self.regexes[number].search(text):
                        return True
                elif number in places:
                    match = self.regexes[number].match
                    if any(match(text, at) for at in places[number]):
                        return True
            return False

        if hit(self.exclude):
            return False
        return hit(self.phrases) or (hit(self.subjects) and hit(self.about))


@cache
def _needle_index(relevance: Relevance) -> _NeedleIndex:
    return _NeedleIndex(relevance)


@dataclass(frozen=True)
class Topic:
    name: str
    title: str
    relevance: Relevance
    stances: dict[str, Any] = field(default_factory=dict)  # raw; stance.py compiles it

    @property
    def has_stances(self) -> bool:
        return bool(self.stances)


def available_topics() -> list[str]:
    return sorted(p.stem for p in TOPIC_DIR.glob("*.yaml"))


def _patterns(items: list[str] | None) -> Group:
    compiled = []
    for item in items or ():
        found = tuple(sorted(needles(item) or ())) or None
        compiled.append(Pattern(re.compile(item, re.IGNORECASE), found))
    return tuple(compiled)


@cache
def load_topic(name: str) -> Topic:
    """Read and compile a topic file once per process."""
    path = TOPIC_DIR / f"{name}.yaml"
    if not path.is_file():
        raise KeyError(f"unknown topic {name!r}; known: {', '.join(available_topics())}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    rel = data.get("relevance") or {}
    return Topic(
        name=name,
        title=data.get("title", name),
        relevance=Relevance(
            phrases=_patterns(rel.get("phrases")),
            subjects=_patterns(rel.get("subjects")),
            about=_patterns(rel.get("about")),
            exclude=_patterns(rel.get("exclude")),
        ),
        stances=data.get("stances") or {},
    )
