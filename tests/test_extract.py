"""Extraction from the table in cases/extract.yaml: page and rules in, relevant text out."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from bs4 import BeautifulSoup

from monitor.extract import (
    WALKED_IN_PLACE,
    WatchedPart,
    _lines,
    _parse,
    _tree_lines,
    extract,
    normalise,
    watched_part,
)
from monitor.prefixes import needles
from monitor.records import Extraction
from monitor.topics import Pattern, Relevance, load_topic

CASES_DIR = Path(__file__).parent / "cases"
CASES: list[dict[str, Any]] = yaml.safe_load(
    (CASES_DIR / "extract.yaml").read_text(encoding="utf-8"))
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


@pytest.mark.parametrize("topic_name", ["hong-kong-requests", "government-requests"])
def test_vocabulary_needles_change_no_result(topic_name: str) -> None:
    """Needles only skip regex searches that cannot match: every passage of every case, and
    each of its sentences alone, is relevant exactly when a plain search of the vocabulary says
    so."""
    relevance = load_topic(topic_name).relevance

    def plain(text: str) -> bool:
        def hit(group: tuple[Any, ...]) -> bool:
            return any(p.regex.search(text) for p in group)
        if hit(relevance.exclude):
            return False
        return hit(relevance.phrases) or (hit(relevance.subjects) and hit(relevance.about))

    stance_cases = yaml.safe_load((CASES_DIR / "stances.yaml").read_text(encoding="utf-8"))
    texts = [p for case in CASES for p in run(case).passages]
    texts += [p for case in stance_cases for p in case["passages"]]
    texts += [s.strip() for text in texts for s in text.split(".") if s.strip()]
    assert len(texts) > 500
    assert any(map(plain, texts)) and not all(map(plain, texts))
    assert relevance.flags(texts) == [plain(t) for t in texts]
    assert [relevance.matches(t) for t in texts] == [plain(t) for t in texts]
    # Lower-casing "İ" makes two characters: passages after it must still be told apart.
    shifted = ["İ" * 40 + " office.", "Hong Kong", "Our team.", "Data requests"]
    # Letters `re` takes for others when ignoring case: the needles must find them too.
    shifted += ["POLıCE REQUESTS", "the polİce", "ſubpoenas", "a court ORDER", "HKSAR"]
    assert relevance.flags(shifted) == [plain(t) for t in shifted]
    assert relevance.flags(["Hong Kong police ask.", "no Hong Kong", "Data requests"]) == [
        plain(t) for t in ["Hong Kong police ask.", "no Hong Kong", "Data requests"]]
    # Judged with links after the text: relevant by the whole, excluded by the text alone.
    def excluded(text: str) -> bool:
        return any(p.regex.search(text) for p in relevance.exclude)

    links = ["", " /civil-matters", " hong kong police requests", " civil matters", " /x"]
    pairs = [(t, link) for t in texts[:300] for link in links]
    judged = relevance.judge([t + link for t, link in pairs], [len(t) for t, _ in pairs])
    assert [v.relevant for v in judged] == [plain(t + link) for t, link in pairs]
    assert [v.excluded for v in judged] == [excluded(t) for t, _ in pairs]
    assert any(v.excluded for v in judged) and any(v.relevant for v in judged)
    assert any(plain(t) != plain(t + link) for t, link in pairs)
    # Places after wide characters, and a lone surrogate (which the automaton cannot take).
    odd = ["😀香港 police requested data", "x\ud800 Hong Kong police requests", "\udcff"]
    assert relevance.flags(odd) == [plain(t) for t in odd] == [True, True, False]


EMPTY = WatchedPart(())
TRICKY_FRAGMENTS = [
    "<p>Plain <b>bold</b> and <a href='/hk'>a link</a>.</p><p>Next</p>",
    "<div>text<!-- a comment -->after<br>new line<hr>rule</div>",
    "<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp>字</ruby> and <rt>x<b>y</b>z</rt>tail",
    "<div role='row'><span role='cell'>Requests</span><span role='cell'>241</span></div>",
    "<h2>Hong <i>Kong</i></h2><p role=heading>Also a heading</p><p>Body &amp; more &nbsp;x</p>",
    "<ul><li><a href='/a'>A</a></li><li><a href='/b'>B</a></li></ul><a href=''>no href</a>",
    "<p>unclosed <b>bold <i>italic</p><p>next<td>cell</td>",
    "<table><tr><td>1</td><td>2<template>hidden</template></td></tr></table>",
    "<pre>  keep\n  spaces </pre><textarea> area </textarea>",
    "<p>before<?php echo 1; ?>after<![CDATA[ data ]]>end</p>",
    "<a href='/x'><div>block inside a link</div>tail in link</a>outside",
    "<html><body><p>whole</p></body></html><!-- after -->",
    "   ",
    "",
    "<p>\n\n   \n</p><p>a\n  b</p>",
    "<div><style>p{}</style>css gone<script>var x</script>script gone</div>",
]


@pytest.mark.parametrize("fragment", [
    *TRICKY_FRAGMENTS,
    *(case["html"] for case in CASES),
    *(f for case in CASES for f in (watched_part(case["html"], (), ()) or EMPTY).fragments),
])
def test_lxml_walk_cuts_the_lines_beautifulsoup_cuts(fragment: str) -> None:
    """The fast walk over lxml's tree is only an optimisation of the BeautifulSoup walk."""
    root = _parse(fragment)
    fast = _tree_lines(root) if root is not None else []
    assert fast == _lines(BeautifulSoup(fragment, "lxml"))


