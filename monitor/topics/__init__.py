"""Topics: the vocabulary of each topic lives in a YAML file beside this module.

A new topic is a new file, no code: `relevance` says which passages are about the topic (used by
extract.py), `stances` holds the named stance rules (used by stance.py; a topic without them has
no stance vocabulary and only ever produces `section_changed`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

TOPIC_DIR = Path(__file__).parent
DEFAULT_TOPIC = "hong-kong-requests"


@dataclass(frozen=True)
class Relevance:
    """A passage is relevant when a `phrase` matches, or a `subject` and an `about` both do;
    never when an `exclude` pattern matches (requests the topic is explicitly not about)."""

    phrases: tuple[re.Pattern[str], ...]
    subjects: tuple[re.Pattern[str], ...]
    about: tuple[re.Pattern[str], ...]
    exclude: tuple[re.Pattern[str], ...] = ()

    def excluded(self, text: str) -> bool:
        return any(p.search(text) for p in self.exclude)

    def matches(self, text: str) -> bool:
        if self.excluded(text):
            return False
        if any(p.search(text) for p in self.phrases):
            return True
        subject = any(p.search(text) for p in self.subjects)
        return subject and any(p.search(text) for p in self.about)


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


def _patterns(items: list[str] | None) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(item, re.IGNORECASE) for item in items or ())


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
