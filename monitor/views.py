"""What the read-only commands print: history, one change, status, the target list.

Tables go through rich on a terminal; json and csv are for scripts and have stable columns
(README, "History exports").
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from monitor.diff import render_plain
from monitor.schedules import shortest_interval
from monitor.store import Change, Store

if TYPE_CHECKING:
    from rich.text import Text

    from monitor.config import Config
    from monitor.configcache import StatusTarget

HISTORY_COLUMNS = ("change_id", "detected_at", "target", "company", "kind", "old_stance",
                   "new_stance", "note", "url")
KIND_LABEL = {"stance": "stance changed", "section": "wording changed",
              "quiet": "outside the relevant text"}


def _console(width: int | None = None):  # rich is imported only when a table is printed
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False, width=width)


def history_rows(store: Store, target: str | None, since: str | None,
                 include_quiet: bool) -> list[dict[str, Any]]:
    states = store.target_states()
    rows = []
    for change in store.changes(target, since, include_quiet):
        state = states.get(change.target)
        rows.append({
            "change_id": change.id, "detected_at": change.at[:19] + "Z",
            "target": change.target, "company": state.company if state else "",
            "kind": change.kind, "old_stance": change.old_stance,
            "new_stance": change.new_stance, "note": change.note or "",
            "url": state.url if state else "",
        })
    return rows


def print_history(rows: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    if not rows:
        print("No changes recorded yet.")
        return
    from rich.text import Text

    cells = []
    for row in rows:
        stance = (Text.assemble(f"{row['old_stance']} → ", (str(row["new_stance"]), "bold"))
                  if row["kind"] == "stance" else Text(row["new_stance"] or ""))
        cells.append((Text(row["change_id"]), Text(row["detected_at"][:16].replace("T", " ")),
                      Text(row["company"]), Text(row["target"]),
                      Text(KIND_LABEL.get(row["kind"], row["kind"])), stance))
    print_table("Changes, newest first",
                ("id", "detected (UTC)", "company", "target", "what", "stance"), cells)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Text]],
                max_width: int = 48) -> None:
    """A table of Text cells (page-supplied words are never read as markup), in the look of
    rich's default Table: heavy head, the title left-justified above.

    Column widths are given, not measured: the widest cell, at most `max_width`; wider cells
    wrap onto more lines. A file or a pipe has no width: there the table is as wide as it
    needs. On a narrower terminal every column gives up width evenly, as rich's Table does.

    Drawn by hand into one Text printed once: rich's Table lays out every cell through its
    renderable machinery (padding, measuring, segment shaping), 0.3 s for 1,000 rows of 7
    cells, more than the rest of `status` put together. Wrapping and measuring are rich's own.
    """
    from rich.box import HEAVY_HEAD
    from rich.cells import cell_len
    from rich.text import Span, Text

    widths = []
    for index, column in enumerate(columns):
        widest = max((cell_len(row[index].plain) for row in rows), default=0)
        widths.append(min(max(widest, cell_len(column)), max_width))
    console = _console()
    if not console.is_terminal:
        console = _console(width=max(console.width, sum(widths) + 3 * len(widths) + 1))
    widths = _fit_widths(widths, console.width - len(widths) - 1)
    box = HEAVY_HEAD.substitute(console.options, safe=console.safe_box)

    parts: list[str] = []
    spans: list[Span] = []
    offset = 0

    def put(text: str, style: str = "") -> None:
        nonlocal offset
        parts.append(text)
        if style:
            spans.append(Span(offset, offset + len(text), style))
        offset += len(text)

    def put_line(line: Text, width: int) -> None:
        """One line of a cell: its text, padded to `width` in the cell's own style."""
        nonlocal offset
        text = line.plain
        pad = width - cell_len(text)
        if pad > 0:
            text += " " * pad
        parts.append(text)
        if line.style:
            spans.append(Span(offset, offset + len(text), line.style))
        spans.extend(Span(offset + s.start, offset + s.end, s.style) for s in line.spans)
        offset += len(text)

    def cell_lines(cell: Text, width: int) -> list[Text]:
        plain = cell.plain
        if (cell.justify is None and "\n" not in plain and "\t" not in plain
                and cell_len(plain) <= width):
            return [cell]  # what wrap would give, without its copies
        return list(cell.wrap(console, width, justify=cell.justify or "left",
                              overflow=cell.overflow or "ellipsis"))

    def put_row(cells: Sequence[Text], edges: tuple[str, str, str], header: bool) -> None:
        left, divider, right = edges
        wrapped = [cell_lines(cell, width) for cell, width in zip(cells, widths, strict=True)]
        height = max(len(lines) for lines in wrapped)
        style = "table.header" if header else ""
        for number in range(height):
            put(left)
            for index, (lines, width) in enumerate(zip(wrapped, widths, strict=True)):
                if index:
                    put(divider)
                # a header's cells sit at the bottom of their row, a body's at the top
                at = number - (height - len(lines)) if header else number
                start, mark = offset, len(spans)
                put(" ")
                if 0 <= at < len(lines):
                    put_line(lines[at], width)
                else:
                    put(" " * width)
                put(" ")
                if style:  # under the cell's own styles, as rich applies a header style
                    spans.insert(mark, Span(start, offset, style))
            put(right + "\n")

    title_text = Text(title, style="table.title")
    table_width = sum(widths) + 3 * len(widths) + 1
    for line in title_text.wrap(console, table_width, justify="left", overflow="fold"):
        put_line(line, table_width)
        put("\n")
    padded = [width + 2 for width in widths]
    put(box.get_top(padded) + "\n")
    put_row([Text(column) for column in columns],
            (box.head_left, box.head_vertical, box.head_right), header=True)
    put(box.get_row(padded, "head", edge=True) + "\n")
    for number, row in enumerate(rows):
        last = number == len(rows) - 1
        put_row(row, (box.foot_left, box.foot_vertical, box.foot_right) if last else
                (box.mid_left, box.mid_vertical, box.mid_right), header=False)
    put(box.get_bottom(padded))
    console.print(Text("".join(parts), spans=spans), soft_wrap=True)


