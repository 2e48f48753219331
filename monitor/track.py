"""One target's fetched page -> snapshot -> reading -> change -> events, in one transaction.

The tracker decides what a check means: a fault (counted, alerted once per incident), a page
that did not change (one small row), a change outside the relevant text (recorded quietly) or a
change of it (a change row and its alert event, stored together: the outbox).

Most checks of a pass change nothing, and one transaction per page was most of what such a
pass cost beyond Scrapy. So the states are read once per pass, and a check that leaves
nothing but a row and its target's timestamps (a 304, the same bytes, the same watched part)
is queued and written with others in one transaction (`UnchangedBatch`). Losing a queued row
to a crash is harmless: the next pass checks the page again. Anything else (a fault, a change,
an event) is decided and committed at once in its own transaction, as it always was.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from monitor.config import Target
from monitor.diff import word_diff
from monitor.pagecheck import GONE, Problem, answer_problem
from monitor.reading import UNMATCHED, PageReading, ReadJob, read_page
from monitor.records import (
    EXTRACTION_FAILED,
    SECTION_CHANGED,
    STANCE_CHANGED,
    TARGET_GONE,
    TARGET_UNREACHABLE,
    Event,
    Extraction,
    FetchedPage,
    Reading,
)
from monitor.stance import read_stance
from monitor.store import Change, CheckRow, Store, TargetState, digest, now_text
from monitor.topics import load_topic

log = logging.getLogger("stancewatch")

# Consecutive failed checks before an operational alert: one blip is not news.
FAILURES_BEFORE_ALERT = {TARGET_UNREACHABLE: 3, TARGET_GONE: 3, EXTRACTION_FAILED: 2}
# Unchanged checks written per transaction; and the longest a queued one waits, so that
# `status` run during a long pass still sees checks advancing.
BATCH_ROWS = 500
BATCH_SECONDS = 2.0


@dataclass
class Step:
    """A fetched page on its way through the tracker (see `Tracker.triage`)."""

    target: Target
    page: FetchedPage
    at: str
    fault: Problem | None
    same_bytes: str | None = None  # "not_modified" or "unchanged": nothing to read
    job: ReadJob | None = None


@dataclass(frozen=True)
class Outcome:
    """What one check did, for the log line and the summary."""

    target: str
    result: str  # baseline | unchanged | not_modified | quiet | changed | failed
    detail: str = ""
    events: int = 0


class UnchangedBatch:
    """Checks that changed nothing, waiting to be written together."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.clock = clock
        self.checks: list[CheckRow] = []
        self.states: list[TargetState] = []
        self.since: float | None = None

    def add(self, check: CheckRow, state: TargetState) -> None:
        self.checks.append(check)
        self.states.append(state)
        if self.since is None:
            self.since = self.clock()
        if len(self.checks) >= BATCH_ROWS or self.clock() - self.since >= BATCH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.checks:
            self.store.record_unchanged(self.checks, self.states)
        self.checks, self.states, self.since = [], [], None


