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
        return self._matches(self, text, text.lower())

    def flags(self, texts: Sequence[str]) -> list[bool]:
        """`matches` of each text; patterns that cannot match anywhere in them are left out."""
        lowered = [text.lower() for text in texts]
        whole = "\n".join(lowered)
        present = Relevance(*(_present(group, whole) for group in (
            self.phrases, self.subjects, self.about, self.exclude)))
        return [self._matches(present, text, low) for text, low in zip(texts, lowered, strict=True)]

    @staticmethod
    def _matches(vocabulary: Relevance, text: str, lowered: str) -> bool:
        if _any(vocabulary.exclude, text, lowered):
            return False
        if _any(vocabulary.phrases, text, lowered):
            return True
        return _any(vocabulary.subjects, text, lowered) and _any(vocabulary.about, text, lowered)


def _any(group: Group, text: str, lowered: str) -> bool:
    return any(pattern.found_in(text, lowered) for pattern in group)


def _present(group: Group, lowered: str) -> Group:
    """The patterns of `group` that may match somewhere in `lowered`."""
    return tuple(p for p in group if p.needles is None or any(n in lowered for n in p.needles))


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
