"""`stancewatch run`: check every target on its own schedule in one long-lived process.

The shape, and why (docs/decisions/0004-scheduler.md):

- APScheduler's AsyncIOScheduler runs on the loop of Scrapy's asyncio reactor, so every crawl is
  a coroutine of this one process: no process start per check, no thread driving Scrapy.
- One job per target (its id is the target id, its trigger the target's schedule) only says
  "this target is due". Due targets are gathered for a short window and checked together in one
  crawl, where Scrapy's per-host politeness applies to all of them.
- A job returns only when its target's check has finished, so APScheduler's `max_instances=1`
  means "at most one check of a target at a time" and `coalesce=True` folds missed runs into one.
- Crawls may overlap (a page that answers after 45 s must not hold up every other target), but
  a target is never in two of them.
- SIGHUP reloads the config (validated first; a broken one is logged and the old one stays);
  SIGTERM and SIGINT let the crawl in flight finish, cancel it after a few seconds, and return.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.checking import LOCK_WAIT_SECONDS, PassSummary, StateBusy, check_pass, state_lock
from monitor.config import Config, ConfigError, Target, load_config
from monitor.notify import Sink
from monitor.notify.outbox import deliver_off_loop
from monitor.schedules import cron_trigger, parse_schedule, shortest_interval
from monitor.store import Store

log = logging.getLogger("stancewatch")

# Targets due within this long of the first one share its crawl (capped at a tenth of the
# shortest schedule, so "every 1s" still means about once a second).
BATCH_WINDOW_SECONDS = 1.0
# Each run of a target fires up to this fraction of its interval late (at most JITTER_MAX), so a
# hundred targets on the same schedule do not all hit their sites in the same second.
JITTER_FRACTION = 0.1
JITTER_MAX_SECONDS = 30.0
# After SIGTERM the crawl in flight may finish for this long; then it is cancelled. A check
# cut short records nothing half-done (each page is one transaction) and is simply redone at
# the next start. Together with CANCEL_WAIT this stays well inside the 10 s a supervisor gives.
STOP_GRACE_SECONDS = 5.0
CANCEL_WAIT_SECONDS = 2.0
# Pending alerts go out on every pass; between passes of slow schedules ("every 6h"), the
# outbox is retried this often, so an alert held back by a Slack outage is not late by hours.
OUTBOX_RETRY_SECONDS = 60.0
# How often a `run` waiting for another process's state lock looks again.
LOCK_POLL_SECONDS = 0.5
# Standard cron counts days of the week from Sunday (0 or 7); APScheduler 3 counts from Monday.

StoreOpener = Callable[[], AbstractContextManager[Store]]


# --- triggers ----------------------------------------------------------------------------


def jitter_for(interval: float) -> float:
    """How late (at most) a run may fire: small against the interval, never minutes."""
    return min(interval * JITTER_FRACTION, JITTER_MAX_SECONDS)


def make_trigger(schedule_text: str) -> Any:
    """An APScheduler trigger for a config schedule ("every N" + unit, or a UTC cron line)."""
    from apscheduler.triggers.interval import IntervalTrigger

    schedule = parse_schedule(schedule_text)
    if schedule.interval is not None:
        return IntervalTrigger(seconds=schedule.interval, timezone=UTC,
                               jitter=jitter_for(schedule.interval))
    assert schedule.cron is not None
    return cron_trigger(schedule.cron, jitter=JITTER_MAX_SECONDS)


def batch_window(config: Config) -> float:
    """How long the first due target waits for others to share its crawl."""
    shortest = shortest_interval([t.schedule for t in config.targets])
    return min(BATCH_WINDOW_SECONDS, shortest / 10)


def describe_pass(summary: PassSummary) -> str:
    """The one log line per pass, the same figures `check` prints."""
    return (f"pass done in {summary.seconds:.1f}s: {len(summary.outcomes)} checked, "
            f"{summary.count('changed')} changed, {summary.count('failed')} failed, "
            f"{summary.delivery.delivered} alert(s) sent, {summary.delivery.pending} pending")


# --- the scheduler -----------------------------------------------------------------------


class Watch:
    """The running scheduler: the current config, the targets due, the passes in flight."""

    def __init__(self, config: Config, store: Store, sink: Sink, verbose: bool = False) -> None:
        self.config = config
        self.store = store
        self.sink = sink
        self.verbose = verbose
        self.scheduler: Any = None
        self._due: dict[str, asyncio.Future[None]] = {}  # waiting for the batch window to close
        self._checking: dict[str, asyncio.Future[None]] = {}  # in a pass now
        self._batch_timer: asyncio.TimerHandle | None = None
        self._passes: set[asyncio.Task[None]] = set()
        self._stopping = False

    # starting and scheduling

    def start(self) -> None:
        """Schedule every target, checking all of them at once first (a baseline, or news
        of what changed while the process was down)."""
        from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        if not self.verbose:  # its skip and misfire warnings are ours to word (see _skipped)
            logging.getLogger("apscheduler").setLevel(logging.ERROR)
        self.scheduler = AsyncIOScheduler(
            event_loop=asyncio.get_running_loop(), timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1,
                          # A late check beats a skipped one: after a stall or a suspend, run
                          # once (coalesced) however late, never wait for the next slot.
                          "misfire_grace_time": None})
        self.scheduler.add_listener(self._skipped, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_MISSED)
        now = datetime.now(UTC)
        for target in self.config.targets:
            self._add_job(target, first_run=now)
        self.scheduler.add_job(self._retry_outbox, "interval", seconds=OUTBOX_RETRY_SECONDS,
                               id="outbox", timezone=UTC)
        self.scheduler.start()
        log.info("running: %d target(s) from %s; SIGHUP reloads the config, SIGTERM stops",
                 len(self.config.targets), self.config.path)

    def _add_job(self, target: Target, first_run: datetime | None = None) -> None:
        options = {"next_run_time": first_run} if first_run else {}
        self.scheduler.add_job(self._job, make_trigger(target.schedule), args=[target.id],
                               id=target.id, name=target.id, **options)

    async def _job(self, target_id: str) -> None:
        """APScheduler's job: returns when the target's check is over, so that a run due
        meanwhile is skipped (max_instances=1) rather than stacked."""
        done = self._request(target_id)
        try:
            await asyncio.shield(done)
        except asyncio.CancelledError:
            # Only the scheduler's shutdown cancels a job; the pass itself runs on, and a
            # cancelled job would be logged by APScheduler as a failed one.
            return

    def _skipped(self, event: Any) -> None:
        log.debug("%s: a run was skipped (its previous check is still going, or it was missed)",
                  event.job_id)

    # batching

    def _request(self, target_id: str) -> asyncio.Future[None]:
        """Join the next batch; a target already in a pass or a batch joins that one instead."""
        existing = self._checking.get(target_id) or self._due.get(target_id)
        if existing is not None:
            return existing
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._stopping:
            done.set_result(None)
            return done
        self._due[target_id] = done
        if self._batch_timer is None:
            self._batch_timer = asyncio.get_running_loop().call_later(
                batch_window(self.config), self._launch_batch)
        return done

    def _launch_batch(self) -> None:
        """Close the window: everything due now is checked in one crawl."""
        self._batch_timer = None
        due, self._due = self._due, {}
        targets = [t for t in self.config.targets if t.id in due]
        for target_id in set(due) - {t.id for t in targets}:  # removed by a reload meanwhile
            due[target_id].set_result(None)
        if not targets:
            return
        self._checking.update({t.id: due[t.id] for t in targets})
        task = asyncio.get_running_loop().create_task(self._run_pass(self.config, targets))
        self._passes.add(task)
        task.add_done_callback(lambda finished: self._pass_over(finished, targets))

    async def _run_pass(self, config: Config, targets: list[Target]) -> None:
        """One crawl of `targets`, then the outbox; a failure is logged, never fatal."""
        from monitor.progress import outcome_logger

        try:
            summary = await check_pass(config, targets, self.store, self.sink,
                                       outcome_logger(len(targets)), self.verbose)
        except Exception:  # the next pass may well succeed: keep running, say why loudly
            log.exception("pass over %d target(s) failed", len(targets))
            return
        task = asyncio.current_task()
        if task is not None and task.cancelling():  # Scrapy ends a cancelled crawl quietly
            log.info("pass cut short by the stop: %d of %d target(s) checked",
                     len(summary.outcomes), len(targets))
            return
        log.info(describe_pass(summary))

    def _pass_over(self, task: asyncio.Task[None], targets: list[Target]) -> None:
        self._passes.discard(task)
        for target in targets:
            done = self._checking.pop(target.id, None)
            if done is not None and not done.done():
                done.set_result(None)

    async def _retry_outbox(self) -> None:
        """Deliver alerts an outage held back, without waiting for a slow schedule's pass."""
        if self._passes or not self.store.pending_counts():
            return  # a pass in flight delivers when it ends
        delivery = await deliver_off_loop(self.store.path.parent, self.sink)
        log.info("outbox: %d alert(s) sent, %d pending", delivery.delivered, delivery.pending)

    # reloading

    def reload(self) -> None:
        """Re-read the config; keep the running one when the new one is not valid."""
        try:
            config = load_config(self.config.path)
        except ConfigError as exc:
            log.error("config not reloaded, still using the previous one: %s", exc)
            return
        old = {t.id: t for t in self.config.targets}
        new = {t.id: t for t in config.targets}
        self.config = config
        if self.scheduler is None:
            return
        for target_id in old.keys() - new.keys():
            self.scheduler.remove_job(target_id)
        now = datetime.now(UTC)
        for target_id in new.keys() - old.keys():
            self._add_job(new[target_id], first_run=now)
        rescheduled = [i for i in new.keys() & old.keys() if new[i].schedule != old[i].schedule]
        for target_id in rescheduled:
            self.scheduler.reschedule_job(target_id, trigger=make_trigger(new[target_id].schedule))
        log.info("config reloaded: %d target(s); %d added, %d removed, %d rescheduled",
                 len(new), len(new.keys() - old.keys()), len(old.keys() - new.keys()),
                 len(rescheduled))

    # stopping

    async def stop(self, force: asyncio.Event) -> None:
        """No new checks; let the crawl in flight finish for a few seconds, then cancel it."""
        self._stopping = True
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down on the loop's next turn
        if self._batch_timer is not None:
            self._batch_timer.cancel()
            self._batch_timer = None
        for done in self._due.values():
            done.set_result(None)
        self._due.clear()
        passes = set(self._passes)
        if not passes:
            return
        log.info("stopping: waiting up to %.0fs for the check in flight", STOP_GRACE_SECONDS)
        await wait_until_done(passes, force, STOP_GRACE_SECONDS)
        pending = {task for task in passes if not task.done()}
        if pending:
            log.warning("the check in flight is still going: cancelled; its targets are "
                        "checked again at the next start")
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=CANCEL_WAIT_SECONDS)


