"""`stancewatch try URL`: fetch one page now and show what would be watched. Stores nothing.

A reporter who finds a new page wants to know, before adding it: does Stancewatch see the
statement, which stance does it read, and what would it ignore? So this prints the watched part,
the relevant passages, the stance with its evidence, the rest of the watched part (changes there
are recorded, never alerted), what was dropped as noise, and a config entry that the real
config loader accepts, ready to paste into targets.yaml.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import click
import yaml
from pydantic import ValidationError

from monitor.config import ConfigError, TargetEntry
from monitor.extract import MAIN_CONTENT, extract, select_fragments
from monitor.pagecheck import problem
from monitor.records import Extraction, FetchedPage, Reading
from monitor.shell import Fetch, compare_renderings, looks_like_empty_shell
from monitor.stance import read_stance
from monitor.topics import DEFAULT_TOPIC, Topic, available_topics, load_topic

SHOWN_DROPPED = 12
PLAIN, RENDERED = "try", "try-rendered"
SHOWN_ELSEWHERE = 8
LINE_MAX = 100
ID_MAX = 48
SHORT_SEGMENT = 12
# Path segments that say nothing about a page: left out of the suggested id.
GENERIC_SEGMENTS = frozenset((
    "en", "en-us", "en-gb", "intl", "global", "page", "pages", "legal", "help", "answer",
    "policies", "rules-and-policies", "docs", "reports", "report", "country", "data",
    "index", "index.html", "about", "hc", "articles", "us", "www",
))
# Second-level labels of country domains (bbc.co.uk): the name is the label before them.
SECOND_LEVEL = frozenset(("co", "com", "org", "net", "gov", "ac", "edu"))
SITE_NAME = re.compile(r"""<meta[^>]+property=["']og:site_name["'][^>]*>""", re.IGNORECASE)
CONTENT_ATTR = re.compile(r"""content=["']([^"']+)["']""", re.IGNORECASE)


def try_page(url: str, select: Sequence[str], ignore: Sequence[str], topic_name: str,
             render: bool = False) -> int:
    """Print what would be watched on `url`; return the exit code (1 when nothing usable came
    back). A bad URL, selector or topic raises ConfigError before anything is fetched.

    With `render`, one crawl fetches the page plainly and through the headless browser; the
    report shows the rendered page and what the browser added, so the user can tell whether
    the target needs `render: true` (which costs far more per check)."""
    topic = _topic(topic_name)
    _validate(url, select, ignore, topic.name)
    pages = _fetch(url, render)
    page = pages.get(RENDERED if render else PLAIN)
    if page is None:
        click.echo(f"{url}: nothing came back", err=True)
        return 1
    fault = problem(page)
    if fault is not None:
        click.echo(f"{url}: {fault.reason}", err=True)
        return 1
    html = page.text or ""
    extraction = extract(html, select, ignore, topic)
    if not extraction.matched:
        what = f"select {', '.join(select)} matched nothing" if select else "no readable text"
        shell = looks_like_empty_shell(html, extraction, select, rendered=render)
        click.echo(f"{url}: {what}; nothing would be watched" + (f" ({shell})" if shell else ""),
                   err=True)
        return 1
    reading = read_stance(extraction.relevant, topic)
    _print_fetch(page)
    _print_watched_part(html, select)
    _print_relevant(extraction, topic)
    _print_stance(reading, topic)
    _print_elsewhere(extraction)
    _print_dropped(extraction, bool(select))
    entry = _entry(url, html, select, ignore, topic.name)
    if render:
        if _print_render_difference(pages.get(PLAIN), Fetch(page, extraction, reading.stance),
                                    select, ignore, topic):
            entry["render"] = True
    elif shell := looks_like_empty_shell(html, extraction, select):
        click.secho(f"\nWarning: {shell}; `try --render` shows what a browser sees.",
                    fg="yellow")
    _print_entry(entry)
    click.echo("\nNothing was stored.")
    return 0


# --- before fetching -----------------------------------------------------------------------


def _topic(name: str) -> Topic:
    if name not in available_topics():
        raise ConfigError(f"--topic {name!r}: unknown topic; use one of "
                          f"{', '.join(available_topics())}")
    return load_topic(name)


def _validate(url: str, select: Sequence[str], ignore: Sequence[str], topic: str) -> None:
    """Check URL and selectors with the config's own rules, so a typo fails here, not later
    in targets.yaml (and nothing is fetched for a URL that could never be watched)."""
    entry = {"id": "try", "company": "try", "url": url, "select": list(select),
             "ignore": list(ignore), "topic": topic}
    try:
        TargetEntry.model_validate(entry)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(p) for p in error["loc"] if not isinstance(p, int))
        option = {"url": "URL"}.get(key, f"--{key}")
        raise ConfigError(f"{option}: {str(error['msg']).removeprefix('Value error, ')}"
                          ) from None


