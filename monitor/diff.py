"""Word-level diffs of relevant text. Pure.

difflib's SequenceMatcher does the matching, first over passages (lines), then over the word
tokens of the passages that differ, as `git diff --word-diff` works from a line diff: matching
every word of a long page costs milliseconds, while a page that changed usually changed in a
passage or two. This module only tokenises and merges the opcodes into ("=", "-", "+", text)
segments.
"""

from __future__ import annotations

import re
from difflib import SequenceMatcher

# What a token is: a word or a line break (`_lines` splits the text into exactly these).
TOKENS = re.compile(r"\S+|\n")
Segment = tuple[str, str]


def word_diff(old: str, new: str) -> tuple[Segment, ...]:
    """Segments that turn `old` into `new`; passages stay on their own lines."""
    old_lines, new_lines = _lines(old), _lines(new)
    segments: list[Segment] = []
    lines = SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in lines.get_opcodes():
        a = [token for line in old_lines[i1:i2] for token in line]
        if tag == "equal":
            _append(segments, "=", a)
        else:
            _diff_words(segments, a, [token for line in new_lines[j1:j2] for token in line])
    return tuple(segments)


def _lines(text: str) -> list[tuple[str, ...]]:
    """The text's word tokens, line by line, each line but the last ending in a "\n" token."""
    *lines, last = text.split("\n")
    # str.split() breaks at exactly what \s matches: the tokens of TOKENS, at a third the cost.
    return [(*line.split(), "\n") for line in lines] + [tuple(last.split())]


def _diff_words(segments: list[Segment], a: list[str], b: list[str]) -> None:
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _append(segments, "=", a[i1:i2])
            continue
        if tag in ("delete", "replace"):
            _append(segments, "-", a[i1:i2])
        if tag in ("insert", "replace"):
            _append(segments, "+", b[j1:j2])


def _append(segments: list[Segment], op: str, tokens: list[str]) -> None:
    text = _join(tokens)
    if not text:
        return
    if segments and segments[-1][0] == op:
        segments[-1] = (op, _join([segments[-1][1], text]))
    else:
        segments.append((op, text))


def _join(tokens: list[str]) -> str:
    """Tokens joined by single spaces, with none around a line break.

    (Tokens never hold white space, so the only spaces next to a line break are the joins.)
    """
    return " ".join(tokens).replace(" \n", "\n").replace("\n ", "\n")


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