def _fit_widths(widths: list[int], room: int) -> list[int]:
    """Content widths that fit `room` cells of padded columns (the borders left out).

    As rich's Table does with fixed-width columns: each column at most the room, then columns
    still too wide together each give up an equal share of the excess. Unlike rich, none goes
    below one cell (rich drops such a column and crops the table's right edge); the others
    give more instead."""
    fitted = [max(1, min(width, room - 2)) for width in widths]
    excess = sum(fitted) + 2 * len(fitted) - room
    while excess > 0:
        shrinkable = [index for index, width in enumerate(fitted) if width > 1]
        if not shrinkable:
            break
        for remaining, index in zip(range(len(shrinkable), 0, -1), shrinkable, strict=True):
            give = min(fitted[index] - 1, round(excess / remaining))
            fitted[index] -= give
            excess -= give
    return fitted


def print_change(store: Store, change: Change) -> None:
    state = store.target_state(change.target)
    old = store.snapshot(change.old_snapshot)
    new = store.snapshot(change.new_snapshot)
    lines = [
        f"change {change.id}: {KIND_LABEL.get(change.kind, change.kind)}",
        f"when:    {change.at[:19]}Z",
        f"target:  {change.target} ({state.company})",
        f"page:    {state.url}",
    ]
    if change.old_stance or change.new_stance:
        lines.append(f"stance:  {change.old_stance} -> {change.new_stance}")
    if change.note:
        lines.append(f"note:    {change.note}")
    if new and new.rule:
        lines.append(f"rule:    {new.rule}")
    for label, snap in (("before", old), ("after", new)):
        if snap and snap.evidence:
            lines.append(f"{label}:")
            lines.extend(f'  "{sentence}"' for sentence in snap.evidence)
    lines.append("diff:")
    lines.append("  " + render_plain(change.diff, context=40).replace("\n", "\n  "))
    for event in store.events_for_change(change.id):
        lines.append(f"alert:   {event['event_type']} {event['status']}"
                     + (f" (Slack ts {event['ts']})" if event["ts"] else ""))
    print("\n".join(lines))


def status_document(targets: Sequence[StatusTarget], store: Store) -> dict[str, Any]:
    """Each target of the config (validated, or as cached for `status`) with its state."""
    states = store.target_states()
    pending = store.pending_counts()
    rows = []
    for target in targets:
        state = states.get(target.id)
        rows.append({
            "id": target.id, "company": target.company, "url": target.url,
            "schedule": target.schedule, "topic": target.topic,
            "last_check": state.last_check if state else None,
            "last_result": state.last_result if state else None,
            "last_error": state.last_error if state else None,
            "stance": state.stance if state else None,
            "incident": state.incident if state else None,
            "incident_since": state.incident_since if state else None,
            "pending_alerts": pending.get(target.id, 0),
        })
    return {"generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "last_pass": store.last_check_time(), "targets": rows,
            "pending_alerts": sum(pending.values())}


def print_status(document: dict[str, Any]) -> None:
    print_table("Stancewatch status", STATUS_COLUMNS,
                [_status_row(t) for t in document["targets"]])


STATUS_COLUMNS = ("target", "company", "last check (UTC)", "result", "stance", "incident",
                  "pending")


def _status_row(t: dict[str, Any]) -> tuple[Text, ...]:
    """One target's cells, as Text: page-supplied words are never read as markup."""
    from rich.text import Text

    result = Text(t["last_result"] or "never checked")
    if t["last_result"] == "failed":
        result = Text.assemble(("failed", "red"), f": {t['last_error'] or ''}")
    return (Text(t["id"]), Text(t["company"]),
            Text((t["last_check"] or "-")[:16].replace("T", " ")), result,
            Text(t["stance"] or "-"), Text(t["incident"] or "-", "red" if t["incident"] else ""),
            Text(str(t["pending_alerts"]) if t["pending_alerts"] else "-"))


def health_problem(targets: Sequence[StatusTarget], document: dict[str, Any]) -> str | None:
    """Checks have stopped when no pass completed for twice the shortest interval."""
    last = document.get("last_pass")
    if not last:
        return "no check has completed yet"
    at = datetime.fromisoformat(last.replace("Z", "+00:00"))
    limit = timedelta(seconds=2 * shortest_interval([t.schedule for t in targets]))
    if datetime.now(UTC) - at > limit:
        return f"the last check was at {last[:19]}Z, more than {limit} ago"
    return None


def print_targets(cfg: Config) -> None:
    from rich.text import Text

    rows = [tuple(map(Text, (t.id, t.company, t.topic, t.schedule,
                             ", ".join(t.select) or "(auto)", t.url))) for t in cfg.targets]
    print_table(f"Targets in {cfg.path}", ("id", "company", "topic", "schedule", "select", "url"),
                rows, max_width=80)
