"""Word-level diffs of relevant text. Pure.

difflib's SequenceMatcher over word tokens: the standard library does the matching; this
module only tokenises and merges the opcodes into ("=", "-", "+", text) segments.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

TOKENS = re.compile(r"\S+|\n")
Segment = tuple[str, str]


def word_diff(old: str, new: str) -> tuple[Segment, ...]:
    """Segments that turn `old` into `new`; passages stay on their own lines."""
    a, b = TOKENS.findall(old), TOKENS.findall(new)
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    segments: list[Segment] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _append(segments, "=", a[i1:i2])
            continue
        if tag in ("delete", "replace"):
            _append(segments, "-", a[i1:i2])
        if tag in ("insert", "replace"):
            _append(segments, "+", b[j1:j2])
    return tuple(segments)


def _append(segments: list[Segment], op: str, tokens: list[str]) -> None:
    text = _join(tokens)
    if not text:
        return
    if segments and segments[-1][0] == op:
        segments[-1] = (op, _join([segments[-1][1], text]))
    else:
        segments.append((op, text))


def _join(tokens: list[str]) -> str:
    out = ""
    for token in tokens:
        if token == "\n" or out.endswith("\n") or not out:
            out += token
        else:
            out += " " + token
    return out


def changed_words(segments: tuple[Segment, ...]) -> int:
    return sum(len(text.split()) for op, text in segments if op != "=")


def render_plain(segments: tuple[Segment, ...], context: int = 12) -> str:
    """[-deleted-] {+inserted+} with long unchanged stretches shortened, for terminals."""
    parts = []
    for op, text in segments:
        if op == "=":
            words = text.split(" ")
            if len(words) > 2 * context:
                text = " ".join(words[:context]) + " … " + " ".join(words[-context:])
            parts.append(text)
        elif op == "-":
            parts.append(f"[-{text}-]")
        else:
            parts.append(f"{{+{text}+}}")
    return " ".join(parts)
