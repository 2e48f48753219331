"""`stancewatch try URL`: fetch one page now and show what would be watched. Stores nothing."""

from __future__ import annotations

import re
from collections.abc import Sequence

import click
import yaml

from monitor.config import Politeness
from monitor.extract import extract
from monitor.pagecheck import problem
from monitor.records import FetchedPage
from monitor.stance import read_stance
from monitor.topics import load_topic

SHOWN_DROPPED = 12


def try_page(url: str, select: Sequence[str], ignore: Sequence[str], topic_name: str) -> int:
    """Print passages, stance, evidence and a config entry; return the exit code."""
    from monitor.crawl.runner import crawl, run_reactor
    from spiders.page import PageRequest

    topic = load_topic(topic_name)
    pages: list[FetchedPage] = []
    run_reactor(lambda: crawl([PageRequest("try", url)], Politeness(delay=0), None,
                              pages.append))
    if not pages:
        click.echo(f"{url}: nothing came back", err=True)
        return 1
    page = pages[0]
    fault = problem(page)
    if fault is not None:
        click.echo(f"{url}: {fault.reason}", err=True)
        return 1
    extraction = extract(page.text or "", select, ignore, topic)
    if not extraction.matched:
        click.echo(f"{url}: select {', '.join(select)} matched nothing", err=True)
        return 1
    reading = read_stance(extraction.relevant, topic)
    _print_report(page, extraction, reading, topic.name)
    _print_entry(url, select, ignore, topic.name)
    return 0


def _print_report(page, extraction, reading, topic: str) -> None:
    click.secho(f"Fetched {page.final_url} (HTTP {page.status}, {len(page.body):,} bytes)",
                bold=True)
    click.secho(f"\nRelevant passages ({len(extraction.relevant)} of "
                f"{len(extraction.passages)} in the watched part, topic {topic}):", bold=True)
    for passage in extraction.relevant:
        click.echo(f"  • {passage}")
    if reading.stance is not None:
        click.secho(f"\nStance: {reading.stance}", bold=True, fg="cyan")
        if reading.rule:
            click.echo(f"  rule: {reading.rule}")
        for sentence in reading.evidence:
            click.echo(f'  evidence: "{sentence}"')
    if extraction.dropped:
        click.secho(f"\nDropped as noise ({len(extraction.dropped)}):", bold=True)
        for text in extraction.dropped[:SHOWN_DROPPED]:
            click.echo(f"  - {text[:100]}")
        if len(extraction.dropped) > SHOWN_DROPPED:
            click.echo(f"  … and {len(extraction.dropped) - SHOWN_DROPPED} more")


def _print_entry(url: str, select: Sequence[str], ignore: Sequence[str], topic: str) -> None:
    host = re.sub(r"^www\.", "", url.split("/")[2]).split(":")[0]
    entry: dict = {"id": re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-") + "-page",
                   "company": host.split(".")[0].capitalize(), "url": url}
    if select:
        entry["select"] = list(select) if len(select) > 1 else select[0]
    if ignore:
        entry["ignore"] = list(ignore)
    if topic != "hong-kong-requests":
        entry["topic"] = topic
    click.secho("\nConfig entry (paste under `targets:` and adjust id and company):", bold=True)
    click.echo(yaml.safe_dump([entry], sort_keys=False, allow_unicode=True).rstrip())