@pytest.mark.parametrize("tag", sorted(WALKED_IN_PLACE))
def test_a_part_walked_in_place_cuts_the_lines_of_its_html(tag: str) -> None:
    """Lines are cut from the watched element in the page's tree when its tag allows (or from
    the tree cleaning left): its HTML, parsed again on its own (what the digest and
    BeautifulSoup see), gives the same lines, wherever the element stands and whatever it
    holds."""
    contexts = ["<div>{}</div>", "<table><tr>{}</tr></table>", "<ul>{}</ul>", "<p>{}</p>",
                "<a href='/out'>{}</a>", "{}", "<main> x {} y </main>"]
    compared = 0
    for inner in TRICKY_FRAGMENTS:
        for context in contexts:
            page = "<html><body>{}</body></html>".format(
                context.format(f"<{tag} class=watched>{inner}</{tag}>"))
            if tag in ("html", "body"):  # the page's own
                page = f"<html><body>{context.format(inner)}".replace(f"<{tag}>",
                                                                       f"<{tag} class=watched>")
            part = watched_part(page, [".watched"], [])
            if part is None:  # the parser moved it elsewhere (a <td> outside a table)
                continue
            for fragment, tree in zip(part.fragments, part.trees, strict=True):
                if tree is None:
                    continue
                again = _parse(fragment)
                assert _tree_lines(tree) == (_tree_lines(again) if again is not None else [])
                compared += tree.tag == tag  # else the tree cleaning left (also held to it)
    assert compared >= len(contexts)


def test_a_page_with_an_xml_declaration_reads_as_html() -> None:
    """An XHTML page that declares itself XML is read like any page: its <main> is found
    (no namespace gets in the way) and a stray "&" loses no text."""
    body = ("<body><nav><a href='/'>Home</a> <a href='/m'>Menu</a></nav><main><p>We have "
            "paused all requests from Hong Kong authorities.</p><p>Data & more</p></main>"
            "<footer>Copyright</footer></body>")
    xhtml = ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD '
             'XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
             f'<html xmlns="http://www.w3.org/1999/xhtml"><head><title>T</title></head>{body}'
             "</html>")
    topic = load_topic("hong-kong-requests")
    plain = extract(f"<html><head><title>T</title></head>{body}</html>", [], [], topic)
    assert plain.passages == ("We have paused all requests from Hong Kong authorities.",
                              "Data & more")
    assert extract(xhtml, [], [], topic) == plain
    assert extract(xhtml, ["main"], [], topic).passages == plain.passages


def test_normalise_breaks_at_every_white_space_a_regex_would() -> None:
    """normalise() splits with str.split(): it must fold the same characters as regex \\s."""
    spaces = [c for c in map(chr, range(0x110000)) if re.fullmatch(r"\s", c)]
    assert len(spaces) > 20
    texts = ["a" + "b".join(spaces) + "c", " a b", "a b ", "a  b", "a b c", "", " ", "ab"]
    texts += [f"a{space}b" for space in spaces] + [f"{space}a" for space in spaces]
    for text in texts:
        expected = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text)).strip()
        assert normalise(text) == expected, repr(text)


def test_a_line_keeps_only_its_own_links() -> None:
    """A link without text (an icon) after a line belongs to no line: its address must not
    make the line before it about the topic."""
    html = ("<main><p>We build phones for everyone.</p>"
            "<p><a href='/law-enforcement'><img src='badge.png'></a></p>"
            "<p>Phones are great for everyone.</p>"
            "<p>Read the <a href='/law-enforcement-guidelines'>guidelines</a>.</p></main>")
    result = extract(html, [], [], load_topic("hong-kong-requests"))
    assert result.relevant == ("Read the guidelines.",)


def test_relevance_rule_with_patterns_without_needles() -> None:
    """A pattern whose matches start with no fixed text is searched in every text, and the rule
    (a phrase, or a subject and an `about`, never an exclusion) holds as a plain search says."""
    def group(*patterns: str) -> tuple[Pattern, ...]:
        return tuple(Pattern(re.compile(p, re.IGNORECASE),
                             tuple(sorted(needles(p) or ())) or None) for p in patterns)

    relevance = Relevance(phrases=group(r"\d+ subpoenas", r"\bwarrants?\b"),
                          subjects=group(r"\bpolice\b", r"(?:the|a)\s+court"),
                          about=group(r"\w+ed data\b", r"\brequests?\b"),
                          exclude=group(r"\bcivil\b", r".{0,3}private"))
    assert relevance.phrases[0].needles is None and relevance.exclude[1].needles is None
    texts = ["12 subpoenas", "a warrant", "The police requested data", "the  court requests",
             "Police requests", "CİVİL warrant", "private warrants", "a Court shared data",
             "the court said", "no match here", "POLıCE REQUESTS"]
    expected = [True, True, True, True, True, False, False, True, False, False, True]
    assert relevance.flags(texts) == expected
    assert [relevance.excluded(t) for t in texts][5:7] == [True, True]
