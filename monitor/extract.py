"""HTML -> the watched part's passages -> the relevant text. Pure: values in, values out.

Steps: select the watched part with lxml (Scrapy's fast selectors) and drop scripts and
other never-content subtrees there; remove `ignore` selectors, navigation, cookie/consent
banners and hidden elements (in lxml, or in BeautifulSoup when a selector needs soupsieve);
cut the text into lines at block elements (from lxml's tree, which cuts the lines
BeautifulSoup would: docs/decisions/0006 and 0008); normalise each line; drop timestamp
lines; merge runs of short fragments (table cells, definition lists, figure labels) into one
passage so that a redesign from <table> to <dl> or <div role=row> yields the same passages;
keep the passages the topic's vocabulary recognises.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import zip_longest
from pathlib import Path
from typing import TYPE_CHECKING

import ahocorasick_rs
import cssselect
from lxml import etree
from parsel import css2xpath

from monitor.diff import single_spaced
from monitor.prefixes import find_needles
from monitor.records import Extraction
from monitor.topics import Relevance, Topic

if TYPE_CHECKING:
    from bs4 import BeautifulSoup, Tag

# Subtrees that are never page content; removed in lxml before BeautifulSoup sees the fragment.
NEVER_CONTENT = ("script", "style", "noscript", "template", "svg", "iframe", "object", "embed",
                 "canvas", "video", "audio", "picture", "img", "link", "meta", "head")
_NEVER_CONTENT = etree.XPath(" | ".join(f"descendant-or-self::{tag}" for tag in NEVER_CONTENT))
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
# Inside these, a header or footer belongs to the content (an article's title).
CONTENT_TAGS = ("article", "main", "section")
# HTML compares these attributes' values case-insensitively (soupsieve follows it, XPath not).
CASE_INSENSITIVE_ATTRIBUTES = frozenset((
    "accept", "accept-charset", "align", "alink", "axis", "bgcolor", "charset", "checked",
    "clear", "codetype", "color", "compact", "declare", "defer", "dir", "direction", "disabled",
    "enctype", "face", "frame", "hreflang", "http-equiv", "lang", "language", "link", "media",
    "method", "multiple", "nohref", "noresize", "noshade", "nowrap", "readonly", "rel", "rev",
    "rules", "scope", "scrolling", "selected", "shape", "target", "text", "type", "valign",
    "valuetype", "vlink",
))
# BeautifulSoup splits these into word lists and soupsieve matches them re-joined by one space.
WORD_LIST_ATTRIBUTES = frozenset(("class", "rel", "rev", "accept-charset", "headers",
                                  "accesskey", "dropzone"))
_TRANSLATOR = cssselect.HTMLTranslator()
# Text lxml writes out as it is in a tag or attribute (no entity, no %-escape).
VERBATIM = re.compile(r"^[A-Za-z0-9_.:; -]+$")
# Attributes lxml writes with URL escaping: their values are not relied on verbatim.
URI_ATTRIBUTES = frozenset(("href", "src", "action", "name", "cite", "background", "longdesc",
                            "usemap", "formaction", "poster", "data", "codebase", "classid",
                            "profile", "manifest", "ping", "itemid", "itemtype", "srcset"))
BLOCK_TAGS = frozenset((
    "address", "article", "aside", "blockquote", "body", "caption", "dd", "details", "div",
    "dl", "dt", "fieldset", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5",
    "h6", "header", "hr", "li", "main", "ol", "p", "pre", "section", "summary", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul", "br", "html", "center",
))
BLOCK_ROLES = frozenset(("row", "cell", "gridcell", "columnheader", "rowheader", "heading",
                         "listitem", "term", "definition", "paragraph", "table", "list"))
# A watched part whose root is one of these is cut into lines where it is, in the page's tree:
# its HTML, parsed again on its own, gives the same lines (tests/test_extract.py).
WALKED_IN_PLACE = BLOCK_TAGS | {"span", "font", "b", "i", "em", "strong", "small", "label"}
HEADING_TAGS = frozenset(("h1", "h2", "h3", "h4", "h5", "h6"))
# BeautifulSoup keeps the text inside these apart from the page's text (ruby annotations and
# code), and so does the lxml walk.
SKIPPED_TEXT = frozenset(("rt", "rp", "style", "script", "template"))

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
    if not text.isascii():  # NFKC and the typography table only change other characters
        text = unicodedata.normalize("NFKC", text).translate(TYPOGRAPHY)
    return single_spaced(text)  # a fraction of the cost of SPACES.sub over a page's text


def select_fragments(html: str, select: Sequence[str]) -> list[str] | None:
    """The watched part's HTML, scripts and other never-content removed; None if select fails."""
    chosen = _chosen(html, select)
    return None if chosen is None else [_html_of(node) for node in chosen]


