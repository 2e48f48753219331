"""One check pass: lock the state, crawl the targets, track each page, deliver the outbox."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from monitor.config import Config, Target
from monitor.notify import Sink
from monitor.notify.outbox import Delivery, deliver_off_loop
from monitor.reading import Readers
from monitor.records import FetchedPage
from monitor.store import Store, TargetState
from monitor.track import Outcome, Tracker

log = logging.getLogger("stancewatch")
LOCK_NAME = "stancewatch.lock"
# A second `check` on the same state waits this long for the first, then says so and exits.
LOCK_WAIT_SECONDS = 600


class StateBusy(Exception):
    """Another Stancewatch process holds the state directory."""


@dataclass
class PassSummary:
    outcomes: list[Outcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # targets whose check was not recorded
    delivery: Delivery = field(default_factory=Delivery)
    seconds: float = 0.0

    def count(self, result: str) -> int:
        return sum(1 for o in self.outcomes if o.result == result)


def state_lock(state_dir: Path, wait: float = LOCK_WAIT_SECONDS):
    """An OS-level lock on the state directory; the OS releases it if the process dies."""
    from filelock import FileLock

    state_dir.mkdir(parents=True, exist_ok=True)
    return FileLock(str(state_dir / LOCK_NAME), timeout=wait)


def fetch_requests(states: dict[str, TargetState], targets: Sequence[Target]) -> list:
    """One PageRequest per target, with the validators of its last good fetch."""
    from spiders.page import PageRequest

    requests = []
    for target in targets:
        state = states.get(target.id)
        has_base = state is not None and state.has_baseline
        requests.append(PageRequest(
            target.id, target.url,
            etag=state.etag if has_base else None,
            last_modified=state.last_modified if has_base else None,
            render=target.render, render_wait=target.render_wait,
            render_timeout=target.render_timeout))
    return requests


async def check_pass(config: Config, targets: Sequence[Target], store: Store, sink: Sink,
                     on_outcome: Callable[[Outcome], None] | None = None,
                     verbose: bool = False) -> PassSummary:
    """Fetch and track every target once, then deliver what is pending."""
    from monitor.crawl.runner import crawl

    started = time.monotonic()
    summary = PassSummary()
    states = store.target_states()  # read once per pass, not once per page
    tracker = Tracker(store, {t.id: t for t in targets}, states)
    readers = Readers(len(targets), (t.topic for t in targets))
    if any(t.id not in states for t in targets):  # a first pass: nearly every page is read
        readers.start()
    seen: set[str] = set()

    async def handle(page: FetchedPage) -> None:
        if page.target_id in seen:  # Scrapy never yields twice, but be sure
            return
        seen.add(page.target_id)
        try:
            step = tracker.triage(page)
            reading = await readers.read(step.job) if step.job is not None else None
            outcome = tracker.settle(step, reading)
        except Exception as exc:  # a bug or a failing store, never the page: say so, go on
            # (Scrapy would log it with the whole page attached, and the pass would exit 0.)
            log.error("%s: this check could not be recorded (%s: %s); its last state is kept",
                      page.target_id, type(exc).__name__, exc, exc_info=verbose)
            summary.errors.append(page.target_id)
            return
        summary.outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)

    try:
        await crawl(fetch_requests(states, targets), config.defaults.politeness, config.contact,
                    handle, verbose=verbose)
    finally:  # a stopped or failed crawl still records the checks it made
        readers.close()
        tracker.flush()
    summary.delivery = await deliver_off_loop(store.path.parent, sink)
    summary.seconds = time.monotonic() - started
    return summary
