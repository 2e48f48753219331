"""HTML -> the watched part's passages -> the relevant text. Pure: values in, values out.

Steps: select the watched part with lxml (parsel, Scrapy's fast selectors) and drop scripts and
other never-content subtrees there, so BeautifulSoup only cleans the small selected fragment;
remove `ignore` selectors, navigation, cookie/consent banners and hidden elements; cut the text
into lines at block elements; normalise each line; drop timestamp lines; merge runs of short
fragments (table cells, definition lists, figure labels) into one passage so that a redesign
from <table> to <dl> or <div role=row> yields the same passages; keep the passages the topic's
vocabulary recognises.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString, Tag
from parsel import Selector

from monitor.records import Extraction
from monitor.topics import Topic

# Subtrees that are never page content; removed in lxml before BeautifulSoup sees the fragment.
NEVER_CONTENT = ("script", "style", "noscript", "template", "svg", "iframe", "object", "embed",
                 "canvas", "video", "audio", "picture", "img", "link", "meta", "head")
NEVER_CONTENT_XPATH = " | ".join(f"descendant-or-self::{tag}" for tag in NEVER_CONTENT)
# Chrome around the content: navigation, forms, banners and widgets.
CHROME_SELECTORS = (
    "nav", "form", "button", "select", "input", "textarea", "dialog",
    "[role=navigation]", "[role=dialog]", "[role=alertdialog]", "[role=search]",
    "[role=banner]", "[role=contentinfo]", "[hidden]", "[aria-hidden=true]",
    "[style*='display:none']", "[style*='display: none']", "[style*='visibility:hidden']",
    "[class*=cookie]", "[id*=cookie]", "[class*=consent]", "[id*=consent]",
    "[class*=gdpr]", "[id*=onetrust]", "[class*=breadcrumb]", "[class*=skip-link]",
    "[class*=sr-only]", "[class*=visually-hidden]",
)
# Without `select`, the first of these that exists is the watched part.
MAIN_CONTENT = ("main", "[role=main]", "article", "body", ":root")
# Without `select`, the page's own header, footer and sidebars are chrome too.
PAGE_CHROME_SELECTORS = ("header", "footer", "aside", "[role=complementary]")
BLOCK_TAGS = frozenset((
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "li", "main", "ol", "p", "pre", "section", "summary", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "br", "html", "center",
))
BLOCK_ROLES = frozenset(("row", "cell", "gridcell", "columnheader", "rowheader", "heading",
                         "listitem", "term", "definition", "paragraph", "table", "list"))
HEADING_TAGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))

# Typography that must not make a change: quotes, dashes, invisible characters.
TYPOGRAPHY = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"',
    "\u00bb": '"', "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-", "\u2026": "...", "\u00ad": None, "\u200b": None,
    "\u200c": None, "\u200d": None, "\u2060": None, "\ufeff": None, "\u200e": None,
    "\u200f": None,
})
SPACES = re.compile(r"\s+")
# "Last updated May 20, 2020", "Updated 2 days ago", "Data last refreshed Mar 2, 2021".
MONTH = (r"(jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?")
DATE_WORDS = (rf"({MONTH}|\d{{1,4}}([-/.]\d{{1,2}}([-/.]\d{{1,4}})?)?|,|\s|at|"
              rf"\d{{1,2}}:\d\d(\s*[ap]m)?|utc|gmt|[ap]m)+")
TIMESTAMP_LINE = re.compile(
    rf"^(\w+\s+){{0,2}}(last\s+)?(updated|modified|refreshed|reviewed|revised|edited|published|"
    rf"posted)(\s+(on|at))?\s*:?\s*(({DATE_WORDS})|(\d+|an?|one|a few)\s+(second|minute|hour|day|"
    rf"week|month|year)s?\s+ago|today|yesterday)\s*\.?$",
    re.IGNORECASE,
)
NUMBER_CELL = re.compile(r"^[<>~≈]?\s*\d[\d.,\s]*%?$|^[-–]$")
# A line this short without a sentence ending is a label or a figure, not a statement.
FRAGMENT_MAX_WORDS = 12
SENTENCE_END = re.compile(r"[.!?:;]\"?$")
# Shares of statements that make a whole section, or the whole page, about the topic.
DENSE_SECTION = 0.5
TITLE_MAX_WORDS = 8
DENSE_PAGE = 0.5


@dataclass
class _Line:
    text: str
    hrefs: list[str]
    heading: bool
    link_only: bool = False  # every word of the line is link text
    body: str | None = None  # the text that counts in comparisons; "" for titles and labels
    figures: bool = False  # a run of short fragments carrying numbers: a table of figures

    def __post_init__(self) -> None:
        if self.body is None:
            self.body = self.text


def normalise(text: str) -> str:
    """NFKC, straight quotes, plain dashes, no invisible characters, single spaces."""
    text = unicodedata.normalize("NFKC", text).translate(TYPOGRAPHY)
    return SPACES.sub(" ", text).strip()


def select_fragments(html: str, select: Sequence[str]) -> list[str] | None:
    """The watched part's HTML, scripts and other never-content removed; None if select fails.

    Done in lxml through parsel because BeautifulSoup over a whole page costs ten times as much.
    """
    root = Selector(text=html)
    if select:
        chosen = [node for css in select for node in root.css(css)]
    else:  # find the content ourselves: the page's main part when it marks one
        chosen = next((found for css in MAIN_CONTENT if (found := root.css(css))), [])
    if not chosen:
        return None
    fragments = []
    for node in chosen:
        for junk in node.xpath(NEVER_CONTENT_XPATH):
            junk.drop()
        fragments.append(node.get())
    return fragments


def extract(html: str, select: Sequence[str], ignore: Sequence[str], topic: Topic) -> Extraction:
    """The watched part's passages and the ones about the topic."""
    fragments = select_fragments(html, select)
    if fragments is None:
        return Extraction(matched=False, passages=(), relevant=())
    return extract_fragments(fragments, whole_page=not select, ignore=ignore, topic=topic)