def _chosen(html: str, select: Sequence[str]) -> list[etree._Element] | None:
    """The watched part's elements in the page's lxml tree, with never-content removed; None
    if `select` matches nothing (or, without it, the page has no content element).

    Selected in lxml with Scrapy's selectors (parsel's CSS-to-XPath translation): BeautifulSoup
    over a whole page costs ten times as much.
    """
    root = _page_root(html)
    if root is None:
        return None
    if select:
        chosen = [node for css in select for node in _select(css)(root)]
    else:  # find the content ourselves: the page's main part when it marks one
        chosen = next((found for css in MAIN_CONTENT if (found := _select(css)(root))), [])
    chosen = [node for node in chosen if isinstance(node, etree._Element)]
    if not chosen:
        return None
    for node in chosen:
        for junk in _NEVER_CONTENT(node):
            _drop(junk)
    return chosen


def _page_root(html: str) -> etree._Element | None:
    """The page's lxml tree, read as HTML whatever it declares.

    As parsel reads a page (NUL characters removed, bytes in UTF-8, no limits on depth or text
    size), except that a page starting with an XML declaration is HTML too: parsel reads it
    as XML, where an XHTML page's elements carry a namespace no CSS selector names and one
    stray "&" loses text.
    """
    body = html.strip().replace("\x00", "").encode("utf-8", "replace") or b"<html/>"
    parser = etree.HTMLParser(recover=True, encoding="utf-8", huge_tree=True)
    try:
        return etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError:
        return None


def _html_of(node: etree._Element) -> str:
    """An element's HTML without the text after it, as parsel's Selector.get() writes it."""
    return etree.tostring(node, method="html", encoding="unicode", with_tail=False)


@lru_cache(maxsize=1024)  # the config's selectors
def _select(css: str) -> etree.XPath:
    return etree.XPath(css2xpath(css))


@dataclass(frozen=True)
class WatchedPart:
    """The watched part of a page, cleaned and ready to be cut into lines.

    Equal fragments under equal rules give an equal extraction: the tracker compares
    `digest()` with the last one to skip the rest on pages whose watched part is unchanged
    (rotating tokens, nonces and timestamps outside it, or inside `ignore`).
    """

    fragments: tuple[str, ...]
    dropped: tuple[str, ...] = ()
    # Removals left to BeautifulSoup, in order, when lxml cannot do them exactly alike.
    soup_selectors: tuple[str, ...] = ()
    # For each fragment, a tree that cuts into the lines `_parse(fragment)` cuts into, when one
    # is at hand (None: parse the fragment): the element in the page's tree, or the fragment's
    # tree left by cleaning. Parsing the fragment again was a tenth of reading a page.
    trees: tuple[etree._Element | None, ...] = field(default=(), compare=False, repr=False)

    def digest(self, topic: Topic) -> str:
        """A fingerprint of what extraction reads, its rules included (this module's code and
        the topic's vocabulary): new rules must read a page again, never reuse a digest."""
        hasher = hashlib.sha256(_rules_fingerprint(topic.relevance).encode())
        for part in (*self.soup_selectors, "", *self.fragments):
            hasher.update(part.encode("utf-8", "surrogatepass"))
            hasher.update(b"\x00")
        return hasher.hexdigest()


