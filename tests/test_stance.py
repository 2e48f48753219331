"""Stance reading: the case table (tests/cases/stances.yaml) plus the module's own guarantees.

The table holds the meaning the rules must read; the tests below it pin what the rest of the
program relies on: evidence is exact sentences of the passages, a topic without stances reads
nothing, and bad rules fail loudly.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.prefixes import Screened, cue_prefixes, needles
from monitor.records import STANCES, Reading
from monitor.stance import (
    TIER_HEADING,
    Rule,
    StanceRulesError,
    Vocabulary,
    compile_stances,
    cue_holds,
    is_heading,
    lower,
    own_voice,
    read_stance,
    scoped_sentences,
    split_sentences,
    statements_of,
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
    expected = Reading("not_mentioned", (), "hk-requests-absent")
    assert read_stance(["Nothing here."], topic) == expected


def test_evidence_is_limited(topic: Topic) -> None:
    passages = [f"Requests from Hong Kong authorities remain on hold ({n})." for n in range(8)]
    reading = read_stance(passages, topic)
    assert reading.stance == "paused"
    assert 1 <= len(reading.evidence) <= 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two! Three?", ["One.", "Two!", "Three?"]),
        (
            "Ask the U.S. Department of Justice. Then wait.",
            ["Ask the U.S. Department of Justice.", "Then wait."],
        ),
        (
            "Tools, e.g. forms, help. Acme Inc. agrees.",
            ["Tools, e.g. forms, help.", "Acme Inc. agrees."],
        ),
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
    with pytest.raises(StanceRulesError, match=re.escape(message)):
        compile_stances(raw, "t")


def test_rules_are_data_a_new_topic_needs_no_code() -> None:
    """A made-up topic with its own vocabulary is read by the same code."""
    raw = _rules(rules=[{"name": "halt", "stance": "paused", "cues": [r"\bhalted\b"]}])
    relevance = load_topic("hong-kong-requests").relevance
    topic = Topic(name="test-only-topic", title="t", relevance=relevance, stances=raw)
    reading = read_stance(["Hong Kong requests are halted."], topic)
    assert (reading.stance, reading.rule) == ("paused", "halt")


def test_compiled_once_per_topic(topic: Topic) -> None:
    assert vocabulary(topic) is vocabulary(topic)


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bpaus(e|ed)\b", {"pause", "paused"}),
        (r"\b(will|shall) not\b", {"will not", "shall not"}),
        (r"\bon hold\b|\bmoratorium\b", {"on hold", "moratorium"}),
        (r"\b(do|does)\s*not", {"do", "does"}),
        (r"paused", None),  # no \b: may match inside a word
        (r"\b(\w+ )?paused", None),  # may start with any word
        (r"\b(a|the) pause", {"a pause", "the pause"}),
        (r"\b(a|the)\s+pause", None),  # "a" alone is too short a key
    ],
)
def test_cue_prefixes(pattern: str, expected: set[str] | None) -> None:
    prefixes = cue_prefixes(pattern)
    assert (set(prefixes) if prefixes else None) == expected


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"\bHong\s*Kong\b|\bHKSAR\b|香港", {"hong", "hksar", "香港"}),
        (r"\blaw[- ]enforcement\b", {"law-enforcem", "law enforcem"}),  # 12 characters at most
        (r"\blaw[a-z]", {"law"}),  # a range is not a few characters
        (r"transparency report", {"transparency"}),  # no \b needed: a needle is a substring
        (r"\brequests?\b.{0,40}\bdata", {"request"}),
        (r"\b\w+ requests", None),  # may start with any word
        (r"(?i)x|\d+", None),  # one branch has no literal start
    ],
)
def test_needles(pattern: str, expected: set[str] | None) -> None:
    found = needles(pattern)
    assert (set(found) if found else None) == expected


def test_screened_scope_patterns_change_no_result(topic: Topic) -> None:
    """Scope patterns are searched only in passages holding one of their needles: every passage
    of the case table is in scope exactly when a plain search says so."""
    vocab = vocabulary(topic)
    texts = [lower(p) for case in CASES for p in case["passages"]]
    texts += ["the hk police", "hongkong", "requests from 香港", "no place here"]
    for screened in (vocab.place, vocab.about, vocab.anaphora):
        assert screened is not None and screened.needles
        found = [screened.search(text) is not None for text in texts]
        assert found == [screened.regex.search(text) is not None for text in texts]
        assert any(found) and not all(found)


def test_a_pattern_ignoring_case_is_never_screened() -> None:
    """Needles are compared as written: a pattern that ignores case must always be searched."""
    assert Screened(re.compile("(?i:hong) kong")).needles is None
    assert Screened(re.compile("hong", re.IGNORECASE)).needles is None
    assert Screened(re.compile("hong|hksar")).needles == {"hong", "hksar"}


def test_word_start_index_changes_no_result(topic: Topic) -> None:
    """The index is an optimisation: it finds exactly the rules a plain search of every cue
    at every position finds."""
    vocab = vocabulary(topic)
    for case in CASES:
        for sentence in own_voice(scoped_sentences(case["passages"], vocab), vocab):
            indexed = {st.rule.name for st in statements_of(sentence, vocab)}
            searched = {
                rule.name
                for rule in vocab.rules
                if (sentence.tier != TIER_HEADING or rule.priority >= vocab.heading_min_priority)
                and _holds_anywhere(rule, sentence.masked, vocab)
            }
            assert indexed == searched, sentence.text


def _holds_anywhere(rule: Rule, text: str, vocab: Vocabulary) -> bool:
    cues = [cue for _, cue in rule.indexed] + ([rule.scanned] if rule.scanned else [])
    return any(
        cue.match(text, at) and cue_holds(rule, text, at, vocab)
        for cue in cues
        for at in range(len(text))
    )


# A page as extraction hands it over: headings, general law-enforcement text, a Hong Kong section.
REALISTIC_PAGE = (
    "Government requests for user data",
    "Our approach to government requests",
    "We answer government data requests only as the law requires and as our terms allow. Each"
    " request is checked by our legal team, and requests that are too broad are pushed back.",
    "Users are told about requests for their data before anything is disclosed, unless the law"
    " forbids it or a life is at risk.",
    "Emergencies",
    "In an emergency that puts someone's life at risk, police may ask for data without legal"
    " process, and we may answer at once.",
    "Requests from Hong Kong authorities",
    "In August 2020, after the new security law, we paused our review of requests for user"
    " data from Hong Kong authorities. We keep the situation under review.",
    "We have not resumed handling these requests and will not resume them. Hong Kong"
    " authorities must route their demands via the U.S. Department of Justice (MLAT).",
    "Requests in this period",
    "Legal process requests 17",
    "Emergency disclosure requests 1",
    "Preservation",
    "Account records can be preserved for 90 days while formal legal process is obtained.",
    "Local law restrictions",
    "Content reported as illegal under local law may be restricted in that country only.",
    "Our guidelines explain how to submit a request, what to include and how we treat requests"
    " from authorities outside the United States.",
    "Questions about a request can be sent through our online request system.",
    "Figures cover six-month periods.",
    "Report archive",
)


@pytest.mark.parametrize("count", [0, 1, 13, 14, 15, 27, 28, 29, 30, 60])
@pytest.mark.parametrize("ending", ["", "?", ".", '?" '])
def test_a_heading_is_counted_in_words_around_its_limits(count: int, ending: str) -> None:
    """Up to 14 words without a full stop, 28 for a question; a long paragraph is none."""
    passage = " ".join(["word"] * count) + ending
    limit = 28 if ending.strip(' "') == "?" else 14
    expected = count <= limit and ending != "."
    assert is_heading(passage, 14) is expected
