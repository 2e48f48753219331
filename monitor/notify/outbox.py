"""Deliver the outbox: pending alerts, oldest first, each exactly once.

Protocol (docs/decisions/0003-exactly-once.md): an event is marked `sending` in its own
committed transaction before it is posted and `delivered` (with Slack's ts) right after. An
event found still `sending` (a crash, a lost answer, an outage) is looked up in the channel by
its event id before it is posted again. The window in which a crash can double a message is
thus closed for the Web API; webhooks and the console cannot be searched, so for them it is the
moment between Slack's answer and the commit of `delivered`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from monitor.notify import DeliveryError, Sink
from monitor.records import CONTENT_EVENTS, Event
from monitor.store import Store

log = logging.getLogger("stancewatch")


@dataclass
class Delivery:
    """What a pass of the outbox did."""

    delivered: int = 0
    pending: int = 0
    error: str | None = None


# One delivery at a time per process: two overlapping passes must not post the same alert.
_DELIVERING = threading.Lock()


async def deliver_off_loop(state_dir: Path, sink: Sink) -> Delivery:
    """Deliver in a worker thread with its own connection, so a slow or rate-limited Slack
    (slack-sdk's sync client sleeps through Retry-After) never stalls the crawl's event loop."""

    def work() -> Delivery:
        with _DELIVERING:
            store = Store.open(state_dir)
            try:
                return deliver_pending(store, sink)
            finally:
                store.close()

    return await asyncio.to_thread(work)


def deliver_pending(store: Store, sink: Sink) -> Delivery:
    report = Delivery()
    events = store.undelivered()
    for index, event in enumerate(events):
        try:
            _deliver(store, sink, event)
        except DeliveryError as error:
            store.mark_failed(event.id or 0, str(error))
            report.pending = len(events) - index
            report.error = str(error)
            # Keep order: a later alert of the same story must not overtake this one.
            log.warning("alert delivery stopped, %d pending: %s", report.pending, error)
            break
        report.delivered += 1
    return report


def _deliver(store: Store, sink: Sink, event: Event) -> None:
    if event.event_type in CONTENT_EVENTS:
        event = dataclasses.replace(event, thread_ts=store.target_state(event.target).thread_ts)
    if event.extra.get("status") == "sending":
        found = sink.find_delivered(event)
        if found:
            log.info("alert %s was already in the channel; not posting it again", event.key)
            store.mark_delivered(event, found)
            return
    else:
        store.mark_sending(event.id or 0)
    ts = sink.deliver(event)
    store.mark_delivered(event, ts)