def watched_part(html: str, select: Sequence[str], ignore: Sequence[str]) -> WatchedPart | None:
    """Select the watched part and remove `ignore` and chrome in lxml; None if select fails.

    soupsieve's selector matching was two thirds of the cost of reading a page, so removals
    run as XPath in lxml on the very tree BeautifulSoup would build (the same parser fed the
    same fragment). Selectors whose meaning could differ there (pseudo-classes, attributes
    HTML compares case-insensitively) keep every removal in BeautifulSoup, as before.
    """
    chosen = _chosen(html, select)
    if chosen is None:
        return None
    fragments = [_html_of(node) for node in chosen]
    selectors = _removal_selectors(ignore, whole_page=not select)
    if not all(_same_in_lxml(css) for css in ignore):
        return WatchedPart(tuple(fragments), soup_selectors=selectors)
    dropped: list[str] = []
    cleaned: list[str] = []
    trees: list[etree._Element | None] = []
    for node, fragment in zip(chosen, fragments, strict=True):
        tree = _clean_in_lxml(fragment, selectors, dropped)
        if tree is None:  # nothing to remove: the fragment as it is
            cleaned.append(fragment)
            trees.append(node if node.tag in WALKED_IN_PLACE else None)
        else:
            cleaned.append(etree.tostring(tree, method="html", encoding="unicode"))
            trees.append(tree)
    return WatchedPart(tuple(cleaned), tuple(dropped), trees=tuple(trees))


def extract(html: str, select: Sequence[str], ignore: Sequence[str], topic: Topic) -> Extraction:
    """The watched part's passages and the ones about the topic."""
    part = watched_part(html, select, ignore)
    if part is None:
        return Extraction(matched=False, passages=(), relevant=())
    return extract_part(part, topic)


def extract_part(part: WatchedPart, topic: Topic) -> Extraction:
    """The passages of a selected and cleaned watched part, and the ones about the topic.

    BeautifulSoup reads the part only when removals are left to its selectors (soupsieve);
    otherwise the lines are cut from lxml's tree of the fragment, which is the same tree (or
    from a tree that cuts the same lines: `WatchedPart.trees`).
    """
    lines: list[_Line] = []
    dropped: list[str] = list(part.dropped)
    for fragment, tree in zip_longest(part.fragments, part.trees):
        if part.soup_selectors:
            # Imported here: most passes never need it (a tenth of a second).
            from bs4 import BeautifulSoup

            soup = BeautifulSoup(fragment, "lxml")
            dropped.extend(_remove_chrome(soup, part.soup_selectors))
            lines.extend(_lines(soup))
        else:
            root = tree if tree is not None else _parse(fragment)
            lines.extend(_tree_lines(root) if root is not None else ())
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


# --- removals in lxml -------------------------------------------------------------------


def _removal_selectors(ignore: Sequence[str], whole_page: bool) -> tuple[str, ...]:
    """What is removed from the watched part, in the order it is removed."""
    selectors = (*ignore, *CHROME_SELECTORS)
    return (*selectors, *PAGE_CHROME_SELECTORS) if whole_page else selectors


@cache
def _same_in_lxml(css: str) -> bool:
    """Whether this selector matches in lxml exactly what soupsieve matches in BeautifulSoup.

    True for the plain kinds: elements, classes, ids, combinators and attribute tests, except
    on attributes HTML compares case-insensitively (`type`, `lang`, ...) and whole-value tests
    on the attributes BeautifulSoup splits into word lists (`class`, `rel`, ...).
    """
    try:
        parsed = cssselect.parse(css)
        _xpath(css)
    except cssselect.SelectorError:
        return False
    return all(sel.pseudo_element is None and _plain(sel.parsed_tree) for sel in parsed)


