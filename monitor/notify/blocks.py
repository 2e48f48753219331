"""Block Kit messages for alert events; pure formatting, no I/O.

Every message stays within Slack's limits whatever the page says (Slack rejects the whole
message otherwise, and a rejected alert is a lost alert), and page text is escaped so a page
can never ping a channel, forge a link or fake the diff's strike-through and bold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from monitor.records import (
    EXTRACTION_FAILED,
    SECTION_CHANGED,
    STANCE_CHANGED,
    TARGET_GONE,
    TARGET_UNREACHABLE,
    Event,
    format_time,
)

# --- Slack's limits (the acceptance fake rejects a message that breaks one) ---------------------

# Slack rejects a header block whose plain text is over 150 characters.
HEADER_TEXT_MAX = 150
# Slack rejects a section block (and a context element) over 3000 characters.
SECTION_TEXT_MAX = 3000
# Slack rejects a message with more than 50 blocks; ours have at most 8.
MAX_BLOCKS = 50
# Slack rejects a message `text` over 40,000 characters with msg_too_long.
MESSAGE_TEXT_MAX = 40_000
# Slack rejects a button URL over 3000 characters; the page is then only named, not linked.
BUTTON_URL_MAX = 3000

# --- our own budgets, well inside those limits ----------------------------------------------------

# The notification fallback is read as one line on a phone: keep it short.
TEXT_BUDGET = 300
# Two evidence sections share a message; each stays readable and far under the section limit.
EVIDENCE_BUDGET = 1500
# One sentence of evidence should not crowd out the others.
SENTENCE_MAX = 600
# A fault's reason or a note is one remark, not a page.
NOTE_MAX = 500
# Company names and ids come from the config; clip them so the header always fits.
NAME_MAX = 80
# Unchanged words kept on each side of a change: enough to see where the change sits.
CONTEXT_WORDS = 6
ELLIPSIS = "…"

OPERATIONAL_WORDING = {  # event type -> (what went wrong, what the recovery says)
    TARGET_UNREACHABLE: ("page unreachable", "page is back"),
    TARGET_GONE: ("page gone (404 or 410)", "page is back"),
    EXTRACTION_FAILED: ("watched part not found on the page", "watched part is back"),
}

# --- escaping ------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# Slack has no escape for its formatting characters. Look-alikes keep page text from closing our
# ~strike~ and *bold* (a forged "inserted" word) or opening a code span that swallows the rest.
_LOOKALIKES = str.maketrans({"*": "\u2217", "~": "\u223c", "`": "\u02cb"})


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as control: & < >.

    With them escaped, `<!channel>`, `<@U123>` and `<http://x|link>` are shown, not acted on.
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str) -> str:
    """Untrusted text made one clean line: control and bidi characters out, spaces collapsed."""
    return " ".join(_CONTROL.sub(" ", text).split())


def page_text(text: str) -> str:
    """Untrusted (page-derived) text made safe for mrkdwn: one line, escaped, formatting inert."""
    return escape(plain(text)).translate(_LOOKALIKES)


def clip(text: str, limit: int) -> str:
    """Shorten already-escaped text to at most ``limit`` characters, ending with an ellipsis.

    Never cuts an entity such as ``&amp;`` in half (Slack would show the fragment), and prefers
    to cut between words.
    """
    if len(text) <= limit:
        return text
    cut = text[: max(limit - len(ELLIPSIS), 0)]
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    space = cut.rfind(" ", max(len(cut) - 20, 0))
    if space > 0:
        cut = cut[:space]
    return cut.rstrip() + ELLIPSIS


def _code(value: str | None) -> str:
    """A stance, rule or id as inline code (`paused`), or an italic "none"."""
    if not value:
        return "_none_"
    return f"`{clip(escape(plain(value)).replace('`', ''), NAME_MAX)}`"


def _company(event: Event) -> str:
    return clip(page_text(event.company), NAME_MAX)


def _show_command(event: Event) -> str:
    """The command that prints everything the message had to leave out."""
    if event.change_id:
        return f"stancewatch show {clip(plain(event.change_id), NAME_MAX)}"
    return f"stancewatch history --target {clip(plain(event.target), NAME_MAX)}"


# --- the compact word diff -------------------------------------------------------------------


def compact_diff(
    diff: Iterable[tuple[str, str]], context_words: int = CONTEXT_WORDS
) -> list[tuple[str, str]]:
    """The diff with unchanged runs shortened to a few words around each change.

    Adjacent segments of one kind are merged and white space is collapsed, so the pieces are
    meant to be joined with single spaces. A diff without any change gives an empty list.
    """
    merged = _merge(diff)
    if all(op == "=" for op, _ in merged):
        return []
    result = []
    for index, (op, text) in enumerate(merged):
        if op == "=":
            text = _elide(text, context_words, first=index == 0, last=index == len(merged) - 1)
        else:
            text = plain(text)
        if text:
            result.append((op, text))
    return result


def _merge(diff: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Merge neighbouring segments of the same kind and drop blank ones."""
    merged: list[tuple[str, str]] = []
    for op, text in diff:
        if not text.strip():
            continue
        if merged and merged[-1][0] == op:
            merged[-1] = (op, f"{merged[-1][1]} {text}")
        else:
            merged.append((op, text))
    return merged


