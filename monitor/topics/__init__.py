"""Topics: the vocabulary of each topic lives in a YAML file beside this module.

A new topic is a new file, no code: `relevance` says which passages are about the topic (used by
extract.py), `stances` holds the named stance rules (used by stance.py; a topic without them has
no stance vocabulary and only ever produces `section_changed`).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Any

import yaml

from monitor.prefixes import needles

TOPIC_DIR = Path(__file__).parent
DEFAULT_TOPIC = "hong-kong-requests"


@dataclass(frozen=True)
class Pattern:
    """One pattern of a topic's vocabulary, matched ignoring case, with its needles: lower-cased
    text one piece of which every match contains (None: unknown). A `str in str` test for the
    needles costs a fraction of a regex search, and most passages contain none of them."""

    regex: re.Pattern[str]
    needles: tuple[str, ...] | None  # sorted: the repr is part of extraction's fingerprint

    def found_in(self, text: str, lowered: str) -> bool:
        """Whether the pattern matches `text` (`lowered` is `text.lower()`)."""
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
        return _any(self.exclude, text, text.lower())

    def matches(self, text: str) -> bool:
        return self.flags([text])[0]

    def flags(self, texts: Sequence[str]) -> list[bool]:
        """Whether each text is relevant, found the other way round: each pattern is searched in
        the texts that contain one of its needles, which one pass of `str.find` per needle over
        all the texts finds. (A page has a hundred passages and the vocabulary thirty patterns:
        testing every pattern's needles against every passage was the cost of reading a page.)
        """
        lowers = [text.lower() for text in texts]  # lower() may change a length ("İ")
        lowered = "\n".join(lowers)
        starts = list(accumulate((len(low) + 1 for low in lowers[:-1]), initial=0))

        def hits(group: Group, among: set[int] | None = None) -> set[int]:
            found: set[int] = set()
            for pattern in group:
                places = _places(pattern, lowered, starts, len(texts))
                for index in places if among is None else places & among:
                    if index not in found and pattern.regex.search(texts[index]):
                        found.add(index)
            return found

        excluded = hits(self.exclude)
        relevant = hits(self.phrases)
        subjects = hits(self.subjects)
        relevant |= hits(self.about, subjects - relevant) if subjects else set()
        return [index in relevant and index not in excluded for index in range(len(texts))]


def _any(group: Group, text: str, lowered: str) -> bool:
    return any(pattern.found_in(text, lowered) for pattern in group)


def _places(pattern: Pattern, lowered: str, starts: list[int], count: int) -> set[int]:
    """Indexes of the texts (joined in `lowered`, starting at `starts`) holding a needle."""
    if pattern.needles is None:
        return set(range(count))
    places: set[int] = set()
    for needle in pattern.needles:
        at = lowered.find(needle)
        while at != -1:
            index = bisect_right(starts, at) - 1
            places.add(index)
            # On to the next text: one occurrence is enough to search this one.
            following = starts[index + 1] if index + 1 < count else len(lowered)
            at = lowered.find(needle, following)
    return places


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