def _plain(tree: object) -> bool:
    if isinstance(tree, cssselect.parser.CombinedSelector):
        return _plain(tree.selector) and _plain(tree.subselector)
    if isinstance(tree, cssselect.parser.Element):
        return tree.namespace is None
    if isinstance(tree, cssselect.parser.Class | cssselect.parser.Hash):
        return _plain(tree.selector)
    if isinstance(tree, cssselect.parser.Attrib):
        name = tree.attrib.lower()
        word_test = tree.operator in ("exists", "*=", "~=")
        return (tree.namespace is None and tree.flag is None and _plain(tree.selector)
                and name not in CASE_INSENSITIVE_ATTRIBUTES
                and (name not in WORD_LIST_ATTRIBUTES or word_test)
                and not (tree.value and SPACES.search(str(tree.value.value))))
    return False


@cache
def _xpath(css: str) -> etree.XPath:
    return etree.XPath(_TRANSLATOR.css_to_xpath(css))


def _parse(fragment: str) -> etree._Element | None:
    """lxml's tree of the fragment, fed as BeautifulSoup's lxml builder feeds it, so the trees
    are the same; None when there is nothing to parse."""
    parser = etree.HTMLParser(recover=True)
    parser.feed(fragment)
    try:
        return parser.close()
    except etree.XMLSyntaxError:
        return None


def _clean_in_lxml(fragment: str, selectors: Sequence[str],
                   dropped: list[str]) -> etree._Element | None:
    """The fragment's tree with what the selectors match removed; None when nothing can match
    (the fragment stays as it is)."""
    present = _words_in(fragment, tuple(selectors))
    selectors = [css for css in selectors if _may_match(css, present)]
    if not selectors:  # the usual case for a selected part: nothing to parse or remove
        return None
    root = _parse(fragment)
    if root is None:  # nothing to parse: nothing to remove either
        return None
    for css in selectors:
        page_chrome = css in PAGE_CHROME_SELECTORS
        for element in _xpath(css)(root):
            if not _attached(element, root) or (page_chrome and _in_content(element)):
                continue
            text = normalise(" ".join(element.itertext()))
            if text:
                dropped.append(text)
            _drop(element)
    return root


def _may_match(css: str, present: frozenset[str]) -> bool:
    """False when `css` cannot match anything in the HTML: a word it needs is not `present`.

    A quick test that saves most XPath runs: a tag matched needs "<tag" in the HTML, a class,
    id, attribute name or value needs its text there (lxml writes them out verbatim; words
    with characters it would escape are not relied on).
    """
    groups = _needles(css)
    return groups is None or any(all(word in present for word in words) for words in groups)


def _words_in(html: str, selectors: tuple[str, ...]) -> frozenset[str]:
    """The words the selectors' matches need that occur in the HTML: one pass over it
    (ahocorasick_rs) instead of one `in` scan per word, which was half the cost of cleaning."""
    found = _word_automaton(selectors)
    if found is None:
        return frozenset()
    automaton, words = found
    return frozenset(words[number] for number, _, _ in find_needles(automaton, html))


@lru_cache(maxsize=256)  # one per ignore list of the config
def _word_automaton(
        selectors: tuple[str, ...]) -> tuple[ahocorasick_rs.AhoCorasick, list[str]] | None:
    words = sorted({word for css in selectors for words in _needles(css) or () for word in words})
    if not words:
        return None
    return ahocorasick_rs.AhoCorasick(words), words


@cache
def _needles(css: str) -> tuple[tuple[str, ...], ...] | None:
    """For each selector of the group, the words its match needs; None if one gives none."""
    groups = []
    for selector in cssselect.parse(css):
        words = _words(selector.parsed_tree)
        if not words:
            return None
        groups.append(tuple(words))
    return tuple(groups)


