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
from itertools import accumulate
from pathlib import Path
from typing import Any, NamedTuple

import ahocorasick_rs
import yaml

from monitor.prefixes import find_needles, fold_case, needles

TOPIC_DIR = Path(__file__).parent
DEFAULT_TOPIC = "hong-kong-requests"


@dataclass(frozen=True)
class Pattern:
    """One pattern of a topic's vocabulary, matched ignoring case, with its needles: the text
    every match starts with, one of them, case-folded (prefixes.fold_case; None: unknown).
    Finding the needles costs a fraction of a regex search, and most passages contain none."""

    regex: re.Pattern[str]
    needles: tuple[str, ...] | None  # sorted: the repr is part of extraction's fingerprint


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
        return self.judge([text], [len(text)])[0].excluded

    def matches(self, text: str) -> bool:
        return self.flags([text])[0]

    def flags(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text is relevant."""
        return [verdict.relevant for verdict in self.judge(texts, list(map(len, texts)))]

    def judge(self, texts: Sequence[str], own: Sequence[int]) -> list[Verdict]:
        """Whether the rule finds each text relevant, and whether an exclusion matches its
        first `own` characters: a passage is judged with its links' addresses after its text,
        and excluded by its text alone.

        A text is searched only for the patterns one of whose needles it contains, and one
        Aho-Corasick pass over all the texts finds every needle of the vocabulary: most
        passages hold none, and searching each pattern in each passage was the cost of
        reading a page.
        """
        index = _needle_index(self)
        return [index.judge(text, end, places)
                for text, end, places in zip(texts, own, index.places(texts), strict=True)]


class Verdict(NamedTuple):
    relevant: bool
    excluded: bool


EXCLUDE, PHRASE, SUBJECT, ABOUT = range(4)  # the groups, in the order _NeedleIndex numbers them
# Joins the texts of a page for one pass of the automaton (no needle holds it).
SEPARATOR = "\x00"


class _NeedleIndex:
    """A vocabulary's needles in one automaton: where in a text each pattern may match.

    ahocorasick_rs finds every needle in one pass over the text, which the standard library
    cannot do (a regex alternation tries every needle at every position, `str.find` finds one
    needle a pass). A needle is the literal start of its pattern's matches, so the pattern is
    tried only there (`match`, not `search`): a failed search scanned the whole passage. Only
    the patterns whose needles were found are looked at: most passages hold few or none.
    """

    def __init__(self, relevance: Relevance) -> None:
        groups = (relevance.exclude, relevance.phrases, relevance.subjects, relevance.about)
        patterns = [pattern for group in groups for pattern in group]
        self.regexes = [pattern.regex for pattern in patterns]
        self.group = [number for number, group in enumerate(groups) for _ in group]
        # A pattern without needles may match anywhere: it is searched in every text.
        self.anywhere = frozenset(i for i, p in enumerate(patterns) if p.needles is None)
        holders: dict[str, list[int]] = {}
        for number, pattern in enumerate(patterns):
            for needle in pattern.needles or ():
                holders.setdefault(needle, []).append(number)
        # Needle number -> the patterns it starts.
        self.holders = [tuple(numbers) for numbers in holders.values()]
        if any(SEPARATOR in needle for needle in holders):
            raise ValueError("a vocabulary pattern holds a NUL character")
        self.automaton: ahocorasick_rs.AhoCorasick | None = None
        if holders:
            self.automaton = ahocorasick_rs.AhoCorasick(list(holders))

    def places(self, texts: Sequence[str]) -> list[dict[int, list[int]]]:
        """For each text, pattern number -> the places where one of its needles starts.

        One pass over all the texts, joined by a character no needle holds: a call per
        passage cost more than the pass.
        """
        places: list[dict[int, list[int]]] = [{} for _ in texts]
        if self.automaton is None or not texts:
            return places
        # fold_case keeps the length: places in the folded text are places in the text.
        joined = fold_case(SEPARATOR.join(texts))
        starts = list(accumulate((len(text) + 1 for text in texts), initial=0))
        holders = self.holders
        current = 0
        for needle, start, _ in find_needles(self.automaton, joined):
            while start >= starts[current + 1]:
                current += 1
            offset = start - starts[current]
            for number in holders[needle]:
                places[current].setdefault(number, []).append(offset)
        return places

    def judge(self, text: str, own: int, places: dict[int, list[int]]) -> Verdict:
        """The Relevance rule over `text`, and the exclusions over its first `own` characters.

        Patterns are tried in the order of their groups (exclusions, phrases, subjects,
        `about`) and no further than the rule needs.
        """
        if not places and not self.anywhere:
            return Verdict(False, False)
        found = [False] * 4  # by group: EXCLUDE, PHRASE, SUBJECT, ABOUT
        excluded = False
        for number in sorted(places.keys() | self.anywhere) if self.anywhere else sorted(places):
            group = self.group[number]
            at = places.get(number)  # None: a pattern without needles
            if group == EXCLUDE:
                if not excluded:
                    excluded = self._hit(number, text, at, own)
                if not found[EXCLUDE]:
                    found[EXCLUDE] = excluded if own == len(text) else self._hit(
                        number, text, at, len(text))
                continue
            if found[EXCLUDE] or found[PHRASE] or (group == ABOUT and not found[SUBJECT]):
                break  # decided: excluded, a phrase, or no subject for an `about`
            if not found[group]:
                found[group] = self._hit(number, text, at, len(text))
            if found[SUBJECT] and found[ABOUT]:
                break
        relevant = not found[EXCLUDE] and (found[PHRASE] or (found[SUBJECT] and found[ABOUT]))
        return Verdict(relevant, excluded)

    def _hit(self, number: int, text: str, at: list[int] | None, end: int) -> bool:
        """Whether pattern `number` matches `text[:end]` (at one of the places `at`)."""
        regex = self.regexes[number]
        if at is None:
            return regex.search(text, 0, end) is not None
        match = regex.match
        return any(match(text, place, end) for place in at)


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
