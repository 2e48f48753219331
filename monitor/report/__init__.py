"""`stancewatch report`: the whole history as a static, self-contained HTML site.

Why static: a newsroom can open it from a laptop (file://), attach it to a story file or put it
on any static host; there is no server to secure and nothing to keep running. Why no script at
all: every page carries a Content-Security-Policy that forbids scripts, so even a mistake in
escaping a hostile page could not run anything. Stored pages are evidence: their source is
shown as escaped text in a <pre>, never rendered.

The report reads only the Store: no config, no environment, no network (so no secret can reach
it). Pages are written per target, then the index last, so the index links only to pages that
exist; files of an earlier build that no longer belong are removed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from time import perf_counter
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from monitor.records import STANCES
from monitor.report import html, text
from monitor.report.text import (
    INCIDENT_LABEL,
    KIND_LABEL,
    STANCE_LABEL,
    STANCE_MEANING,
    diff_excerpt,
    diff_pieces,
    file_name,
    http_url,
    raw_name,
)
from monitor.report.timeline import Row, build_timeline
from monitor.store import Change, Snapshot, Store, TargetState

__all__ = ["ReportError", "ReportSummary", "build_report"]

MARKER = ".stancewatch-report"  # marks a directory as ours, so a rebuild may tidy it
FORMAT = "stancewatch-report 1"  # bump when raw.html or its styles change: rewrites raw pages
SUBDIRS = ("targets", "changes", "raw")
LATEST = 30  # changes listed on the index
CSS = {"index.html": ("base", "stances", "timeline", "index"),
       "target.html": ("base", "stances", "timeline", "target"),
       "change.html": ("base", "stances", "change"),
       "raw.html": ("base", "raw")}


class ReportError(Exception):
    """The report cannot be written where asked; the message says why and what to do."""


@dataclass(frozen=True)
class ReportSummary:
    """What a build wrote, for the command's closing line and for tests."""

    out_dir: Path
    index: Path
    targets: int
    changes: int
    raw_pages: int
    files: int
    seconds: float


@dataclass
class TargetView:
    """One target as the pages show it."""

    id: str
    company: str
    url: str
    href: str | None  # the live page, only when it is a plain http(s) URL
    topic: str
    file: str  # path from the site root
    stance: str | None
    has_reading: bool
    first_at: str | None = None
    first_stance: str | None = None
    stance_since: str | None = None
    last_change: ChangeView | None = None
    last_check: str | None = None
    last_result: str | None = None
    incident: str | None = None
    incident_since: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    reverts: int = 0


@dataclass
class ChangeView:
    """One change with what its pages need: snapshots, links, labels."""

    change: Change
    target: TargetView
    file: str
    old: Snapshot | None
    new: Snapshot | None
    old_raw: str | None = None  # path from the site root of the stored page, if kept
    new_raw: str | None = None
    newer: str | None = None  # the neighbouring changes of the same target
    older: str | None = None

    @property
    def kind_label(self) -> str:
        return KIND_LABEL.get(self.change.kind, self.change.kind)

    @property
    def revert(self) -> bool:
        return bool(self.change.note and self.change.note.startswith("back to"))

    @property
    def has_edits(self) -> bool:
        return any(op != "=" for op, _ in self.change.diff)


@dataclass(frozen=True)
class Incident:
    """An operational alert of the outbox: a fault that opened, or its recovery."""

    at: str
    kind: str
    label: str
    recovered: bool
    note: str


def build_report(store: Store, out_dir: Path) -> ReportSummary:
    """Write the site into `out_dir` (created if missing) and return what was written."""
    started = perf_counter()
    out_dir = Path(out_dir)
    site = _Site(out_dir, reuse_raw=_claim(out_dir))
    try:
        _build(store, site)
    except OSError as exc:
        raise ReportError(f"{out_dir}: cannot write the report: {exc}") from None
    return ReportSummary(out_dir, out_dir / "index.html", site.targets, site.changes,
                         site.raw_count, len(site.written), perf_counter() - started)