def _fetch(url: str, render: bool) -> dict[str, FetchedPage]:
    """One polite crawl like `check`'s (robots.txt included): the plain fetch, and with
    `render` a rendered one beside it."""
    from monitor.crawl.runner import fetch_once
    from spiders.page import PageRequest

    requests = [PageRequest(PLAIN, url)]
    if render:
        requests.append(PageRequest(RENDERED, url, render=True))
    return fetch_once(requests)


def _print_render_difference(plain: FetchedPage | None, rendered: Fetch,
                             select: Sequence[str], ignore: Sequence[str], topic: Topic) -> bool:
    """Show what the browser added to the plain fetch; True when the page needs it."""
    fault = problem(plain) if plain is not None else None
    if plain is None or fault is not None:
        comparison = compare_renderings(None, rendered, select,
                                        plain_failed=fault.reason if fault else "no answer")
    else:
        found = extract(plain.text or "", select, ignore, topic)
        stance = read_stance(found.relevant, topic).stance if found.matched else None
        comparison = compare_renderings(Fetch(plain, found, stance), rendered, select)
    _heading("Plain fetch vs rendered page:")
    for line in comparison.lines():
        click.echo(line)
    return comparison.needs_render


# --- the report ----------------------------------------------------------------------------


def _heading(text: str) -> None:
    click.secho(f"\n{text}", bold=True)


