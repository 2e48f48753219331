"""How long `stancewatch report` takes over a long history: 10,000 changes by default.

Fills a temporary store through the Store API with synthetic targets, pages, snapshots and
changes (stance changes, wording changes, quiet edits, reverts, incidents), then times
`build_report` and prints the figure. Why: the report rewrites every page on each run, so it
must stay a matter of seconds as a history grows over years of checks.

    python bench/report_bench.py [--changes 10000] [--targets 20] [--page-kb 20] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.diff import word_diff
from monitor.records import STANCES, Event
from monitor.report import build_report
from monitor.store import Change, Store, TargetState, digest

VOCABULARY = ("we respond to valid legal requests from Hong Kong authorities government police "
              "court user data account information review process law enforcement treaty "
              "mutual legal assistance national security law paused resumed assess customers")
WORDS = VOCABULARY.split()
SENTENCES = {
    "complying": "We respond to valid legal requests from Hong Kong authorities.",
    "paused": "We have paused the processing of requests from Hong Kong authorities.",
    "refusing": "We will not process requests from Hong Kong authorities directly.",
    "no_data": "We do not have user data to turn over to Hong Kong authorities.",
    "unknown": "Requests from Hong Kong authorities are handled as described below.",
    "not_mentioned": "This page describes our transparency report.",
}


def fill(store: Store, changes: int, targets: int, page_kb: int, seed: int = 7) -> None:
    """A history of `changes` changes spread over `targets` targets and five years."""
    rng = random.Random(seed)
    start = datetime(2020, 7, 1, tzinfo=UTC)
    step = timedelta(days=5 * 365) / max(changes, 1)
    filler = " ".join(rng.choice(WORDS) for _ in range(page_kb * 170))
    state: dict[str, tuple[int, str, str | None]] = {}
    with store.transaction():
        for number in range(targets):
            tid = f"company{number:02d}-hk-requests"
            at = _at(start)
            stance = rng.choice(STANCES)
            relevant = _relevant(rng, stance)
            snap = _snapshot(store, tid, at, number, relevant, stance, filler)
            state[tid] = (snap, relevant, stance)
            store.save_target(TargetState(
                id=tid, company=f"Company {number:02d}", url=f"https://example.com/{tid}",
                topic="hong-kong-requests", snapshot_id=snap, stance=stance, last_check=at))
        for number in range(changes):
            tid = f"company{number % targets:02d}-hk-requests"
            at = _at(start + step * (number + 1))
            old_snap, old_relevant, old_stance = state[tid]
            kind = rng.choices(("stance", "section", "quiet"), (2, 5, 3))[0]
            stance = rng.choice([s for s in STANCES if s != old_stance]) if kind == "stance" \
                else old_stance
            relevant = old_relevant if kind == "quiet" else _relevant(rng, stance)
            snap = _snapshot(store, tid, at, number + targets, relevant, stance, filler)
            note = f"back to `{stance}`, as on 2021-01-01" if kind == "stance" \
                and rng.random() < 0.2 else None
            store.add_change(Change(
                id=digest(f"{tid}|{at}|{snap}")[:10], target=tid, at=at, kind=kind,
                old_snapshot=old_snap, new_snapshot=snap, old_stance=old_stance,
                new_stance=stance, diff=word_diff(old_relevant, relevant), note=note))
            state[tid] = (snap, relevant, stance)
            if number % 500 == 0:
                for recovered in (False, True):
                    store.add_event(Event(
                        event_type="target_unreachable", target=tid, company=tid, url="",
                        detected_at=datetime.fromisoformat(at.replace("Z", "+00:00")),
                        note="timed out", recovered=recovered, key=f"{tid}:{at}:{recovered}"))
        for tid, (snap, _relevant_text, stance) in state.items():
            store.save_target(TargetState(
                id=tid, company=f"Company {tid[7:9]}", url=f"https://example.com/{tid}",
                topic="hong-kong-requests", snapshot_id=snap, stance=stance,
                last_check=_at(start + step * (changes + 1))))


def _at(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _relevant(rng: random.Random, stance: str | None) -> str:
    """Three passages of about 60 words with the stance sentence in the middle one."""
    passages = [" ".join(rng.choice(WORDS) for _ in range(25)).capitalize() + "." for _ in "abc"]
    passages[1] += " " + SENTENCES.get(stance or "unknown", "")
    return "\n".join(passages)


def _snapshot(store: Store, tid: str, at: str, number: int, relevant: str,
              stance: str | None, filler: str) -> int:
    body = (f"<html><body><nav>{number}</nav><main><p>{relevant}</p>"
            f"<p>{filler}</p></main></body></html>").encode()
    page_hash = store.add_page(body, "text/html; charset=utf-8", f"https://example.com/{tid}", at)
    return store.add_snapshot(tid, at, page_hash, digest(relevant + str(number)),
                              digest(relevant), relevant, stance,
                              [SENTENCES.get(stance or "unknown", "")], "bench-rule")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--page-kb", type=int, default=20, help="size of each stored page")
    parser.add_argument("--keep", metavar="DIR", help="write the site here and keep it")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stancewatch-report-bench-"))
    try:
        store = Store.open(work / "state")
        began = time.perf_counter()
        fill(store, args.changes, args.targets, args.page_kb)
        print(f"filled a store with {args.changes:,} changes over {args.targets} targets "
              f"({args.page_kb} KB pages) in {time.perf_counter() - began:.1f}s")
        out = Path(args.keep) if args.keep else work / "site"
        cpu = time.process_time()
        summary = build_report(store, out)
        cpu = time.process_time() - cpu
        again = build_report(store, out)
        store.close()
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        print(f"report: {summary.changes:,} changes, {summary.files:,} files "
              f"({summary.raw_pages:,} stored pages), {size / 1e6:.0f} MB")
        print(f"built in {summary.seconds:.2f}s wall, {cpu:.2f}s CPU "
              f"({summary.seconds / max(summary.changes, 1) * 1000:.2f} ms per change); "
              f"a rebuild over it (stored pages kept): {again.seconds:.2f}s")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