def _build(store: Store, site: _Site) -> None:
    states = store.target_states()
    changes_by_target: dict[str, list[Change]] = {}
    for change in store.changes():  # newest first, as every list of the report
        changes_by_target.setdefault(change.target, []).append(change)
    ids = set(states) | set(changes_by_target)
    views: list[TargetView] = []
    rows: list[Row] = []
    latest: list[ChangeView] = []
    first_at, last_at = None, None
    for target_id in sorted(ids):
        view, target_changes, row = _write_target(
            site, store, states.get(target_id) or TargetState(id=target_id),
            changes_by_target.get(target_id, []))
        views.append(view)
        rows.append(row)
        latest.extend(c for c in target_changes if c.change.kind != "quiet")
        latest.sort(key=lambda c: (c.change.at, c.change.id), reverse=True)
        del latest[LATEST:]
        first_at = _earliest(first_at, view.first_at)
        last_at = _latest(last_at, view.last_check, view.last_change and view.last_change.change.at)
    order = sorted(range(len(views)), key=lambda i: (views[i].company.lower(), views[i].id))
    views = [views[i] for i in order]
    timeline = build_timeline([rows[i] for i in order], first_at, last_at)
    site.page("index.html", "index.html", root="", targets=views, timeline=timeline,
              latest=latest, first_at=first_at, last_at=last_at,
              totals=_totals(views), stances=STANCES)
    site.finish()
    site.targets = len(views)
    site.changes = sum(len(v) for v in changes_by_target.values())


def _write_target(site: _Site, store: Store, state: TargetState,
                  changes: list[Change]) -> tuple[TargetView, list[ChangeView], Row]:
    """Write one target's page, its change pages and their stored pages."""
    snapshots = {s.id: s for s in store.snapshots(state.id)}
    first = min(snapshots.values(), key=lambda s: s.id) if snapshots else None
    view = TargetView(
        id=state.id, company=state.company or state.id, url=state.url, href=http_url(state.url),
        topic=state.topic, file=f"targets/{file_name(state.id)}.html", stance=state.stance,
        has_reading=state.snapshot_id is not None or bool(snapshots),
        first_at=first.at if first else (changes[-1].at if changes else None),
        first_stance=first.stance if first else (changes[-1].old_stance if changes else None),
        last_check=state.last_check, last_result=state.last_result,
        incident=state.incident, incident_since=state.incident_since)
    if view.stance is None and changes:
        view.stance = changes[0].new_stance
    view.stance_since = next((c.at for c in changes if c.kind == "stance"), view.first_at)
    view.counts = {kind: sum(1 for c in changes if c.kind == kind) for kind in KIND_LABEL}
    items = [ChangeView(c, view, f"changes/{file_name(c.id)}.html",
                        snapshots.get(c.old_snapshot) if c.old_snapshot else None,
                        snapshots.get(c.new_snapshot)) for c in changes]
    view.last_change = next((c for c in items if c.change.kind != "quiet"), None)
    view.reverts = sum(1 for c in items if c.revert)
    for number, item in enumerate(items):
        item.newer = items[number - 1].file if number else None
        item.older = items[number + 1].file if number + 1 < len(items) else None
        item.old_raw = site.raw_page(store, item.old, view)
        item.new_raw = site.raw_page(store, item.new, view)
        site.page(item.file, "change.html", root="../", item=item, target=view,
                  pieces=diff_pieces(item.change.diff))
    incidents = _incidents(store.incidents(state.id))
    entries: list[tuple[str, str, Any]] = [(c.change.at, "change", c) for c in items]
    entries += [(i.at, "incident", i) for i in incidents]
    entries.sort(key=lambda entry: entry[0], reverse=True)
    row = Row(view.company, view.id, view.file, view.first_at, view.first_stance,
              [(c.change.at, c.change.new_stance, c.change.kind, c.file, _mark_title(c))
               for c in items])
    own = build_timeline([Row(row.label, row.sublabel, row.href, row.start, row.first_stance,
                              row.events)], view.first_at,
                         _latest(view.last_check, changes[0].at if changes else None))
    site.page(view.file, "target.html", root="../", target=view, entries=entries,
              timeline=own, excerpts={c.change.id: diff_excerpt(c.change.diff) for c in items},
              first=first)
    return view, items, row


def _mark_title(item: ChangeView) -> str:
    change = item.change
    if change.kind == "stance":
        what = f"{text.stance_label(change.old_stance)} → {text.stance_label(change.new_stance)}"
    else:
        what = item.kind_label
    return f"{item.target.company}: {what}, {text.show_time(change.at)}"


def _incidents(rows: Iterable[dict[str, Any]]) -> list[Incident]:
    found = []
    for row in rows:
        try:
            payload = json.loads(row.get("payload") or "{}")
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        kind = str(row.get("event_type") or "")
        found.append(Incident(
            at=str(row.get("created") or payload.get("detected_at") or ""), kind=kind,
            label=INCIDENT_LABEL.get(kind, kind.replace("_", " ")),
            recovered=bool(payload.get("recovered")), note=str(payload.get("note") or "")))
    return found


def _totals(views: list[TargetView]) -> dict[str, int]:
    totals = {kind: sum(v.counts.get(kind, 0) for v in views) for kind in KIND_LABEL}
    totals["companies"] = len({v.company for v in views})
    totals["incidents"] = sum(1 for v in views if v.incident)
    # Pages read for a stance (the Hong Kong topic) set the index's headline.
    totals["hong_kong"] = sum(1 for v in views if v.topic != "government-requests")
    return totals


