"""Run the demo's scenario and narrate it: what changed, what Stancewatch did, what it sent.

All passes run inside ONE `run_reactor` coroutine (Scrapy's reactor cannot be restarted in a
process, docs/decisions/0001): it awaits `check_pass` once per step and swaps the pages the
local site serves in between, exactly as `stancewatch run` drives repeated passes. The real
config loader, tracker, store, outbox and sink do the work; only the pages are samples.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING

import yaml

from monitor.checking import PassSummary, check_pass, state_lock
from monitor.config import Config, load_config
from monitor.demo.script import STEPS, TARGETS, Expected, Step
from monitor.demo.site import HOST, DemoSite
from monitor.notify import Sink
from monitor.notify.blocks import build_text
from monitor.notify.console import ConsoleSink
from monitor.records import STANCE_CHANGED, Event
from monitor.settings import Settings
from monitor.store import DB_NAME, Store
from monitor.track import Outcome

if TYPE_CHECKING:
    from monitor.report import ReportSummary

RULE_WIDTH = 78
ALERT_INDENT = "    "
CONFIG_NAME = "targets.yaml"
REPORT_NAME = "report"

# What each check result means, in a newcomer's words.
RESULT_WORDS = {
    "baseline": "first check: baseline recorded, nothing sent",
    "unchanged": "nothing changed in the text Stancewatch watches: nothing sent",
    "not_modified": "the server said the page is unchanged (HTTP 304): nothing sent",
    "quiet": "changed outside the text about the topic: recorded quietly, nothing sent",
    "changed": "the text about the topic changed",
    "failed": "the check failed",
}


class DemoError(Exception):
    """The demo cannot start as asked (a state directory that is not fresh, say)."""


@dataclass
class _Recorder:
    """Hands alerts to the real sink and remembers what went out, so a step can say so."""

    sink: Sink
    delivered: list[Event] = field(default_factory=list)

    def deliver(self, event: Event) -> str | None:
        ts = self.sink.deliver(event)
        self.delivered.append(event)
        return ts

    def find_delivered(self, event: Event) -> str | None:
        return self.sink.find_delivered(event)


@dataclass
class _Places:
    """Where the demo keeps its config, state and report, all under `home`."""

    home: Path
    config: Path
    state: Path
    report: Path


def run_demo(settings: Settings, state: Path | None = None, out: Path | None = None,
             console: bool = False, verbose: bool = False, stream: IO[str] = sys.stdout) -> int:
    """Serve the samples, run every step, build the report; 0 when every step went as
    scripted, 1 when an alert was missing or unexpected (the pipeline regressed)."""
    places = _places(state, out)
    _bypass_proxies_for_loopback()
    say = _Printer(stream)
    with DemoSite() as site:
        config = _write_config(places.config, site)
        slack = settings.slack_configured and not console
        _introduce(say, site, places, settings, slack)
        lock = state_lock(places.state)
        lock.acquire()
        try:
            store = Store.open(places.state)
            try:
                problems, alerts = _run_steps(say, site, config, store, settings, slack, verbose)
                summary = _build_report(store, places.report)
            finally:
                store.close()
        finally:
            lock.release()
    _conclude(say, places, summary, alerts, problems)
    return 1 if problems else 0


# --- setting up ----------------------------------------------------------------------------


def _places(state: Path | None, out: Path | None) -> _Places:
    """A throwaway directory unless --state names one; a named one must be fresh, so the first
    pass is a baseline and the demo's history never mixes with a newsroom's real one."""
    if state is None:
        base = Path(tempfile.mkdtemp(prefix="stancewatch-demo-"))
        return _Places(base, base / CONFIG_NAME, base / "state", out or base / REPORT_NAME)
    if (state / DB_NAME).exists():
        raise DemoError(f"{state}: holds Stancewatch history already; the demo needs a new, "
                        "empty state directory (or leave out --state for a temporary one)")
    return _Places(state, state / f"demo-{CONFIG_NAME}", state, out or state / REPORT_NAME)


def _bypass_proxies_for_loopback() -> None:
    """The sample pages are on this machine: a corporate HTTP proxy from the environment must
    not be asked for them (Scrapy honours no_proxy). Only this process is affected."""
    for name in ("no_proxy", "NO_PROXY"):
        current = os.environ.get(name, "")
        if HOST not in current.split(","):
            os.environ[name] = ",".join(filter(None, (current, HOST, "localhost")))


def _write_config(path: Path, site: DemoSite) -> Config:
    """The demo's targets in the ordinary config format, loaded with the real loader.

    The politeness delay is 0: the only host is the demo's own, on loopback.
    """
    data = {
        "defaults": {"politeness": {"per_host_concurrency": 4, "delay": "0s"}},
        "targets": [{"id": t.id, "company": t.company, "url": site.url(t.path), "topic": t.topic}
                    for t in TARGETS],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Written by `stancewatch demo`: two fictional companies, served locally.\n"
                    + yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return load_config(path)


def _make_sink(settings: Settings, slack: bool, buffer: IO[str]) -> Sink:
    if not slack:
        return ConsoleSink(buffer)
    from monitor.notify.slack import sink_from_settings

    return sink_from_settings(settings.slack_token, settings.slack_channel,
                              settings.slack_webhook_url, settings.slack_api_url, buffer)


# --- the steps -----------------------------------------------------------------------------


def _run_steps(say: _Printer, site: DemoSite, config: Config, store: Store,
               settings: Settings, slack: bool, verbose: bool) -> tuple[list[str], int]:
    """Every step in one reactor; returns what went differently from the script and how many
    alerts went out."""
    from monitor.crawl.runner import run_reactor

    async def walk() -> tuple[list[str], int]:
        problems: list[str] = []
        alerts = 0
        paths = {t.id: t.path for t in TARGETS}
        for number, step in enumerate(STEPS, 1):
            site.show({paths[target]: name for target, name in step.pages.items()})
            say.rule(f"Step {number} of {len(STEPS)}: {step.title}")
            say.wrapped(step.story)
            buffer = io.StringIO()
            sink = _Recorder(_make_sink(settings, slack, buffer))
            summary = await check_pass(config, config.targets, store, sink, verbose=verbose)
            _tell_outcomes(say, summary.outcomes, sink.delivered)
            _tell_alerts(say, sink.delivered, buffer.getvalue(), slack, summary)
            problems += _mismatches(number, step, sink.delivered, summary)
            alerts += len(sink.delivered)
        return problems, alerts

    return run_reactor(walk)


def _tell_outcomes(say: _Printer, outcomes: Sequence[Outcome],
                   delivered: Sequence[Event]) -> None:
    say.line("What Stancewatch did:")
    width = max(len(t.id) for t in TARGETS)
    by_target = {o.target: o for o in outcomes}
    events = {e.target: e for e in delivered}
    for target in TARGETS:
        outcome = by_target.get(target.id)
        words = "not checked" if outcome is None else _outcome_words(outcome,
                                                                     events.get(target.id))
        say.line(f"  {target.id:<{width}}  {words}")


def _outcome_words(outcome: Outcome, event: Event | None) -> str:
    """One check's result in a newcomer's words, with the stance when there is one."""
    if outcome.result == "changed" and event is not None:
        if event.event_type == STANCE_CHANGED:
            return f"the stance changed: {event.old_stance} -> {event.new_stance}"
        if event.new_stance is not None:
            return f"the wording about the topic changed; the stance stays {event.new_stance}"
        return "the wording about the topic changed (this topic reads no stance)"
    words = RESULT_WORDS.get(outcome.result, outcome.result)
    if outcome.result in ("baseline", "failed") and outcome.detail:
        return f"{words} ({outcome.detail})"
    return words


def _tell_alerts(say: _Printer, delivered: Sequence[Event], printed: str, slack: bool,
                 summary: PassSummary) -> None:
    if not delivered:
        say.line("Alerts: none.")
    elif slack:
        say.line(f"Alerts sent to Slack: {len(delivered)}")
        for event in delivered:
            say.line(f"{ALERT_INDENT}{build_text(event)}")
    else:
        say.line(f"Alerts, as they would reach Slack ({len(delivered)}):")
        for line in printed.rstrip().splitlines():
            say.line(f"{ALERT_INDENT}{line}".rstrip())
    if summary.delivery.pending:
        say.line(f"{summary.delivery.pending} alert(s) could not be delivered and stay pending: "
                 f"{summary.delivery.error}")


def _mismatches(number: int, step: Step, delivered: Sequence[Event],
                summary: PassSummary) -> list[str]:
    """What went differently from the script: a missing or an unexpected alert, a failure."""
    got = sorted(_key(Expected(e.event_type, e.target, e.old_stance, e.new_stance))
                 for e in delivered)
    wanted = sorted(_key(e) for e in step.expect)
    problems = [f"step {number}: {o.target} failed: {o.detail}" for o in summary.outcomes
                if o.result == "failed"]
    if got != wanted:
        problems.append(f"step {number} ({step.title}): expected alerts {wanted or 'none'}, "
                        f"got {got or 'none'}")
    return problems


def _key(expected: Expected) -> str:
    stances = ("" if expected.old_stance is None and expected.new_stance is None
               else f" {expected.old_stance} -> {expected.new_stance}")
    return f"{expected.event_type} {expected.target}{stances}"


# --- the end -------------------------------------------------------------------------------


def _build_report(store: Store, out: Path) -> ReportSummary:
    """The report of what the passes recorded (imported here: jinja2 is needed only now)."""
    from monitor.report import ReportError, build_report

    try:
        return build_report(store, out)
    except ReportError as exc:  # --out names a directory that is not a report's
        raise DemoError(str(exc)) from None


def _introduce(say: _Printer, site: DemoSite, places: _Places, settings: Settings,
               slack: bool) -> None:
    say.line("Stancewatch demo: the whole pipeline on this machine, no network needed.")
    say.line("")
    say.wrapped(f"The pages of two fictional companies are served from {site.base}/ and change "
                f"between {len(STEPS)} check passes. Each pass fetches them with Scrapy, keeps "
                "the passages about requests for user data, reads the company's stance from "
                "them, compares with what was stored and alerts on what changed.")
    for target in TARGETS:
        say.line(f"  {target.company}: {target.about}")
        say.line(f"    {site.url(target.path)}  (topic {target.topic})")
    say.line("")
    say.line(f"  config  {places.config}")
    say.line(f"  state   {places.state}   (the demo's own; ./state is not touched)")
    if slack:
        where = (f"channel {settings.slack_channel}" if settings.slack_token
                 and settings.slack_channel else "the incoming webhook")
        say.line(f"  alerts  sent to Slack ({where}), because Slack settings are set; "
                 "--console prints them here instead")
    else:
        say.line("  alerts  printed here, as they would reach Slack")


def _conclude(say: _Printer, places: _Places, summary: ReportSummary, alerts: int,
              problems: Sequence[str]) -> None:
    say.rule("Done")
    say.line(f"{len(STEPS)} check passes, {alerts} alert(s); none for the baseline or the noise."
             if not problems else f"{len(STEPS)} check passes, {alerts} alert(s).")
    say.line(f"The report: {summary.index.resolve().as_uri()}")
    say.line("  open it in a browser: no server needed; every change has its evidence and diff.")
    say.line(f"Everything the demo wrote stays in {places.home}; look around with:")
    say.line(f"  stancewatch history --state {places.state} --all")
    say.line(f"  stancewatch show CHANGE_ID --state {places.state}")
    say.line("Next: `stancewatch try URL` on a page you want to watch; it prints a config entry "
             "for targets.yaml.")
    for problem in problems:
        print(f"stancewatch demo: not as scripted: {problem}", file=sys.stderr)


class _Printer:
    """The narration: plain lines, wrapped paragraphs and step rules on one stream."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def wrapped(self, text: str) -> None:
        self.line(textwrap.fill(text, RULE_WIDTH))

    def rule(self, title: str) -> None:
        self.line("")
        head = f"-- {title} "
        self.line(head + "-" * max(RULE_WIDTH - len(head), 3))