def _elide(text: str, keep: int, first: bool, last: bool) -> str:
    """Keep ``keep`` words next to each change and replace the rest with an ellipsis."""
    words = plain(text).split(" ")
    if first and not last and len(words) > keep:
        words = [ELLIPSIS, *words[-keep:]]
    elif last and not first and len(words) > keep:
        words = [*words[:keep], ELLIPSIS]
    elif not first and not last and len(words) > 2 * keep:
        words = [*words[:keep], ELLIPSIS, *words[-keep:]]
    return " ".join(words)


def _render_piece(op: str, text: str) -> str:
    """One diff segment in mrkdwn: ~deleted~, *inserted*, or plain context."""
    body = page_text(text)
    if not body:
        return ""
    if op == "-":
        return f"~{body}~"
    if op == "+":
        return f"*{body}*"
    return body


def render_diff(diff: Iterable[tuple[str, str]], budget: int) -> tuple[str, bool]:
    """The compact diff as mrkdwn of at most ``budget`` characters, and whether it was cut.

    Pieces are joined with spaces: Slack only formats ~strike~ and *bold* set off from their
    neighbours. The cut falls between words, never inside a formatted pair or an escape.
    """
    out = ""
    for op, text in compact_diff(diff):
        piece = _render_piece(op, text)
        separator = " " if out else ""
        if len(out) + len(separator) + len(piece) <= budget:
            out += separator + piece
            continue
        room = budget - len(out) - len(separator) - len(ELLIPSIS) - 1
        partial = _fit_piece(op, text, room)
        if partial:
            out += separator + partial
        return (out + " " + ELLIPSIS).strip(), True
    return out, False


def _fit_piece(op: str, text: str, room: int) -> str:
    """The longest leading run of the segment's words whose rendering fits in ``room``."""
    words = text.split()
    low, high = 0, len(words)
    while low < high:  # binary search: the rendered length grows with the number of words
        middle = (low + high + 1) // 2
        if len(_render_piece(op, " ".join(words[:middle]))) <= room:
            low = middle
        else:
            high = middle - 1
    return _render_piece(op, " ".join(words[:low])) if low else ""


# --- blocks ---------------------------------------------------------------------------------


def _section(block_id: str, text: str) -> dict[str, Any]:
    return {
        "type": "section",
        "block_id": block_id,
        "text": {"type": "mrkdwn", "text": clip(text, SECTION_TEXT_MAX)},
    }


def _header(text: str) -> dict[str, Any]:
    """A header block; plain text (Slack shows it literally), clipped to Slack's 150 characters."""
    return {
        "type": "header",
        "block_id": "header",
        "text": {"type": "plain_text", "text": _clip_plain(text, HEADER_TEXT_MAX), "emoji": True},
    }


def _clip_plain(text: str, limit: int) -> str:
    text = plain(text)
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def _evidence_section(block_id: str, title: str, sentences: Sequence[str], event: Event) -> dict:
    """Quoted evidence sentences; a long list ends with how many were left out."""
    lines = [f"*{title}*"]
    if not sentences:
        lines.append("_(no evidence sentence)_")
    for index, sentence in enumerate(sentences):
        line = "> " + clip(page_text(sentence), SENTENCE_MAX)
        left = len(sentences) - index
        more = f"_{ELLIPSIS} and {left} more: `{_show_command(event)}`_"
        if sum(len(x) + 1 for x in lines) + len(line) + 1 + len(more) > EVIDENCE_BUDGET:
            lines.append(more)
            break
        lines.append(line)
    return _section(block_id, "\n".join(lines))


def _diff_section(event: Event) -> dict[str, Any] | None:
    """The compact word diff; a long one is cut with a pointer to the full diff."""
    title = "*Changes* (~deleted~ *inserted*)\n"
    pointer = f"\n_{ELLIPSIS} diff cut; full diff: `{_show_command(event)}`_"
    body, cut = render_diff(event.diff, SECTION_TEXT_MAX - len(title) - len(pointer))
    if not body:
        return None
    return _section("diff", title + body + (pointer if cut else ""))


def _context(event: Event) -> dict[str, Any]:
    """Where the alert came from and how to see all of it."""
    parts = [_code(event.target), f"detected {format_time(event.detected_at)}"]
    if event.change_id:
        parts.append(f"change {_code(event.change_id)}")
    parts.append(f"details: `{_show_command(event)}`")
    return {
        "type": "context",
        "block_id": "context",
        "elements": [{"type": "mrkdwn", "text": clip(" · ".join(parts), SECTION_TEXT_MAX)}],
    }


