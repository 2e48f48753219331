"""The store, and how the tracker writes to it: unchanged checks in batches, the rest at once.

A check that changes nothing but timestamps is queued and written with others (one
transaction per page was most of the cost of an unchanged pass); a baseline, a change, a fault
or a recovery commits at once, with its events, as before. These tests drive the tracker with
hand-built fetched pages and read the database through a second connection, as `status` would.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import write_config

from monitor.config import Target, load_config
from monitor.extract import watched_part
from monitor.records import FetchedPage
from monitor.store import DB_NAME, SCHEMA_VERSION, CheckRow, Store, TargetState, digest, now_text
from monitor.topics import load_topic
from monitor.track import Tracker

PAGE = """<html><head><script nonce="{token}">var t="{token}"</script></head><body>
<header><form><input type="hidden" name="csrf" value="{token}"></form></header>
<main><h1>Government requests</h1><p>{statement}</p>
<p>Our app lets you share photos with friends.</p></main>
<footer>Request id {token}</footer></body></html>"""
RESPOND = "We respond to valid legal requests from Hong Kong authorities."
PAUSED = "We have paused the processing of data requests from Hong Kong authorities."


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "state")
    yield opened
    opened.close()


@pytest.fixture
def view(store: Store, tmp_path: Path) -> Iterator[Store]:
    """A second connection, as `status` in another process would have."""
    opened = Store.open(tmp_path / "state", create=False)
    yield opened
    opened.close()


@pytest.fixture
def target(tmp_path: Path) -> Target:
    config = write_config(tmp_path / "targets.yaml", [
        {"id": "acme-hk", "company": "Acme", "url": "http://127.0.0.1:9/hk"}])
    return load_config(config).targets[0]


def fetched(token: str = "a1", statement: str = RESPOND, status: int = 200,
            etag: str | None = '"v1"') -> FetchedPage:
    text = "" if status == 304 else PAGE.format(token=token, statement=statement)
    return FetchedPage("acme-hk", "http://127.0.0.1:9/hk", "http://127.0.0.1:9/hk", status,
                       text.encode(), datetime.now(UTC), 0.01, "text/html; charset=utf-8",
                       etag=etag, text=text or None)


def tracker(store: Store, target: Target) -> Tracker:
    """A new pass: states read once, as check_pass does."""
    return Tracker(store, {target.id: target}, store.target_states())


def check_rows(view: Store) -> list[tuple[str, str]]:
    return [(row["target"], row["result"])
            for row in view.db.execute("SELECT target, result FROM checks ORDER BY id")]


def test_unchanged_checks_are_written_at_the_end_and_touch_only_their_columns(
        store: Store, view: Store, target: Target) -> None:
    assert tracker(store, target).handle(fetched()).result == "baseline"
    assert check_rows(view) == [("acme-hk", "baseline")]  # committed at once
    second = tracker(store, target)
    # Meanwhile the outbox (another connection) threads the target's alerts.
    view.db.execute("UPDATE targets SET thread_ts = '123.456' WHERE id = 'acme-hk'")
    outcome = second.handle(fetched(status=304, etag=None))
    assert outcome.result == "not_modified"
    assert check_rows(view) == [("acme-hk", "baseline")]  # queued, not yet written
    second.flush()
    state = view.target_state("acme-hk")
    assert check_rows(view)[-1] == ("acme-hk", "not_modified")
    assert (state.last_result, state.thread_ts, state.etag) == ("not_modified", "123.456",
                                                                 '"v1"')


def test_new_tokens_outside_the_watched_part_need_no_new_reading(store: Store,
                                                                target: Target) -> None:
    tracker(store, target).handle(fetched(token="a1"))
    before = store.target_state("acme-hk")
    second = tracker(store, target)
    rotated = fetched(token="b2", etag=None)
    assert second.handle(rotated).result == "unchanged"
    second.flush()
    after = store.target_state("acme-hk")
    assert after.snapshot_id == before.snapshot_id
    assert after.fragment_hash == before.fragment_hash is not None
    assert (after.page_hash, after.etag) == (digest(rotated.body), None)
    assert len(store.snapshots("acme-hk")) == 1


def test_a_change_commits_with_its_alert_before_the_pass_ends(store: Store, view: Store,
                                                               target: Target) -> None:
    tracker(store, target).handle(fetched())
    second = tracker(store, target)
    outcome = second.handle(fetched(token="c3", statement=PAUSED))
    assert (outcome.result, outcome.events) == ("changed", 1)
    assert [e.new_stance for e in view.undelivered()] == ["paused"]  # no flush needed
    assert view.target_state("acme-hk").stance == "paused"


def test_after_a_failure_the_next_good_answer_is_recorded_at_once(store: Store, view: Store,
                                                                  target: Target) -> None:
    tracker(store, target).handle(fetched())
    tracker(store, target).handle(fetched(status=503))
    assert store.target_state("acme-hk").failures == 1
    third = tracker(store, target)
    assert third.handle(fetched(status=304)).result == "not_modified"
    state = view.target_state("acme-hk")  # without a flush
    assert (state.failures, state.last_error, state.last_result) == (0, None, "not_modified")


def test_an_unchanged_check_adds_at_most_200_bytes(store: Store) -> None:
    ids = [f"company-{n:03d}-hong-kong-requests" for n in range(200)]
    with store.transaction():
        for target_id in ids:
            store.save_target(TargetState(id=target_id, company="Company", url="https://e.com/",
                                          topic="hong-kong-requests", etag='"abc"'))
    before = _database_bytes(store)
    for _ in range(10):
        at = now_text()
        store.record_unchanged(
            [CheckRow(t, at, 304, "not_modified", 0.012, 0) for t in ids],
            [TargetState(id=t, company="Company", url="https://e.com/",
                         topic="hong-kong-requests", etag='"abc"', last_check=at,
                         last_result="not_modified", last_good=at) for t in ids])
    assert (_database_bytes(store) - before) / (10 * len(ids)) <= 200


def _database_bytes(store: Store) -> int:
    pages = store.db.execute("PRAGMA page_count").fetchone()[0]
    return pages * store.db.execute("PRAGMA page_size").fetchone()[0]


def test_a_database_of_the_first_version_gains_the_new_column(tmp_path: Path) -> None:
    state = tmp_path / "state"
    old = Store.open(state)
    old.save_target(TargetState(id="acme-hk", company="Acme", url="https://e.com/", topic="t"))
    old.db.execute("ALTER TABLE targets DROP COLUMN fragment_hash")
    old.db.execute("UPDATE meta SET value = '1' WHERE key = 'schema'")
    old.close()
    reopened = Store.open(state, create=False)
    assert reopened.target_state("acme-hk").fragment_hash is None
    assert reopened.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()[0] \
        == str(SCHEMA_VERSION)
    reopened.close()
    assert (state / DB_NAME).exists()


def test_the_watched_part_digest_changes_with_the_rules_that_read_it() -> None:
    html = PAGE.format(token="x", statement=RESPOND)
    part = watched_part(html, ["main"], [])
    assert part is not None
    same = watched_part(PAGE.format(token="y", statement=RESPOND), ["main"], [])
    assert same is not None and same.digest(load_topic("hong-kong-requests")) == part.digest(
        load_topic("hong-kong-requests"))
    assert part.digest(load_topic("hong-kong-requests")) != part.digest(
        load_topic("government-requests"))