def extract_fragments(fragments: Sequence[str], whole_page: bool, ignore: Sequence[str],
                      topic: Topic) -> Extraction:
    lines: list[_Line] = []
    dropped: list[str] = []
    for fragment in fragments:
        soup = BeautifulSoup(fragment, "lxml")
        dropped.extend(_remove_chrome(soup, ignore, whole_page))
        lines.extend(_lines(soup))
    kept = [line for line in _drop_link_lists(lines, dropped) if not _is_timestamp(line, dropped)]
    passages = _merge_fragments(kept)
    flags = _relevance(passages, topic)
    relevant = [p for p, keep in zip(passages, flags, strict=True) if keep]
    return Extraction(
        matched=bool(passages),
        passages=tuple(p.text for p in passages),
        relevant=tuple(p.text for p in relevant),
        dropped=tuple(dropped),
        # Headings name the passages but are not statements: a retitled or duplicated heading
        # alone is not a change of the text about the topic.
        key_text=" ".join(p.body for p in relevant if p.body),
    )


def _is_timestamp(line: _Line, dropped: list[str]) -> bool:
    if TIMESTAMP_LINE.match(line.text):
        dropped.append(line.text)
        return True
    return False


def _relevance(passages: list[_Line], topic: Topic) -> list[bool]:
    """Which passages are about the topic.

    A passage is, when the topic's vocabulary matches it (its links' addresses included: a link
    to the law-enforcement section is about it). On a page that is about the topic through and
    through (law-enforcement guidelines), the vocabulary misses passages that are about it all
    the same, such as the address requests must go to: when most of a section's statements
    match, the whole section counts; when most of the page's do, the whole page does. Tables
    of figures count in any section that is about the topic: they are its numbers.
    """
    direct = [topic.relevance.matches(p.text + " " + " ".join(p.hrefs)) for p in passages]
    statements = [i for i, p in enumerate(passages) if p.body]
    if statements and _share(direct, statements) >= DENSE_PAGE:
        return [not topic.relevance.excluded(p.text) for p in passages]
    flags = list(direct)
    for section in _sections(passages):
        body = [i for i in section if passages[i].body]
        dense = bool(body) and _share(direct, body) >= DENSE_SECTION
        about = any(direct[i] for i in section)
        for i in section:
            if dense or (about and passages[i].figures):
                flags[i] = not topic.relevance.excluded(passages[i].text)
    return flags


def _share(flags: list[bool], indexes: list[int]) -> float:
    return sum(flags[i] for i in indexes) / len(indexes)