def _short(text: str, limit: int = LINE_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _print_fetch(page: FetchedPage) -> None:
    moved = f", redirected from {page.url}" if page.final_url != page.url else ""
    click.secho(f"Fetched {page.final_url} (HTTP {page.status}, {len(page.body):,} bytes{moved})",
                bold=True)


def _print_watched_part(html: str, select: Sequence[str]) -> None:
    """Say which part of the page is compared: a chosen one, or the one found automatically."""
    if select:
        count = len(select_fragments(html, select) or ())
        click.echo(f"Watched part: {', '.join(select)} ({count} element(s) matched)")
        return
    found = next((css for css in MAIN_CONTENT if select_fragments(html, [css]) is not None),
                 "the whole page")
    click.echo(f"Watched part: <{found}>, found automatically: the page's main content, without "
               "its header,\nfooter, sidebars and banners (--select CSS chooses another part).")


def _print_relevant(extraction: Extraction, topic: Topic) -> None:
    _heading(f"Relevant passages ({len(extraction.relevant)} of {len(extraction.passages)} in "
             f"the watched part, topic {topic.name}):")
    if not extraction.relevant:
        click.echo(f"  none: nothing in the watched part is about {topic.title.lower()}. Try "
                   "another --select, another --topic, or another page.")
    for passage in extraction.relevant:
        click.echo(f"  • {passage}")


def _print_stance(reading: Reading, topic: Topic) -> None:
    if not topic.has_stances:
        _heading("Stance: none read")
        click.echo(f"  Topic {topic.name} has no stance vocabulary: a change to the passages "
                   "above is a section_changed alert, with old and new stance empty.")
        return
    _heading(f"Stance: {reading.stance}")
    if reading.rule:
        click.echo(f"  rule: {reading.rule}")
    for sentence in reading.evidence:
        click.echo(f'  evidence: "{sentence}"')
    if not reading.evidence and reading.stance == "not_mentioned":
        click.echo("  The watched part says nothing about such requests; a statement that "
                   "appears later is a stance alert.")


def _print_elsewhere(extraction: Extraction) -> None:
    relevant = set(extraction.relevant)
    others = [p for p in extraction.passages if p not in relevant]
    if not others:
        return
    _heading(f"Elsewhere in the watched part ({len(others)}; changes there are recorded, never "
             "alerted):")
    for text in others[:SHOWN_ELSEWHERE]:
        click.echo(f"  - {_short(text)}")
    if len(others) > SHOWN_ELSEWHERE:
        click.echo(f"  … and {len(others) - SHOWN_ELSEWHERE} more")


def _print_dropped(extraction: Extraction, selected: bool) -> None:
    _heading(f"Dropped as noise ({len(extraction.dropped)}; never compared):")
    for text in extraction.dropped[:SHOWN_DROPPED]:
        click.echo(f"  - {_short(text)}")
    if len(extraction.dropped) > SHOWN_DROPPED:
        click.echo(f"  … and {len(extraction.dropped) - SHOWN_DROPPED} more")
    if not extraction.dropped:
        click.echo("  nothing inside the watched part")
    if not selected:
        click.echo("  (and everything outside the watched part: navigation, banners, footer)")


def _print_entry(entry: dict[str, Any]) -> None:
    _heading("Config entry (paste under `targets:` in targets.yaml; check id and company):")
    text = yaml.safe_dump([entry], sort_keys=False, allow_unicode=True).rstrip()
    click.echo("\n".join("  " + line for line in text.splitlines()))


# --- the config entry ----------------------------------------------------------------------


def _entry(url: str, html: str, select: Sequence[str], ignore: Sequence[str],
           topic: str) -> dict[str, Any]:
    """A target entry the config loader accepts as is: a guessed id and company, the URL, and
    the options given here."""
    name = _site_label(url)
    entry: dict[str, Any] = {"id": suggest_id(url), "company": _site_name(html) or name}
    entry["url"] = url
    if select:
        entry["select"] = list(select) if len(select) > 1 else select[0]
    if ignore:
        entry["ignore"] = list(ignore)
    if topic != DEFAULT_TOPIC:
        entry["topic"] = topic
    TargetEntry.model_validate(entry)  # what we print must paste cleanly
    return entry


def _site_label(url: str) -> str:
    """'transparency.meta.com' -> 'Meta'; a bare address or localhost -> 'Company'."""
    host = (urlsplit(url).hostname or "").lower()
    labels = [part for part in host.split(".") if part]
    if len(labels) < 2 or all(part.isdigit() for part in labels):
        return "Company"
    name = labels[-2]
    if name in SECOND_LEVEL and len(labels) > 2:
        name = labels[-3]
    return name.capitalize() if len(name) > 2 else name.upper()


def _site_name(html: str) -> str | None:
    """The site's own name for itself (og:site_name), when the page declares one."""
    tag = SITE_NAME.search(html[:50_000])
    found = CONTENT_ATTR.search(tag.group(0)) if tag else None
    name = found.group(1).strip() if found else ""
    return name if 0 < len(name) <= 40 else None


def suggest_id(url: str) -> str:
    """A target id from the site and the page's telling path segments:
    https://help.x.com/en/rules-and-policies/x-law-enforcement-support -> x-law-enforcement-support.
    """
    parts = urlsplit(url)
    site = _slug(_site_label(url)) if _site_label(url) != "Company" else "local"
    segments = [_slug(s) for s in parts.path.split("/")]
    telling = [s for s in segments if s and s not in GENERIC_SEGMENTS and not s.isdigit()]
    # The last telling segment names the page; a short one ("hk") needs the one before it.
    chosen = telling[-2:] if telling and len(telling[-1]) < SHORT_SEGMENT else telling[-1:]
    words = [w for w in "-".join(chosen).split("-") if w]
    if words and words[0] == site:
        words = words[1:]  # x.com/.../x-law-enforcement -> x-law-enforcement, not x-x-law-...
    ident = "-".join([site, *words]) if words else f"{site}-page"
    while len(ident) > ID_MAX and "-" in ident:
        ident = ident.rsplit("-", 1)[0]
    return ident[:ID_MAX].strip("-")


def _slug(text: str) -> str:
    text = re.sub(r"\.(html?|php|aspx?)$", "", text.lower())
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")