class Tracker:
    """Tracks the pages of one pass. Call `flush()` when the pass ends (also when it fails)."""

    def __init__(self, store: Store, targets: dict[str, Target],
                 states: dict[str, TargetState] | None = None) -> None:
        self.store = store
        self.targets = targets
        self.states = store.target_states() if states is None else states
        self.batch = UnchangedBatch(store)

    def handle(self, page: FetchedPage) -> Outcome:
        """Track one page, reading it in this process if it needs reading."""
        step = self.triage(page)
        return self.settle(step, read_page(step.job) if step.job is not None else None)

    def triage(self, page: FetchedPage) -> Step:
        """What a page needs: a fault or an unchanged page is settled as it is, other pages
        need reading first (`step.job`), here or in a reader process (monitor/reading.py)."""
        target = self.targets[page.target_id]
        step = Step(target, page, now_text(), answer_problem(page))
        if step.fault is None:
            step.same_bytes = self._same_bytes(page)
        if step.fault is not None or step.same_bytes is not None:
            return step
        known = self.states.get(target.id)
        settled = known is not None and known.settled
        step.job = ReadJob(page.text or "", target.select, target.ignore, target.topic,
                           target.render, target.render_wait,
                           known.fragment_hash if settled and known else None)
        return step

    def settle(self, step: Step, read: PageReading | None) -> Outcome:
        """Decide on a triaged page (with its reading, if it needed one) and record it."""
        target, page, at = step.target, step.page, step.at
        fault = step.fault or (read.fault if read is not None else None)
        if fault is not None:
            kind = TARGET_GONE if fault.kind == GONE else TARGET_UNREACHABLE
            return self._commit(target, lambda state: self._failed(
                target, state, page, at, kind, fault.reason))
        known = self.states.get(target.id)
        result = step.same_bytes
        if result is not None:
            if known is not None and known.settled:
                return self._queue(target, page, at, result, dataclasses.replace(
                    known, etag=page.etag or known.etag,
                    last_modified=page.last_modified or known.last_modified))
            return self._commit(target, lambda state: self._unchanged(
                target, state, page, at, result))
        assert step.job is not None and read is not None
        return self._read(target, known, page, at, step.job, read)

    def flush(self) -> None:
        """Write the queued unchanged checks."""
        self.batch.flush()

    # --- the decision --------------------------------------------------------------------

    def _same_bytes(self, page: FetchedPage) -> str | None:
        """"not_modified" or "unchanged" when the answer is the page last read, byte for byte."""
        if page.not_modified:
            return "not_modified"
        known = self.states.get(page.target_id)
        if page.body and known and digest(page.body) == known.page_hash:
            return "unchanged"
        return None

    def _read(self, target: Target, known: TargetState | None, page: FetchedPage,
              at: str, job: ReadJob, read: PageReading) -> Outcome:
        """A page with new bytes: unchanged if its watched part is, else compare what it says."""
        fragment = read.fragment
        if (fragment is not None and known is not None and known.settled
                and known.fragment_hash == fragment):
            return self._queue(target, page, at, "unchanged", dataclasses.replace(
                known, etag=page.etag, last_modified=page.last_modified,
                page_hash=digest(page.body), final_url=page.final_url),
                error=_moved(known, page))
        if read.extraction is None:  # read against a digest that is no longer the known one
            read = read_page(dataclasses.replace(job, known_fragment=None))
        extraction = read.extraction or UNMATCHED
        shell = read.shell
        if not extraction.matched or shell:
            reason = shell or ""
            if not extraction.matched:
                reason = (f"select {', '.join(target.select)} matched nothing"
                          if target.select else "the page has no readable text"
                          ) + (f": {shell}" if shell else "")
            return self._commit(target, lambda state: self._failed(
                target, state, page, at, EXTRACTION_FAILED, reason))
        return self._commit(target, lambda state: self._content(
            target, state, page, at, extraction, fragment, read.reading))

    def _queue(self, target: Target, page: FetchedPage, at: str, result: str,
               state: TargetState, error: str | None = None) -> Outcome:
        """Queue a check that moves nothing but its target's timestamps and validators."""
        state = dataclasses.replace(state, company=target.company, url=target.url,
                                    topic=target.topic, last_check=at, last_result=result,
                                    last_good=at)
        self.states[target.id] = state
        self.batch.add(CheckRow(target.id, at, page.status, result, page.duration,
                                len(page.body), error), state)
        return Outcome(target.id, result)

    def _commit(self, target: Target, decide: Callable[[TargetState], Outcome]) -> Outcome:
        """Decide on the stored state and record the outcome, all in one transaction."""
        with self.store.transaction():
            state = dataclasses.replace(self.store.target_state(target.id),
                                        company=target.company, url=target.url,
                                        topic=target.topic)
            outcome = decide(state)
        self.states.pop(target.id, None)  # no longer what the store holds; not needed again
        return outcome

    def _failed(self, target: Target, state: TargetState, page: FetchedPage, at: str,
                kind: str, reason: str) -> Outcome:
        same = state.failure_kind == kind
        failures = state.failures + 1 if same else 1
        events = 0
        incident, since = state.incident, state.incident_since
        if incident is None and failures >= FAILURES_BEFORE_ALERT[kind]:
            incident, since = kind, at
            self._emit(self._operational(target, kind, at, reason, recovered=False))
            events = 1
        self.store.add_check(target.id, at, page.status, "failed", page.duration,
                             len(page.body), reason)
        self.store.save_target(dataclasses.replace(
            state, last_check=at, last_result="failed", last_error=reason, failures=failures,
            failure_kind=kind, incident=incident, incident_since=since))
        log.debug("%s: failed (%s), %d in a row", target.id, reason, failures)
        return Outcome(target.id, "failed", f"{reason}; {failures} in a row", events)

    def _recover(self, target: Target, state: TargetState, at: str) -> tuple[TargetState, int]:
        """A good answer ends the open incident (with a recovery message) and the failure run."""
        events = 0
        if state.incident is not None:
            self._emit(self._operational(target, state.incident, at,
                                         f"back since {at[:16]}Z", recovered=True,
                                         since=state.incident_since))
            events = 1
        return dataclasses.replace(state, failures=0, failure_kind=None, incident=None,
                                   incident_since=None, last_error=None), events

    def _unchanged(self, target: Target, state: TargetState, page: FetchedPage, at: str,
                   result: str) -> Outcome:
        state, events = self._recover(target, state, at)
        self.store.add_check(target.id, at, page.status, result, page.duration, len(page.body),
                             None)
        self.store.save_target(dataclasses.replace(
            state, last_check=at, last_result=result, last_good=at,
            etag=page.etag or state.etag, last_modified=page.last_modified or state.last_modified))
        return Outcome(target.id, result, "", events)

    def _content(self, target: Target, state: TargetState, page: FetchedPage, at: str,
                 extraction: Extraction, fragment: str | None,
                 reading: Reading | None = None) -> Outcome:
        state, events = self._recover(target, state, at)
        watched_hash = digest(extraction.watched_text)
        key_hash = digest("".join(extraction.key_text.split()))
        previous = self.store.snapshot(state.snapshot_id)
        if previous is not None and previous.key_hash == key_hash:
            if previous.watched_hash == watched_hash:
                result, detail = "unchanged", ""
                snapshot_id = state.snapshot_id
            else:  # changed outside the relevant text: recorded, never alerted
                reading = Reading(previous.stance, previous.evidence, previous.rule)
                snapshot_id = self._snapshot(target, page, at, extraction, watched_hash,
                                             key_hash, reading)
                self._change(target, at, "quiet", previous, snapshot_id, reading, extraction)
                result, detail = "quiet", "changed outside the relevant text"
        else:
            if reading is None:
                reading = read_stance(extraction.relevant, load_topic(target.topic))
            snapshot_id = self._snapshot(target, page, at, extraction, watched_hash, key_hash,
                                         reading)
            if previous is None:
                result, detail = "baseline", f"stance {reading.stance}" if reading.stance else ""
            else:
                events += self._content_change(target, state, at, previous, snapshot_id,
                                               reading, extraction, key_hash)
                result, detail = "changed", f"{previous.stance} -> {reading.stance}"
        self.store.add_check(target.id, at, page.status, result, page.duration, len(page.body),
                             _moved(state, page))
        self.store.save_target(dataclasses.replace(
            state, last_check=at, last_result=result, last_good=at, etag=page.etag,
            last_modified=page.last_modified, page_hash=digest(page.body),
            watched_hash=watched_hash, key_hash=key_hash, snapshot_id=snapshot_id,
            stance=self.store.snapshot(snapshot_id).stance if snapshot_id else None,
            final_url=page.final_url, fragment_hash=fragment))
        return Outcome(target.id, result, detail, events)

    def _content_change(self, target: Target, state: TargetState, at: str, previous, new_id: int,
                        reading: Reading, extraction: Extraction, key_hash: str) -> int:
        stance_moved = reading.stance != previous.stance
        kind = "stance" if stance_moved else "section"
        note = self._revert_note(target, reading, key_hash, new_id, stance_moved)
        change = self._change(target, at, kind, previous, new_id, reading, extraction, note)
        self._emit(Event(
            event_type=STANCE_CHANGED if stance_moved else SECTION_CHANGED,
            target=target.id, company=target.company, url=target.url,
            detected_at=_moment(at), change_id=change.id, old_stance=previous.stance,
            new_stance=reading.stance, old_evidence=previous.evidence,
            new_evidence=reading.evidence, diff=change.diff, rule=reading.rule, note=note,
            key=f"{change.id}:{'stance' if stance_moved else 'section'}"))
        return 1

    def _revert_note(self, target: Target, reading: Reading, key_hash: str, new_id: int,
                     stance_moved: bool) -> str | None:
        if stance_moved and reading.stance is not None:
            earlier = self.store.earlier_stance(target.id, reading.stance, new_id)
            if earlier is not None:
                return f"back to `{reading.stance}`, as on {earlier.at[:10]}"
        same = self.store.earlier_wording(target.id, key_hash, new_id)
        if same is not None:
            return f"back to the wording of {same.at[:10]}"
        return None

    # --- writing ---------------------------------------------------------------------------

    def _snapshot(self, target: Target, page: FetchedPage, at: str, extraction: Extraction,
                  watched_hash: str, key_hash: str, reading: Reading) -> int:
        page_hash = self.store.add_page(page.body, page.content_type, page.final_url, at)
        return self.store.add_snapshot(target.id, at, page_hash, watched_hash, key_hash,
                                       extraction.relevant_text, reading.stance,
                                       reading.evidence, reading.rule)

    def _change(self, target: Target, at: str, kind: str, previous, new_id: int,
                reading: Reading, extraction: Extraction, note: str | None = None) -> Change:
        change = Change(
            id=digest(f"{target.id}|{at}|{new_id}")[:10], target=target.id, at=at, kind=kind,
            old_snapshot=previous.id, new_snapshot=new_id, old_stance=previous.stance,
            new_stance=reading.stance,
            diff=word_diff(previous.relevant, extraction.relevant_text), note=note)
        self.store.add_change(change)
        return change

    def _emit(self, event: Event) -> None:
        self.store.add_event(event)

    def _operational(self, target: Target, kind: str, at: str, reason: str, recovered: bool,
                     since: str | None = None) -> Event:
        opened = since or at
        return Event(event_type=kind, target=target.id, company=target.company, url=target.url,
                     detected_at=_moment(at), note=reason, recovered=recovered,
                     key=f"{target.id}:{kind}:{opened}:{'recovered' if recovered else 'open'}")


def _moment(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def _moved(state: TargetState, page: FetchedPage) -> str | None:
    """A redirect to a new address is recorded on the check (not an error)."""
    if page.final_url and page.final_url != page.url and page.final_url != state.final_url:
        return f"redirected to {page.final_url}"
    return None