async def wait_until_done(tasks: set[asyncio.Task[None]], force: asyncio.Event,
                          timeout: float) -> None:
    """Wait for all `tasks`, but no longer than `timeout` nor past `force` being set."""
    all_done = asyncio.ensure_future(asyncio.wait(tasks))
    forced = asyncio.ensure_future(force.wait())
    try:
        await asyncio.wait({all_done, forced}, timeout=timeout,
                           return_when=asyncio.FIRST_COMPLETED)
    finally:
        all_done.cancel()  # cancels the waiting only, never the tasks themselves
        forced.cancel()


# --- the process -------------------------------------------------------------------------


class Signals:
    """SIGTERM/SIGINT ask for a clean stop (a second one cuts the grace period); SIGHUP
    reloads. Installed on the loop, so handlers run as ordinary callbacks, not mid-statement."""

    STOPS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, reload: Callable[[], None]) -> None:
        self.stopping = asyncio.Event()
        self.force = asyncio.Event()
        self._reload = reload

    @contextmanager
    def installed(self) -> Iterator[Signals]:
        loop = asyncio.get_running_loop()
        for sig in self.STOPS:
            loop.add_signal_handler(sig, self._stop, sig)
        loop.add_signal_handler(signal.SIGHUP, self._hup)
        try:
            yield self
        finally:
            for sig in (*self.STOPS, signal.SIGHUP):
                loop.remove_signal_handler(sig)
                # Already stopping: a late signal must not kill the last moments of teardown
                # (the default action would make the exit status non-zero).
                signal.signal(sig, signal.SIG_IGN)

    def _stop(self, sig: signal.Signals) -> None:
        if self.stopping.is_set():
            log.warning("%s again: not waiting for the check in flight", sig.name)
            self.force.set()
            return
        log.info("%s received: stopping after the check in flight", sig.name)
        self.stopping.set()

    def _hup(self) -> None:
        log.info("SIGHUP received: reloading the config")
        self._reload()