def _sections(passages: list[_Line]) -> list[list[int]]:
    """Indexes of passages grouped under their nearest heading."""
    sections: list[list[int]] = [[]]
    for index, passage in enumerate(passages):
        if passage.heading and sections[-1]:
            sections.append([])
        sections[-1].append(index)
    return sections


def _remove_chrome(soup: BeautifulSoup, ignore: Sequence[str], whole_page: bool) -> list[str]:
    """Remove ignored and chrome elements; return their text, for `try` to show."""
    removed: list[str] = []
    selectors = list(ignore) + list(CHROME_SELECTORS)
    if whole_page:
        selectors += PAGE_CHROME_SELECTORS
    for css in selectors:
        for element in soup.select(css):
            if element.decomposed or (css in PAGE_CHROME_SELECTORS and _inside_content(element)):
                continue
            text = normalise(element.get_text(" "))
            if text:
                removed.append(text)
            element.decompose()
    return removed


def _inside_content(element: Tag) -> bool:
    """An article's own <header> (its title) is content; the site's header is not."""
    return element.find_parent(("article", "main", "section")) is not None


def _lines(soup: BeautifulSoup) -> list[_Line]:
    """Cut the text into lines at block elements; inline text and links stay on their line."""
    lines: list[_Line] = []
    parts: list[str] = []
    hrefs: list[str] = []
    heading = [False]

    link_parts: list[str] = []

    def flush() -> None:
        text = normalise("".join(parts))
        if text:
            link_only = normalise("".join(link_parts)) == text
            lines.append(_Line(text, list(hrefs), heading[0], link_only))
        parts.clear()
        link_parts.clear()
        hrefs.clear()
        heading[0] = False

    def walk(node: Tag, in_link: bool) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:  # not comments, CDATA, doctypes
                    parts.append(str(child))
                    if in_link:
                        link_parts.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            block = child.name in BLOCK_TAGS or child.get("role") in BLOCK_ROLES
            if block:
                flush()
            if child.name == "a" and child.get("href"):
                hrefs.append(str(child.get("href")))
            if child.name in HEADING_TAGS or child.get("role") == "heading":
                heading[0] = True
            walk(child, in_link or child.name == "a")
            if block:
                flush()

    walk(soup, False)
    flush()
    return lines


def _drop_link_lists(lines: list[_Line], dropped: list[str]) -> list[_Line]:
    """Drop runs of two or more lines that are nothing but links: menus and related-link lists.

    A lone link line stays (it may be the only pointer to the guidelines); a list of them is
    navigation, which sites move around freely (into a <nav>, a card, a sidebar).
    """
    kept: list[_Line] = []
    index = 0
    while index < len(lines):
        end = index
        while end < len(lines) and lines[end].link_only:
            end += 1
        if end - index >= 2:
            dropped.extend(line.text for line in lines[index:end])
            index = end
            continue
        kept.append(lines[index])
        index += 1
    return kept


def _merge_fragments(lines: list[_Line]) -> list[_Line]:
    """Join runs of short label-like lines (table cells, list terms, figures) into one passage."""
    merged: list[_Line] = []
    run: list[_Line] = []

    def close_run() -> None:
        if run:
            text = " ".join(r.text for r in run)
            merged.append(_Line(text, [h for r in run for h in r.hrefs], run[0].heading,
                                body=text if _is_statement(text) else "",
                                figures=any(_has_figures(r.text) for r in run)))
            run.clear()

    for line in lines:
        if _is_fragment(line.text):
            run.append(line)
        else:
            close_run()
            merged.append(line)
    close_run()
    return merged


def _is_statement(run_text: str) -> bool:
    """A run of fragments counts when it carries figures or is long (a table, a list).

    Short runs without figures are titles and labels: sites retitle and restyle them (an <h2>
    becomes a <p class=title>, a page title is captured twice), which is not a change of what
    the page says.
    """
    return len(run_text.split()) > TITLE_MAX_WORDS or any(c.isdigit() for c in run_text)


def _has_figures(text: str) -> bool:
    """A cell that is a number or a share: a table of figures (not a date, not an address)."""
    return bool(NUMBER_CELL.match(text))


def _is_fragment(text: str) -> bool:
    return len(text.split()) <= FRAGMENT_MAX_WORDS and not SENTENCE_END.search(text)