def _earliest(a: str | None, b: str | None) -> str | None:
    return min((x for x in (a, b) if x), default=None)


def _latest(*values: str | None) -> str | None:
    return max((x for x in values if x), default=None)


def _claim(out_dir: Path) -> bool:
    """Write only into a new or empty directory, or one an earlier report wrote: a rebuild
    removes stale files, and that must never touch a directory of someone else's files.

    True when the earlier build finished in this same format: its stored pages (named by their
    hash, so their text cannot have changed) are then kept rather than written again.
    """
    marker = out_dir / MARKER
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportError(f"{out_dir}: exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not marker.is_file():
        raise ReportError(f"{out_dir}: not empty and not a Stancewatch report; choose a new "
                          "or empty directory")
    try:
        previous = marker.read_text(encoding="utf-8").split("\n", 1)[0] if marker.is_file() \
            else None
        for sub in ("", *SUBDIRS):
            (out_dir / sub).mkdir(parents=True, exist_ok=True)
        _mark(out_dir, "building")  # a build that dies now leaves nothing to reuse
    except OSError as exc:
        raise ReportError(f"{out_dir}: cannot write the report: {exc.strerror}") from None
    return previous == FORMAT


def _mark(out_dir: Path, state: str) -> None:
    (out_dir / MARKER).write_text(f"{state}\nwritten by `stancewatch report`; a rebuild "
                                  "replaces the files of this directory\n", encoding="utf-8")


class _Site:
    """The output directory: one Jinja2 environment, the files written, the stale ones."""

    def __init__(self, out_dir: Path, reuse_raw: bool) -> None:
        self.out_dir = out_dir
        self.written: set[str] = set()
        self.raw_count = 0
        self.targets = self.changes = 0
        self.kept = ({f"raw/{name}" for name in os.listdir(out_dir / "raw")} if reuse_raw
                     else set())
        self.env = Environment(loader=PackageLoader("monitor.report", "templates"),
                               autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                               lstrip_blocks=True, keep_trailing_newline=True)
        self.env.filters.update(time=text.show_time, date=text.show_date, iso=text.iso_time,
                                stance_class=text.stance_class, stance_label=text.stance_label,
                                http_url=http_url, note=text.plain_note)
        self.env.globals.update(
            generated=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            stance_names=STANCE_LABEL, stance_meaning=STANCE_MEANING, chip=html.chip,
            when=html.when, transition=html.transition, link=html.link,
            pieces_html=html.pieces_html)
        folder = Path(__file__).parent / "templates"
        # Our own stylesheets, inlined per page (the site has no external asset); each page
        # carries only the rules it uses, which keeps 10,000 change pages small.
        self.css = {template: Markup("".join(
            _minify((folder / f"{name}.css").read_text(encoding="utf-8")) for name in names))
            for template, names in CSS.items()}
        self._templates: dict[str, Any] = {}

    def page(self, path: str, template: str, **context: Any) -> None:
        if template not in self._templates:
            self._templates[template] = self.env.get_template(template)
        self._write(path, self._templates[template].render(css=self.css[template], **context))

    def raw_page(self, store: Store, snapshot: Snapshot | None, target: TargetView) -> str | None:
        """The stored page behind a snapshot as an escaped <pre>, written once per page hash
        (and kept from the last build when it has it); None when the store lacks the page."""
        if snapshot is None:
            return None
        path = f"raw/{raw_name(snapshot.page_hash)}.html"
        if path in self.written:
            return path
        if path in self.kept:
            self.written.add(path)
            return path
        stored = store.page(snapshot.page_hash)
        if stored is None:
            return None
        body, content_type = stored
        self.page(path, "raw.html", root="../", target=target, snapshot=snapshot,
                  content_type=content_type, size=len(body),
                  body=text.decode_page(body, content_type))
        self.raw_count += 1
        return path

    def _write(self, path: str, content: str) -> None:
        with open(self.out_dir / path, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
        self.written.add(path)

    def finish(self) -> None:
        """Remove what an earlier build wrote and this one did not (a change id that a
        re-read replaced, say), in our own subdirectories only."""
        for sub in SUBDIRS:
            for entry in os.scandir(self.out_dir / sub):
                if entry.is_file() and f"{sub}/{entry.name}" not in self.written:
                    os.unlink(entry.path)
        _mark(self.out_dir, FORMAT)


def _minify(css: str) -> str:
    """Drop comments and line breaks: our stylesheets are written one rule per line."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    return "".join(line.strip() for line in css.splitlines())