def _actions(event: Event) -> dict[str, Any] | None:
    """A link button to the watched page (left out when the URL could not be a button)."""
    url = event.url.strip()
    if not url.startswith(("http://", "https://")) or len(url) > BUTTON_URL_MAX:
        return None
    button = {
        "type": "button",
        "action_id": "open_page",
        "text": {"type": "plain_text", "text": "Open the page"},
        "url": url,
    }
    return {"type": "actions", "block_id": "actions", "elements": [button]}


def _stance_lines(event: Event) -> str:
    lines = [f"*Stance:* {_code(event.old_stance)} → {_code(event.new_stance)}"]
    if event.rule:
        lines.append(f"*Read by rule:* {_code(event.rule)}")
    if event.note:
        lines.append(f"_{_note(event.note)}_")
    return "\n".join(lines)


def _note(note: str) -> str:
    """A note or a fault's reason: written by us, maybe quoting a server, so escaped.

    Backticks are kept: our notes use them for stances ("back to `paused`").
    """
    return clip(escape(plain(note)), NOTE_MAX)


def _stance_changed_blocks(event: Event) -> list[dict | None]:
    return [
        _header(f"🚨 {plain(event.company)[:NAME_MAX]}: stance now {event.new_stance or 'none'}"),
        _section("stance", _stance_lines(event)),
        _evidence_section("before", "Before", event.old_evidence, event),
        _evidence_section("after", "After", event.new_evidence, event),
        _diff_section(event),
        _context(event),
        _actions(event),
    ]


def _section_changed_blocks(event: Event) -> list[dict | None]:
    if event.old_stance is None and event.new_stance is None:
        summary = f"*Text about government requests changed on {_company(event)}'s page*"
    else:
        summary = (
            f"*Wording changed on {_company(event)}'s page* "
            f"(stance unchanged: {_code(event.new_stance or event.old_stance)})"
        )
    if event.note:
        summary += f"\n_{_note(event.note)}_"
    return [_section("summary", summary), _diff_section(event), _context(event), _actions(event)]


def _operational_blocks(event: Event) -> list[dict | None]:
    problem, recovery = OPERATIONAL_WORDING.get(event.event_type, (event.event_type, "is back"))
    if event.recovered:
        summary = f"✅ *{_company(event)}*: {recovery}"
    else:
        summary = f"⚠️ *{_company(event)}*: {escape(problem)}"
        if event.event_type == EXTRACTION_FAILED:
            summary += " (a redesign? check the target's `select`)"
    if event.note:
        summary += f"\n{_note(event.note)}"
    return [_section("summary", summary), _context(event), _actions(event)]


def build_text(event: Event) -> str:
    """The one-line notification fallback, escaped like the blocks."""
    who = f"{page_text(event.company)} ({escape(plain(event.target))})"
    if event.event_type == STANCE_CHANGED:
        what = f"stance changed from {_word(event.old_stance)} to {_word(event.new_stance)}"
    elif event.event_type == SECTION_CHANGED:
        if event.old_stance is None and event.new_stance is None:
            what = "text about government requests changed"
        else:
            what = f"wording changed, stance unchanged ({_word(event.new_stance)})"
    elif event.event_type in OPERATIONAL_WORDING:
        problem, recovery = OPERATIONAL_WORDING[event.event_type]
        what = recovery if event.recovered else problem
        if event.note and not event.recovered:
            what += f": {_note(event.note)}"
    else:
        what = escape(plain(event.event_type))
    return clip(f"{who}: {what}", TEXT_BUDGET)


def _word(stance: str | None) -> str:
    return escape(plain(stance)) if stance else "none"


_BUILDERS = {
    STANCE_CHANGED: _stance_changed_blocks,
    SECTION_CHANGED: _section_changed_blocks,
}


def build_message(event: Event) -> dict[str, Any]:
    """The chat.postMessage arguments for an event: text, blocks and metadata."""
    builder = _BUILDERS.get(event.event_type, _operational_blocks)
    blocks = [block for block in builder(event) if block is not None][:MAX_BLOCKS]
    return {"text": build_text(event), "blocks": blocks, "metadata": event.metadata()}


def build_fallback_message(event: Event) -> dict[str, Any]:
    """A minimal message for when Slack refuses the full one: it must not refuse this too.

    One section with the fallback line and where to read the rest; the metadata is kept so the
    message can still be found again after a crash.
    """
    text = build_text(event)
    section = _section("summary", f"{text}\nDetails: `{_show_command(event)}`")
    return {"text": text, "blocks": [section], "metadata": event.metadata()}
