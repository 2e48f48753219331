"""The word diff a reporter reads: every word of the old text and of the new one, in order."""

from __future__ import annotations

import random

import pytest

from monitor.diff import TOKENS, Segment, word_diff

WORDS = ["we", "have", "paused", "requests", "from", "Hong", "Kong", "police", "data", "the",
         "a", "of"]


def side(segments: tuple[Segment, ...], ops: str) -> list[str]:
    return [token for op, text in segments if op in ops for token in TOKENS.findall(text)]


# White space a page's text may hold besides the plain space (the tokeniser splits at all).
SPACES = [" ", " ", " ", "\t", "\u00a0", "\u2028", "\r", "\u3000", "  "]


def random_text(rng: random.Random) -> str:
    return "\n".join(rng.choice(SPACES).join(rng.choice(WORDS) for _ in range(rng.randint(0, 6)))
                     for _ in range(rng.randint(1, 6)))


def edited(text: str, rng: random.Random) -> str:
    return "\n".join(line if rng.random() < 0.7 else " ".join(rng.sample(WORDS, 3))
                     for line in text.split("\n"))


@pytest.mark.parametrize("seed", range(5))
def test_the_diff_spells_out_both_texts(seed: int) -> None:
    """Passage-first matching is an optimisation: read one way the diff is the old text, read
    the other way the new one, line breaks included."""
    rng = random.Random(seed)
    for _ in range(300):
        old = random_text(rng)
        new = random_text(rng) if rng.random() < 0.3 else edited(old, rng)
        segments = word_diff(old, new)
        assert side(segments, "=-") == TOKENS.findall(old)
        assert side(segments, "=+") == TOKENS.findall(new)
        # Words are joined by single spaces whatever white space the texts held.
        for _, text in segments:
            assert text == "\n".join(" ".join(line.split()) for line in text.split("\n"))


def test_a_changed_word_is_all_that_is_marked() -> None:
    old = "Transparency report.\nWe have paused requests from Hong Kong.\nContact us."
    new = "Transparency report.\nWe have resumed requests from Hong Kong.\nContact us."
    assert word_diff(old, new) == (
        ("=", "Transparency report.\nWe have"), ("-", "paused"), ("+", "resumed"),
        ("=", "requests from Hong Kong.\nContact us."))


def test_added_and_removed_passages() -> None:
    assert word_diff("A.\nB.", "A.\nB.\nC.") == (("=", "A.\nB."), ("+", "\nC."))
    assert word_diff("A.\nB.", "B.") == (("-", "A.\n"), ("=", "B."))
    assert word_diff("", "New.") == (("+", "New."),)