def _words(tree: object) -> list[str]:
    if isinstance(tree, cssselect.parser.CombinedSelector):
        return _words(tree.selector) + _words(tree.subselector)
    if isinstance(tree, cssselect.parser.Element):
        name = (tree.element or "*").lower()
        return [] if name == "*" or not VERBATIM.match(name) else [f"<{name}"]
    if isinstance(tree, cssselect.parser.Class | cssselect.parser.Hash):
        name = tree.class_name if isinstance(tree, cssselect.parser.Class) else tree.id
        return _words(tree.selector) + ([name] if VERBATIM.match(name) else [])
    if isinstance(tree, cssselect.parser.Attrib):
        name = tree.attrib.lower()
        words = _words(tree.selector) + ([name] if VERBATIM.match(name) else [])
        value = str(tree.value.value) if tree.value is not None else ""
        if value and name not in URI_ATTRIBUTES and VERBATIM.match(value):
            words.append(value)
        return words
    return []


def _attached(element: etree._Element, root: etree._Element) -> bool:
    """Still in the tree: not inside something removed before it."""
    parent = element.getparent()
    while parent is not None:
        element, parent = parent, parent.getparent()
    return element is root


def _in_content(element: etree._Element) -> bool:
    """An article's own <header> (its title) is content; the site's header is not."""
    return any(a.tag in CONTENT_TAGS for a in element.iterancestors())


def _drop(element: etree._Element) -> None:
    """Remove the element but keep the text that follows it, as BeautifulSoup's decompose."""
    parent = element.getparent()
    if parent is None:
        element.clear()
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


@cache
def _rules_fingerprint(relevance: Relevance) -> str:
    """This module's source and the topic's vocabulary: what extraction's output depends on."""
    try:
        code = hashlib.sha256(Path(__file__).read_bytes())
    except OSError:  # installed without sources: trust digests of this process only
        code = hashlib.sha256(os.urandom(16))
    code.update(repr(relevance).encode())
    return code.hexdigest()


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
    texts = [p.text + " " + " ".join(p.hrefs) for p in passages]
    verdicts = topic.relevance.judge(texts, [len(p.text) for p in passages])
    direct = [verdict.relevant for verdict in verdicts]
    statements = [i for i, p in enumerate(passages) if p.body]
    if statements and _share(direct, statements) >= DENSE_PAGE:
        return [not verdict.excluded for verdict in verdicts]
    flags = list(direct)
    for section in _sections(passages):
        body = [i for i in section if passages[i].body]
        dense = bool(body) and _share(direct, body) >= DENSE_SECTION
        about = any(direct[i] for i in section)
        for i in section:
            if dense or (about and passages[i].figures):
                flags[i] = not verdicts[i].excluded
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


def _remove_chrome(soup: BeautifulSoup, selectors: Sequence[str]) -> list[str]:
    """Remove ignored and chrome elements in BeautifulSoup; return their text, for `try`."""
    removed: list[str] = []
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
    return element.find_parent(CONTENT_TAGS) is not None


class _LineCutter:
    """Collects text into lines: inline text and links stay on their line, blocks end it."""

    def __init__(self) -> None:
        self.lines: list[_Line] = []
        self.parts: list[str] = []
        self.link_parts: list[str] = []
        self.hrefs: list[str] = []
        self.heading = False

    def text(self, text: str, in_link: bool) -> None:
        self.parts.append(text)
        if in_link:
            self.link_parts.append(text)

    def element(self, name: str, role: object, href: object) -> bool:
        """Note an element's start; whether it is a block (which ends the line before it)."""
        block = name in BLOCK_TAGS or role in BLOCK_ROLES
        if block:
            self.flush()
        if name == "a" and href:
            self.hrefs.append(str(href))
        if name in HEADING_TAGS or role == "heading":
            self.heading = True
        return block

    def flush(self) -> None:
        if self.parts:
            joined = "".join(self.parts)
            # Most blocks end a line of nothing but white space: skip normalising it.
            text = "" if joined.isspace() else normalise(joined)
            if text:
                link_only = bool(self.link_parts) and normalise("".join(self.link_parts)) == text
                # The line keeps this list: the next line's links go into a new one.
                self.lines.append(_Line(text, self.hrefs, self.heading, link_only))
                self.hrefs = []
            # Cleared in place: _tree_lines holds these two lists.
            self.parts.clear()
            self.link_parts.clear()
        self.hrefs.clear()
        self.heading = False