async def wait_for_lock(lock: Any, state_dir: Path, stopping: asyncio.Event) -> bool:
    """Take the state lock, waiting (stoppably) for a `check` that holds it; False if stopped.

    `run` holds the lock for its whole life, so a cron `check` on the same state waits and then
    says so instead of writing alongside it. Read-only commands (`status`) never take it.
    """
    from filelock import Timeout

    deadline = asyncio.get_running_loop().time() + LOCK_WAIT_SECONDS
    announced = False
    while True:
        try:
            lock.acquire(timeout=0)
            return True
        except Timeout:
            pass
        if asyncio.get_running_loop().time() > deadline:
            raise StateBusy(f"{state_dir}: another stancewatch is still running on this state "
                            "directory; try again when it has finished")
        if not announced:
            log.warning("%s: another stancewatch is using this state directory; waiting for it",
                        state_dir)
            announced = True
        try:
            await asyncio.wait_for(stopping.wait(), LOCK_POLL_SECONDS)
            return False
        except TimeoutError:
            continue


async def serve(config: Config, state_dir: Path, open_store: StoreOpener,
                make_sink: Callable[[], Sink], verbose: bool = False) -> None:
    """The whole life of `run`: lock, schedule, wait for a stop signal, stop cleanly."""
    watch: Watch | None = None

    def reload() -> None:
        if watch is not None:
            watch.reload()

    signals = Signals(reload)
    with signals.installed():
        lock = state_lock(state_dir)
        if not await wait_for_lock(lock, state_dir, signals.stopping):
            return
        try:
            with open_store() as store:
                watch = Watch(config, store, make_sink(), verbose)
                watch.start()
                await signals.stopping.wait()
                await watch.stop(signals.force)
        finally:
            lock.release()
    log.info("stopped")


def run_scheduler(config: Config, state_dir: Path, open_store: StoreOpener,
                  make_sink: Callable[[], Sink], verbose: bool = False) -> None:
    """Entry point of `stancewatch run`: returns when a stop signal has been handled."""
    from monitor.crawl.runner import run_reactor

    run_reactor(lambda: serve(config, state_dir, open_store, make_sink, verbose))
