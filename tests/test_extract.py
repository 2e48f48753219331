"""Extraction from the table in cases/extract.yaml: page and rules in, relevant text out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.extract import extract, normalise
from monitor.records import Extraction
from monitor.topics import load_topic

CASES: list[dict[str, Any]] = yaml.safe_load(
    (Path(__file__).parent / "cases" / "extract.yaml").read_text(encoding="utf-8"))
BY_NAME = {case["name"]: case for case in CASES}


def run(case: dict[str, Any]) -> Extraction:
    select = case.get("select") or []
    return extract(case["html"], [select] if isinstance(select, str) else select,
                   case.get("ignore", []), load_topic(case.get("topic", "hong-kong-requests")))


def key(extraction: Extraction) -> str:
    """What change detection compares (white space never counts)."""
    return "".join(extraction.key_text.split())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_extraction_table(case: dict[str, Any]) -> None:
    result = run(case)
    if case.get("unmatched"):
        assert not result.matched
        return
    assert result.matched
    for passage in case.get("relevant", []):
        assert passage in result.relevant
    for word in case.get("absent", []):
        assert word not in result.relevant_text
    if "same_as" in case:
        assert key(result) == key(run(BY_NAME[case["same_as"]]))
    if "differs_from" in case:
        assert key(result) != key(run(BY_NAME[case["differs_from"]]))


def test_normalise_folds_typography_and_invisible_characters() -> None:
    assert normalise("“Hong\u00a0Kong”\u200b – ’s  \n text") == "\"Hong Kong\" - 's text"


def test_a_windows_1252_page_reads_like_its_utf8_twin() -> None:
    html = "<main><p>We don’t process requests from Hong Kong (香港).</p></main>"
    legacy = html.replace("香港", "&#39321;&#28207;").encode("cp1252").decode("cp1252")
    topic = load_topic("hong-kong-requests")
    assert key(extract(html, [], [], topic)) == key(extract(legacy, [], [], topic))
