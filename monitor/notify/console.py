"""Print alerts to a stream: the sink when no Slack settings are given (and in `demo`).

Page text is untrusted here too: control characters are dropped so a page cannot send terminal
escape sequences to whoever reads the output.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import IO

from monitor.notify.blocks import OPERATIONAL_WORDING, compact_diff, plain
from monitor.records import SECTION_CHANGED, STANCE_CHANGED, Event, format_time

# A terminal alert should fit a screen; the whole diff is one `stancewatch show` away.
DIFF_MAX = 2000
# Evidence sentences printed per side before "... and N more".
EVIDENCE_MAX = 5
SENTENCE_MAX = 400

_TITLES = {STANCE_CHANGED: "stance changed", SECTION_CHANGED: "wording changed"}


class ConsoleSink:
    """Writes a readable multi-line alert per event; there is no ts and nothing to look up."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __repr__(self) -> str:
        return "ConsoleSink()"

    def deliver(self, event: Event) -> str | None:
        """Print the alert and flush, so it is seen even if the process dies next."""
        self.stream.write(format_alert(event) + "\n\n")
        self.stream.flush()
        return None

    def find_delivered(self, event: Event) -> str | None:
        """Printed output cannot be searched: report nothing found."""
        return None


def format_alert(event: Event) -> str:
    """The alert as plain text lines."""
    lines = [f"== Stancewatch: {_one_line(event.company)} ({event.target}): {_title(event)} =="]
    if event.event_type == STANCE_CHANGED:
        lines.append(f"stance:   {event.old_stance or 'none'} -> {event.new_stance or 'none'}")
    elif event.event_type == SECTION_CHANGED and event.new_stance:
        lines.append(f"stance:   {event.new_stance} (unchanged)")
    if event.rule:
        lines.append(f"rule:     {event.rule}")
    if event.note:
        lines.append(f"note:     {_one_line(event.note)}")
    if event.event_type == STANCE_CHANGED:
        lines += _evidence("before:", event.old_evidence)
        lines += _evidence("after:", event.new_evidence)
    diff = format_diff(event.diff)
    if diff:
        lines.append(f"diff:     {diff}")
    lines.append(f"page:     {_one_line(event.url)}")
    lines.append(f"detected: {format_time(event.detected_at)}")
    if event.change_id:
        lines.append(f"change:   {event.change_id} (details: stancewatch show {event.change_id})")
    return "\n".join(lines)


def _title(event: Event) -> str:
    if event.event_type in OPERATIONAL_WORDING:
        problem, recovery = OPERATIONAL_WORDING[event.event_type]
        return recovery if event.recovered else problem
    return _TITLES.get(event.event_type, event.event_type)


def _one_line(text: str, limit: int = SENTENCE_MAX) -> str:
    text = plain(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _evidence(label: str, sentences: Sequence[str]) -> list[str]:
    lines = [label]
    for sentence in sentences[:EVIDENCE_MAX]:
        lines.append(f'  "{_one_line(sentence)}"')
    if len(sentences) > EVIDENCE_MAX:
        lines.append(f"  … and {len(sentences) - EVIDENCE_MAX} more")
    if not sentences:
        lines.append("  (no evidence sentence)")
    return lines


def format_diff(diff: Sequence[tuple[str, str]], limit: int = DIFF_MAX) -> str:
    """The compact diff as [-deleted-] {+inserted+}, cut at ``limit`` characters."""
    pieces = [
        {"-": f"[-{text}-]", "+": f"{{+{text}+}}"}.get(op, text) for op, text in compact_diff(diff)
    ]
    out = " ".join(pieces)
    if len(out) > limit:
        out = out[:limit].rsplit(" ", 1)[0] + " … (diff cut)"
    return out
