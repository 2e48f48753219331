"""The values passed between stages: a fetched page, its extraction, a reading, an alert event.

Plain frozen dataclasses, no behaviour beyond derived properties: every stage takes and returns
these, so stages can be tested with hand-built values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# The event types of CONTRACT.md.
STANCE_CHANGED = "stance_changed"
SECTION_CHANGED = "section_changed"
TARGET_UNREACHABLE = "target_unreachable"
TARGET_GONE = "target_gone"
EXTRACTION_FAILED = "extraction_failed"
CONTENT_EVENTS = (STANCE_CHANGED, SECTION_CHANGED)
OPERATIONAL_EVENTS = (TARGET_UNREACHABLE, TARGET_GONE, EXTRACTION_FAILED)

# The stances of topic hong-kong-requests (CONTRACT.md).
STANCES = ("complying", "paused", "refusing", "no_data", "unknown", "not_mentioned")


@dataclass(frozen=True)
class FetchedPage:
    """One answer (or failure) for one target, as the crawl hands it over."""

    target_id: str
    url: str
    final_url: str
    status: int  # HTTP status; 0 when no response arrived
    body: bytes
    fetched_at: datetime
    duration: float
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None  # why the fetch failed, in words a user understands
    text: str | None = None  # the body decoded by Scrapy (headers, <meta>, BOM); None if binary

    @property
    def not_modified(self) -> bool:
        return self.status == 304 and self.error is None

    @property
    def ok(self) -> bool:
        return self.error is None and 200 <= self.status < 300


@dataclass(frozen=True)
class Extraction:
    """What extraction kept of a page: the watched part's passages and the relevant ones."""

    matched: bool  # False when `select` matched nothing (or the page had no content at all)
    passages: tuple[str, ...]  # every passage of the watched part, normalised, in order
    relevant: tuple[str, ...]  # the passages about the target's topic, in order
    dropped: tuple[str, ...] = ()  # what was removed as noise (for `try`)
    key_text: str = ""  # what is compared: the relevant statements, headings left out

    @property
    def relevant_text(self) -> str:
        return "\n".join(self.relevant)

    @property
    def watched_text(self) -> str:
        return "\n".join(self.passages)


@dataclass(frozen=True)
class Reading:
    """The stance a topic's rules read from the relevant passages, and what it rests on."""

    stance: str | None  # None for topics without a stance vocabulary
    evidence: tuple[str, ...] = ()  # the sentence(s) the stance rests on
    rule: str | None = None  # name of the rule that decided


@dataclass(frozen=True)
class Event:
    """An alert to deliver: one row of the outbox."""

    event_type: str
    target: str
    company: str
    url: str
    detected_at: datetime
    change_id: str | None = None
    old_stance: str | None = None
    new_stance: str | None = None
    old_evidence: tuple[str, ...] = ()
    new_evidence: tuple[str, ...] = ()
    diff: tuple[tuple[str, str], ...] = ()  # word diff: ("=", "-" or "+", text) segments
    rule: str | None = None
    note: str | None = None  # e.g. "back to `paused`, as on 2020-07-06" or a fault's reason
    recovered: bool = False  # operational events: True for the recovery message
    key: str = ""  # unique id of this alert, carried in the metadata to find it in Slack again
    id: int | None = None  # outbox row id, once stored
    thread_ts: str | None = None  # Slack thread of the target's previous alert
    extra: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """Slack message metadata exactly as CONTRACT.md shapes it."""
        return {
            "event_type": self.event_type,
            "event_payload": {
                "target": self.target,
                "company": self.company,
                "url": self.url,
                "old_stance": self.old_stance,
                "new_stance": self.new_stance,
                "change_id": self.change_id,
                "detected_at": format_time(self.detected_at),
                "event_id": self.key,
            },
        }


def format_time(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second: the form used in alerts and exports."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