def _lines(soup: BeautifulSoup) -> list[_Line]:
    """Cut the soup's text into lines at block elements."""
    from bs4 import NavigableString, Tag

    cut = _LineCutter()

    def walk(node: Tag, in_link: bool) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:  # not comments, CDATA, doctypes, scripts
                    cut.text(str(child), in_link)
                continue
            if not isinstance(child, Tag):
                continue
            block = cut.element(child.name, child.get("role"), child.get("href"))
            walk(child, in_link or child.name == "a")
            if block:
                cut.flush()

    walk(soup, False)
    cut.flush()
    return cut.lines


def _tree_lines(root: etree._Element) -> list[_Line]:
    """`_lines` over lxml's tree of the same fragment: the same lines, without building a soup.

    BeautifulSoup builds its tree from the events of this very parser, so the two trees hold
    the same elements and text; building the soup in Python was most of the cost of reading a
    page. The differences are mirrored: lxml keeps an element's text in `.text` and the text
    after it in `.tail`, and BeautifulSoup files the text inside the elements of
    `SKIPPED_TEXT` under its own string classes, which `_lines` leaves out.
    tests/test_extract.py holds both walkers to the same lines.

    The walk is lxml's iterwalk, a loop rather than a recursion, with the cutter's work for
    text and elements written out here: calls per element were a fifth of reading a page.
    """
    cut = _LineCutter()
    parts, link_parts = cut.parts, cut.link_parts
    links = 0  # <a> elements open around the text
    skipped = 0  # SKIPPED_TEXT elements open around it
    blocks: list[bool] = []  # for each open element, whether it ends the line around it
    for event, node in etree.iterwalk(root, events=("start", "end", "comment", "pi")):
        if event == "start":
            tag = node.tag
            role = node.get("role")
            block = tag in BLOCK_TAGS or role in BLOCK_ROLES
            if block and (parts or cut.hrefs or cut.heading):  # else flush() has nothing to do
                cut.flush()
            if tag == "a":
                links += 1
                href = node.get("href")
                if href:
                    cut.hrefs.append(href)
            if tag in HEADING_TAGS or role == "heading":
                cut.heading = True
            if tag in SKIPPED_TEXT:
                skipped += 1
            blocks.append(block)
            text = node.text
        else:
            if event == "end":  # comments and processing instructions only have a tail
                if blocks.pop() and (parts or cut.hrefs or cut.heading):
                    cut.flush()
                tag = node.tag
                links -= tag == "a"
                skipped -= tag in SKIPPED_TEXT
            text = node.tail if node is not root else None
        if text and not skipped:
            parts.append(text)
            if links:
                link_parts.append(text)
    cut.flush()
    return cut.lines


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
            if run:
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
    return _word_count(run_text) > TITLE_MAX_WORDS or any(map(str.isdigit, run_text))


def _has_figures(text: str) -> bool:
    """A cell that is a number or a share: a table of figures (not a date, not an address)."""
    return bool(NUMBER_CELL.match(text))


def _is_fragment(text: str) -> bool:
    return _word_count(text) <= FRAGMENT_MAX_WORDS and not SENTENCE_END.search(text)


def _word_count(text: str) -> int:
    """Words of a normalised line (single spaces, no others): counted, not split."""
    return text.count(" ") + 1
