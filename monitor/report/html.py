"""The report's small repeated fragments (stance chips, times, links, diffs) built in Python.

Why not Jinja macros (or Markup.format): a change page calls them dozens of times, and for
10,000 change pages their call overhead was the largest cost of a build. Every value is passed
through markupsafe's `escape` before it meets a tag, exactly as autoescape would; only the
tags written here are trusted.
"""

from __future__ import annotations

from markupsafe import Markup, escape

from monitor.report.text import (
    STANCE_MEANING,
    Piece,
    http_url,
    iso_time,
    show_time,
    stance_class,
    stance_label,
)
from monitor.store import Change

_ARROW = '<span class="arrow" aria-label="to">→</span>'


def chip(stance: str | None, big: bool = False) -> Markup:
    """A coloured label; the colour comes from a fixed class list, never from page text."""
    meaning = STANCE_MEANING.get(stance or "", "this page has no stance vocabulary"
                                 if stance is None else "a stance this report does not know")
    return Markup(f'<span class="chip s-{stance_class(stance)}{" big" if big else ""}" '
                  f'title="{escape(meaning)}">{escape(stance_label(stance))}</span>')


def when(at: str | None, seconds: bool = False) -> Markup:
    return Markup(f'<time datetime="{escape(iso_time(at))}">'
                  f"{escape(show_time(at, seconds))}</time>")


def transition(change: Change) -> Markup:
    """old → new for a stance change, the stance held for other kinds."""
    if change.kind == "stance":
        return Markup(f"{chip(change.old_stance)}{_ARROW}{chip(change.new_stance)}")
    return chip(change.new_stance) if change.new_stance else Markup("")


def link(url: str | None, label: str | None = None) -> Markup:
    """A link only to an http(s) address; anything else (javascript:, data:) is plain text."""
    safe = http_url(url)
    if safe:
        return Markup(f'<a href="{escape(safe)}" rel="noopener noreferrer nofollow">'
                      f"{escape(label or safe)}</a>")
    return Markup('<span class="nolink" title="not a web address; shown as text">'
                  f"{escape(label or url or 'no address')}</span>")


def pieces_html(pieces: list[Piece]) -> Markup:
    """<del>/<ins> runs of a diff; folded unchanged stretches sit in a <details>."""
    out: list[str] = []
    for piece in pieces:
        text = escape(piece.text)
        out.append(" " if piece.sep else "")
        if piece.op == "-":
            out.append(f"<del>{text}</del>")
        elif piece.op == "+":
            out.append(f"<ins>{text}</ins>")
        elif piece.op == "fold":
            out.append(f'<details class="fold"><summary>{int(piece.words)} unchanged words'
                       f"</summary>{text}</details>")
        elif piece.op == "gap":
            out.append(f'<span class="gap">{text}</span>')
        else:
            out.append(str(text))
    return Markup("".join(out))
