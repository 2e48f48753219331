"""Stance reading: the case table (tests/cases/stances.yaml) plus the module's own guarantees.

The table holds the meaning the rules must read; the tests below it pin what the rest of the
program relies on: evidence is exact sentences of the passages, a topic without stances reads
nothing, bad rules fail loudly, and reading stays fast.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.records import STANCES, Reading
from monitor.stance import (
    StanceRulesError,
    compile_stances,
    read_stance,
    split_sentences,
    vocabulary,
)
from monitor.topics import Topic, load_topic

CASES_FILE = Path(__file__).parent / "cases" / "stances.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CASES_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def topic() -> Topic:
    return load_topic("hong-kong-requests")


def test_case_table_is_well_formed() -> None:
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids)), "duplicate case ids"
    assert len(CASES) >= 60
    for case in CASES:
        assert case["stance"] in STANCES, case["id"]
        assert set(case) <= {"id", "passages", "stance", "evidence", "rule"}, case["id"]


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_case(case: dict[str, Any], topic: Topic) -> None:
    passages = case["passages"]
    reading = read_stance(passages, topic)
    shown = f"{reading.stance} by {reading.rule}: {reading.evidence}"
    assert reading.stance == case["stance"], shown
    if "rule" in case:
        assert reading.rule == case["rule"], shown
    if "evidence" in case:
        assert any(case["evidence"] in sentence for sentence in reading.evidence), shown
    for sentence in reading.evidence:
        assert any(sentence in passage for passage in passages), sentence


def test_every_stance_is_covered_by_the_table() -> None:
    assert {case["stance"] for case in CASES} == set(STANCES)


def test_every_rule_decides_some_case(topic: Topic) -> None:
    """A rule no case exercises is untested wording."""
    decided = {read_stance(case["passages"], topic).rule for case in CASES}
    names = {rule.name for rule in vocabulary(topic).rules}
    assert names <= decided, names - decided


def test_topic_without_stances_reads_none() -> None:
    topic = load_topic("government-requests")
    assert not topic.has_stances
    assert read_stance(["We have paused requests from Hong Kong."], topic) == Reading(None)


def test_reading_names_rule_and_evidence(topic: Topic) -> None:
    reading = read_stance(
        ["Hong Kong", "Since 2021 we have paused responses to requests from HK police."], topic
    )
    assert reading == Reading(
        "paused", ("Since 2021 we have paused responses to requests from HK police.",), "paused"
    )


def test_not_mentioned_has_no_evidence(topic: Topic) -> None:
    assert read_stance(["Nothing here."], topic) == Reading("not_mentioned", (), "hk-requests-absent")


def test_evidence_is_limited(topic: Topic) -> None:
    passages = [f"Requests from Hong Kong authorities remain on hold ({n})." for n in range(8)]
    reading = read_stance(passages, topic)
    assert reading.stance == "paused"
    assert 1 <= len(reading.evidence) <= 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three?", ["One.", "Two!", "Three?"]),
        ("Ask the U.S. Department of Justice. Then wait.", [
            "Ask the U.S. Department of Justice.", "Then wait."]),
        ("Tools, e.g. forms, help. Acme Inc. agrees.", ["Tools, e.g. forms, help.", "Acme Inc. agrees."]),
        ("Ask Acme Inc. for details.", ["Ask Acme Inc. for details."]),
        ("It costs approx. three dollars.", ["It costs approx. three dollars."]),
        ('He said "stop." We did not.', ['He said "stop."', "We did not."]),
        ("香港の要求。次の文", ["香港の要求。", "次の文"]),
        ("No full stop at the end", ["No full stop at the end"]),
        ("", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert [text[a:b] for a, b in split_sentences(text)] == expected


def _rules(**overrides: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "scope": {"place": [r"\bHong Kong\b"]},
        "rules": [{"name": "p", "stance": "paused", "cues": [r"\bpaused\b"]}],
    }
    raw.update(overrides)
    return raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_rules(extra=1), "unknown key(s) extra"),
        (_rules(rules=[{"name": "p", "stance": "maybe", "cues": ["x"]}]), "stance 'maybe'"),
        (_rules(rules=[{"name": "p", "stance": "paused"}]), "has no cues"),
        (_rules(rules=[{"stance": "paused", "cues": ["x"]}]), "has no name"),
        (_rules(rules=[{"name": "p", "stance": "paused", "cues": ["("]}]), "bad pattern"),
        (_rules(rules=[{"name": "p", "stance": "paused", "cues": ["x"], "typo": 1}]), "typo"),
        (_rules(rules=[]), "rules is empty"),
        (_rules(scope={}), "place is required"),
    ],
)
def test_bad_rules_name_the_problem(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(StanceRulesError, match=None) as error:
        compile_stances(raw, "t")
    assert message in str(error.value)


def test_rules_are_data_a_new_topic_needs_no_code() -> None:
    """A made-up topic with its own vocabulary is read by the same code."""
    raw = _rules(rules=[{"name": "halt", "stance": "paused", "cues": [r"\bhalted\b"]}])
    topic = Topic(name="test-only-topic", title="t", relevance=load_topic("hong-kong-requests")
                  .relevance, stances=raw)
    reading = read_stance(["Hong Kong requests are halted."], topic)
    assert (reading.stance, reading.rule) == ("paused", "halt")


def test_compiled_once_per_topic(topic: Topic) -> None:
    assert vocabulary(topic) is vocabulary(topic)


def test_reading_is_fast(topic: Topic) -> None:
    """Reading runs on every check and every `reread`: ~20 passages well under a millisecond."""
    passages = [p for case in CASES for p in case["passages"]][:20]
    read_stance(passages, topic)  # compile outside the timing
    rounds = 200
    started = time.perf_counter()
    for _ in range(rounds):
        read_stance(passages, topic)
    per_reading = (time.perf_counter() - started) / rounds
    assert per_reading < 0.001, f"{per_reading * 1000:.3f} ms per reading"
