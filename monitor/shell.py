"""Is a page an empty shell that scripts were meant to fill? Pure: HTML and extraction in.

A plain fetch of a script-built page (or a rendered page whose scripts failed or had not
finished) has no statement about the topic. Read naively, that is a change to `not_mentioned`:
a false stance alert, and a real one missed when the text comes back. So when the relevant text
has no statement (a heading about the topic alone does not count: shells often keep theirs),
the page is checked for the signs of a shell (a loading placeholder, a spinner or
skeleton, an empty app mount point, a `<noscript>` asking for JavaScript, a body with no text
but scripts), and the tracker records an `extraction_failed` incident instead of a change.

A loading placeholder line in the watched part always counts: the page is half-loaded, and the
statement it is still waiting for may be the one that matters. The other signs are only looked
for when there is no statement: a page that states something about the topic is content,
whatever hidden spinners its markup also carries. That keeps the HTML parse off the plain fast
path, and keeps a genuine removal of the statement (the rest of the page intact) a change.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from parsel import Selector

from monitor.extract import MAIN_CONTENT
from monitor.records import Extraction, FetchedPage

# A whole line that only says the content is on its way: "Loading…", "Loading report...",
# "Content is loading, please wait", "Please wait…", "One moment please". A sentence that
# merely contains "please wait" ("Please wait 30 days for a reply.") is not one. The pattern is
# also evaluated by the browser while a rendered page settles (monitor/crawl/render.py), so it
# uses only syntax that Python and JavaScript read alike.
LOADING_LINE_PATTERN = (
    r"^\W*(?:(?:[\w-]+\s+){0,3}loading(?:\s+[\w-]+){0,3}(?:\W+please wait)?"
    r"|please wait|one moment(?: please)?|fetching(?:\s+[\w-]+){0,3})\W*$"
)
LOADING_LINE = re.compile(LOADING_LINE_PATTERN, re.IGNORECASE)
# Class-name parts of spinners and skeleton screens ("spinner", "skeleton-line", "is-loading").
LOADING_CLASS = re.compile(r"(?:^|[-_])(?:spinner|skeleton|shimmer|loader|loading)(?:$|[-_])",
                           re.IGNORECASE)
# Class-name parts that hide an element: a hidden spinner left in the page is not loading.
HIDDEN_CLASS = re.compile(r"(?:^|[-_])(?:hidden|hide|d-none|invisible)(?:$|[-_])", re.IGNORECASE)
# Mount points of single-page apps: empty, they mean the scripts never ran.
APP_ROOT_IDS = ("root", "app", "__next", "__nuxt", "___gatsby", "app-root", "main-app",
                "react-root", "application", "spa-root", "svelte")
APP_ROOT_XPATH = " | ".join(
    [f"descendant-or-self::*[@id='{ident}']" for ident in APP_ROOT_IDS]
    + ["descendant-or-self::app-root", "descendant-or-self::*[@data-reactroot]",
       "descendant-or-self::*[@ng-app]"])
LOADING_MARKER_XPATH = (
    "descendant-or-self::*[@aria-busy='true' or @role='progressbar' or @class]")
# Media and form elements carry loading classes ("lazy-loading") without being placeholders.
NOT_MARKERS = frozenset(("img", "picture", "source", "video", "audio", "iframe", "input",
                         "link", "script", "style", "meta", "template"))
NOSCRIPT_JS = re.compile(r"javascript|\bJS\b|enable scripts", re.IGNORECASE)
VISIBLE_TEXT_XPATH = (
    ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript "
    "or ancestor::template or ancestor::head)]")
# Marks the browser leaves on a rendered page (monitor/crawl/render.py): elements that were
# still visibly loading when rendering stopped, and how many script errors and failed script or
# data requests the page had.
LOADING_MARK = "data-stancewatch-loading"
ERRORS_MARK = "data-stancewatch-script-errors"
# Fewer words than this in the watched part (or the whole body) is "almost no text": less
# than a heading and one sentence.
FEW_WORDS = 20
RENDER_HINT = "; a plain fetch does not run scripts: try `render: true`"


def is_loading_text(text: str) -> bool:
    """Whether a line of text is a loading placeholder rather than content."""
    return bool(LOADING_LINE.match(text.strip()))


def looks_like_empty_shell(html: str, extraction: Extraction, select: Sequence[str] = (),
                           wait_for: str | None = None, rendered: bool = False) -> str | None:
    """Why this page looks like an unfilled shell, or None when it can be read as content.

    `select` is the target's selector (what `extraction` came from); `wait_for` the
    `render_wait` selector of a rendered target, which the page must show; `rendered` says
    whether a browser fetched it (a plain fetch gets a hint to try `render: true`).
    """
    if wait_for and not _matches(html, wait_for):
        return (f"the rendered page never showed {wait_for!r} (its scripts did not finish "
                "within render_timeout)")
    placeholder = next((p for p in extraction.passages if is_loading_text(p)), None)
    if placeholder is not None:
        reason: str | None = f"the watched part shows a loading placeholder ({placeholder[:60]!r})"
    elif extraction.key_text.strip():  # a statement about the topic (headings don't count)
        return None
    else:
        reason = _shell_sign(html, extraction, select, rendered)
    if reason is None:
        return None
    return reason if rendered else reason + RENDER_HINT


def _shell_sign(html: str, extraction: Extraction, select: Sequence[str],
                rendered: bool) -> str | None:
    """The signs of a shell differ by fetch. A plain fetch never ran the scripts, so an empty
    mount point or a `<noscript>` notice means their text is missing. A rendered page did run
    them: the browser marked what was still visibly loading and counted script errors
    (monitor/crawl/render.py), so only those count, and an empty mount point is read as the
    page having nothing to say unless its scripts failed."""
    root = Selector(text=html, type="html")  # as extraction reads it, XML declaration or not
    watched = _watched(root, select)
    if rendered:
        if any(part.xpath(f"descendant-or-self::*[@{LOADING_MARK}]") for part in watched):
            return ("the watched part was still loading (a spinner or skeleton) when rendering "
                    "stopped")
    elif any(_loading_marker(node) for part in watched for node in
             part.xpath(LOADING_MARKER_XPATH)):
        return "the watched part shows a spinner or skeleton instead of text"
    errors = _script_errors(root)
    if not rendered or errors:
        for part in watched:
            for mount in part.xpath(APP_ROOT_XPATH):
                if not _words(mount):
                    failed = f" and {_count(errors, 'script error')} occurred" if errors else ""
                    return (f"the page's app root ({_describe(mount)}) is empty{failed}: its "
                            "scripts build it")
    content_words = sum(len(p.split()) for p in extraction.passages)
    noscript = None if rendered else _noscript_message(root)
    if noscript and content_words < FEW_WORDS:
        return f"the page asks for JavaScript (<noscript>: {noscript[:80]!r})"
    body = root.css("body") or [root]
    if _words(body[0]) < FEW_WORDS and root.xpath("//script"):
        return "the page has almost no text, only scripts that would build it"
    return None


def _script_errors(root: Selector) -> int:
    value = root.xpath(f"/html/@{ERRORS_MARK}").get()
    return int(value) if value and value.isdigit() else 0


def _matches(html: str, css: str) -> bool:
    return bool(Selector(text=html, type="html").css(css))


def _watched(root: Selector, select: Sequence[str]) -> list[Selector]:
    """The watched part as extraction finds it (extract.select_fragments), scripts kept."""
    if select:
        return [node for css in select for node in root.css(css)]
    return next((list(found) for css in MAIN_CONTENT if (found := root.css(css))), [])


def _loading_marker(node: Selector) -> bool:
    """A visible spinner, skeleton or busy region with no text of its own."""
    classes = (node.attrib.get("class") or "").split()
    busy = node.attrib.get("aria-busy") == "true" or node.attrib.get("role") == "progressbar"
    if not busy and not any(LOADING_CLASS.search(c) for c in classes):
        return False
    if node.xpath("name()").get() in NOT_MARKERS:
        return False
    if _hidden(node) or node.xpath("ancestor::*[@hidden or @aria-hidden='true']"):
        return False
    return busy or _words(node) == 0 or is_loading_text(" ".join(node.xpath(".//text()").getall()))


def _hidden(node: Selector) -> bool:
    attrib = node.attrib
    style = (attrib.get("style") or "").replace(" ", "").lower()
    return ("hidden" in attrib or attrib.get("aria-hidden") == "true"
            or "display:none" in style or "visibility:hidden" in style
            or any(HIDDEN_CLASS.search(c) for c in (attrib.get("class") or "").split()))


def _words(node: Selector) -> int:
    return sum(len(text.split()) for text in node.xpath(VISIBLE_TEXT_XPATH).getall())


def _noscript_message(root: Selector) -> str | None:
    for node in root.xpath("//noscript"):
        text = " ".join(" ".join(node.xpath(".//text()").getall()).split())
        if NOSCRIPT_JS.search(text):
            return text
    return None


def _describe(node: Selector) -> str:
    ident = node.attrib.get("id")
    tag = node.xpath("name()").get() or "element"
    return f"<{tag} id={ident!r}>" if ident else f"<{tag}>"


@dataclass(frozen=True)
class Fetch:
    """One way of fetching a page (plain or rendered) and what it gave, for the comparison."""

    page: FetchedPage
    extraction: Extraction
    stance: str | None = None


@dataclass(frozen=True)
class RenderComparison:
    """What a browser adds to a page, for `stancewatch try URL --render`."""

    needs_render: bool
    verdict: str  # one sentence for the user
    only_rendered: tuple[str, ...]  # relevant passages only the rendered page has
    only_plain: tuple[str, ...]  # relevant passages only the plain fetch has
    plain_shell: str | None  # why the plain page looks like a shell, if it does
    summary: tuple[str, ...] = ()  # one line per fetch: size, time, passages, stance

    def lines(self, shown: int = 12, width: int = 160) -> list[str]:
        """The comparison as indented lines of text, ready to print."""
        lines = [f"  {line}" for line in self.summary]
        if self.plain_shell:
            lines.append(f"  the plain page looks like an empty shell: {self.plain_shell}")
        for sign, where, passages in (("+", "rendered page", self.only_rendered),
                                      ("-", "plain fetch", self.only_plain)):
            if passages:
                lines.append(f"  about the topic, only in the {where}:")
                lines += [f"    {sign} {_cut(p, width)}" for p in passages[:shown]]
                if len(passages) > shown:
                    lines.append(f"    … and {len(passages) - shown} more")
        lines.append(f"  {self.verdict}")
        return lines


def compare_renderings(plain: Fetch | None, rendered: Fetch, select: Sequence[str] = (),
                       plain_failed: str | None = None) -> RenderComparison:
    """Compare a plain and a rendered fetch of one page and say which one to watch.

    `plain` is None when the plain fetch failed (`plain_failed` says why): then only the
    rendered page can be watched.
    """
    summary = tuple(_summary(label, fetch) for label, fetch in (("plain", plain),
                                                                ("rendered", rendered)) if fetch)
    if plain is None:
        why = f" ({plain_failed})" if plain_failed else ""
        return RenderComparison(True, f"The plain fetch failed{why}: only the rendered page "
                                "can be watched: use `render: true`.", rendered.extraction.relevant,
                                (), None, summary)
    plain_set, rendered_set = set(plain.extraction.relevant), set(rendered.extraction.relevant)
    only_rendered = tuple(p for p in rendered.extraction.relevant if p not in plain_set)
    only_plain = tuple(p for p in plain.extraction.relevant if p not in rendered_set)
    shell = looks_like_empty_shell(plain.page.text or "", plain.extraction, select,
                                   rendered=True)
    if not plain.extraction.matched and not rendered.extraction.matched:
        needs, verdict = False, "Neither fetch finds the watched part: check `select`."
    elif only_rendered and (shell or not plain.extraction.relevant):
        needs, verdict = True, ("Only the rendered page has the text about the topic: this "
                                "page needs `render: true`.")
    elif only_rendered or (shell and not only_plain):
        needs, verdict = True, ("The rendered page has text about the topic that the plain "
                                "fetch lacks: use `render: true`.")
    elif not only_plain:
        needs, verdict = False, ("The plain fetch already has the same text about the topic: "
                                 "leave `render` off (a browser costs far more per check).")
    else:
        needs, verdict = False, ("The plain fetch has text about the topic that the rendered "
                                 "page lacks (its scripts remove or replace it): compare the "
                                 "passages above before choosing.")
    return RenderComparison(needs, verdict, only_rendered, only_plain, shell, summary)


def _summary(label: str, fetch: Fetch) -> str:
    found = fetch.extraction
    stance = f", stance {fetch.stance}" if fetch.stance else ""
    return (f"{label:<9}{len(fetch.page.body):>9,} bytes in {fetch.page.duration:5.2f} s, "
            f"{_count(len(found.passages), 'passage')}, {len(found.relevant)} about the "
            f"topic{stance}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
