"""Geometry of the stance timeline: one row per target, stance bands and change markers.

Computed here as numbers and CSS class names, drawn by the template as inline SVG (no script,
no library), so the picture works from file:// and every string in it is autoescaped.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from monitor.report.text import parse_time, show_time, stance_class, stance_label

WIDTH = 1000  # SVG user units; the SVG scales to its container
LABEL_WIDTH = 230  # room for "Company" and the target id on the left
PLOT_LEFT, PLOT_RIGHT = LABEL_WIDTH + 10, WIDTH - 20
ROW_HEIGHT = 40
AXIS_HEIGHT = 30
TOP = 8
DENSE_SPACING = 14  # below this many units per mark on average, rings would overlap


@dataclass(frozen=True)
class Mark:
    """A change on the timeline: a filled dot for a stance change, a ring for wording."""

    x: float
    css: str  # stance class of the new stance
    stance_change: bool
    href: str
    title: str


@dataclass(frozen=True)
class Band:
    x: float
    width: float
    css: str
    title: str


@dataclass
class Row:
    """Input and output for one target's row; `events` are (at, new_stance, kind, href,
    title) tuples, `start` the first reading and `first_stance` the stance it read."""

    label: str
    sublabel: str
    href: str
    start: str | None
    first_stance: str | None
    events: list[tuple[str, str | None, str, str, str]]
    y: float = 0
    dense: bool = False  # too many marks for rings: wording changes become thin ticks
    bands: list[Band] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    rows: list[Row]
    ticks: list[tuple[float, str]]
    plot_left: int
    plot_right: int
    axis_y: float
    start_label: str
    end_label: str


# Candidate tick steps in seconds, smallest first; months and years are calendar steps.
STEPS = [1, 5, 10, 30, 60, 300, 900, 3600, 6 * 3600, 86400, 7 * 86400]
MONTH, YEAR = -1, -2


def build_timeline(rows: list[Row], start: str | None, end: str | None) -> Timeline | None:
    """Place every row's bands and marks between `start` and `end`; None without data."""
    begin, finish = parse_time(start), parse_time(end)
    if begin is None or finish is None:
        return None
    if finish <= begin:
        finish = begin + timedelta(seconds=60)
    span = (finish - begin).total_seconds()

    def x_of(at: str | None) -> float:
        moment = parse_time(at) or begin
        offset = min(max((moment - begin).total_seconds(), 0.0), span)
        return round(PLOT_LEFT + (PLOT_RIGHT - PLOT_LEFT) * offset / span, 1)

    for number, row in enumerate(rows):
        row.y = TOP + number * ROW_HEIGHT + ROW_HEIGHT / 2
        row.bands, row.marks = [], []
        if row.start is None:
            continue
        stance, since = row.first_stance, row.start
        ordered = sorted(row.events, key=lambda event: event[0])
        for at, new_stance, kind, _href, _title in ordered:
            if kind == "stance":
                row.bands.append(_band(x_of(since), x_of(at), stance, since, at))
                stance, since = new_stance, at
        row.bands.append(_band(x_of(since), PLOT_RIGHT, stance, since, None))
        shown = [event for event in ordered if event[2] != "quiet"]
        row.dense = len(shown) > (PLOT_RIGHT - PLOT_LEFT) / DENSE_SPACING
        cell = 3 if row.dense else 1  # one mark per cell (user units) is all the eye can see
        taken: dict[tuple[int, bool], int] = {}
        for at, new_stance, kind, href, title in shown:
            mark = Mark(x_of(at), stance_class(new_stance), kind == "stance", href, title)
            slot = (round(mark.x / cell), mark.stance_change)
            if slot in taken:
                row.marks[taken[slot]] = mark
            else:
                taken[slot] = len(row.marks)
                row.marks.append(mark)
        row.marks.sort(key=lambda mark: mark.stance_change)  # stance dots drawn on top
    axis_y = TOP + len(rows) * ROW_HEIGHT + 4
    return Timeline(WIDTH, int(axis_y + AXIS_HEIGHT), rows, _ticks(begin, finish, x_of),
                    PLOT_LEFT, PLOT_RIGHT, axis_y, show_time(start), show_time(end))


def _band(x1: float, x2: float, stance: str | None, since: str, until: str | None) -> Band:
    period = f"from {show_time(since)}" + (f" to {show_time(until)}" if until else "")
    return Band(x1, max(x2 - x1, 1.5), stance_class(stance), f"{stance_label(stance)} {period}")


def _ticks(begin: datetime, finish: datetime, x_of) -> list[tuple[float, str]]:
    """About six labelled ticks at round times, whatever the span: seconds for a test run,
    years for a history that began in 2020."""
    span = (finish - begin).total_seconds()
    step = next((s for s in STEPS if span / s <= 8), MONTH)
    if step == MONTH and span / (30 * 86400) > 8:
        step = YEAR
    moments: list[datetime] = []
    if step == YEAR:
        year = begin.year + 1
        stride = max(1, round(span / (365 * 86400) / 6))
        while (moment := datetime(year, 1, 1, tzinfo=UTC)) <= finish:
            moments.append(moment)
            year += stride
    elif step == MONTH:
        months = max(1, round(span / (30 * 86400) / 6))
        year, month = begin.year, begin.month
        while True:
            month += months
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
            moment = datetime(year, month, 1, tzinfo=UTC)
            if moment > finish:
                break
            moments.append(moment)
    else:
        first = (int(begin.timestamp()) // step + 1) * step
        moments = [datetime.fromtimestamp(t, UTC)
                   for t in range(first, int(finish.timestamp()) + 1, step)]
    return [(x_of(m.strftime("%Y-%m-%dT%H:%M:%SZ")), _tick_label(m, step)) for m in moments]


def _tick_label(moment: datetime, step: int) -> str:
    if step == YEAR:
        return str(moment.year)
    if step == MONTH:
        return f"{calendar.month_abbr[moment.month]} {moment.year}"
    if step >= 86400:
        return f"{moment.day} {moment:%b}"
    if step >= 60:
        return f"{moment:%H:%M}"
    return f"{moment:%H:%M:%S}"
