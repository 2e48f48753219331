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
    # The lines both texts start and end with are set aside first, as git's diff does: a page
    # usually changes in a passage or two, and SequenceMatcher's cost grows with the lines
    # it is given. Lines are compared as strings: a string keeps its hash, a tuple of words is
    # hashed word by word at every comparison.
    head = _common_head(old_lines, new_lines)
    tail = _common_head(old_lines[head:][::-1], new_lines[head:][::-1])
    _append_text(segments, "=", "".join(old_lines[:head]))
    middle_old = old_lines[head:len(old_lines) - tail]
    middle_new = new_lines[head:len(new_lines) - tail]
    lines = SequenceMatcher(None, middle_old, middle_new, autojunk=False)
    for tag, i1, i2, j1, j2 in lines.get_opcodes():
        if tag == "equal":
            _append_text(segments, "=", "".join(middle_old[i1:i2]))
        else:
            _diff_words(segments, _tokens(middle_old[i1:i2]), _tokens(middle_new[j1:j2]))
    _append_text(segments, "=", "".join(old_lines[len(old_lines) - tail:]))
    return tuple(segments)


def _common_head(a: list[str], b: list[str]) -> int:
    """How many lines `a` and `b` start with alike."""
    count = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        count += 1
    return count


def _lines(text: str) -> list[str]:
    """The text's lines as its tokens joined: words by one space, a "\\n" ending each line
    but the last."""
    *lines, last = text.split("\n")
    return [single_spaced(line) + "\n" for line in lines] + [single_spaced(last)]


def single_spaced(text: str) -> str:
    """The text's words (the tokens of TOKENS) joined by single spaces.

    str.split() breaks at exactly what \\s matches (tests/test_extract.py). Text already in
    this form (single spaces, no other white space, which is all unprintable) is returned as
    it is: the test costs about two thirds of splitting and joining it again, and extracted
    text is always in this form.
    """
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return " ".join(text.split())


def _tokens(lines: list[str]) -> list[str]:
    """The tokens of joined lines: their words, and "\\n" where a line ends in one."""
    tokens: list[str] = []
    for line in lines:
        tokens.extend(line.split())
        if line.endswith("\n"):
            tokens.append("\n")
    return tokens


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
    _append_text(segments, op, _join(tokens))


def _append_text(segments: list[Segment], op: str, text: str) -> None:
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
