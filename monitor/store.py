"""The only code that touches the database and the state directory.

SQLite in WAL mode by default. The SQL is plain and portable (no SQLite-only functions in
queries; `?` placeholders are the one thing a PostgreSQL port translates), so a deployment
that outgrows one machine replaces `connect()` and nothing else. SQLAlchemy would do that for
us, but importing it costs 0.3 s, which every `status` and `history` would pay (see
docs/decisions/0002-storage.md).

Raw pages are stored compressed and content-addressed (evidence, and the material `reread`
re-extracts from); an unchanged check writes one small row to `checks`, and the tracker writes
those rows in batches (`record_unchanged`): one transaction per page was most of the cost of a
pass in which nothing changed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from monitor.records import Event

DB_NAME = "stancewatch.db"
SCHEMA_VERSION = 2
# A crashed or concurrent writer holds the lock briefly; wait rather than fail.
BUSY_TIMEOUT_MS = 30_000
# A cache write waits this long at most for a lock, then gives up (the next run tries again).
CACHE_WRITE_TIMEOUT_MS = 200
CONFIG_CACHE = "config_cache"  # the meta row of `save_config_cache`

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS targets (
    id TEXT PRIMARY KEY, company TEXT NOT NULL, url TEXT NOT NULL, topic TEXT NOT NULL,
    etag TEXT, last_modified TEXT, page_hash TEXT, watched_hash TEXT, key_hash TEXT,
    snapshot_id INTEGER, stance TEXT, last_check TEXT, last_result TEXT, last_error TEXT,
    last_good TEXT, final_url TEXT, failures INTEGER NOT NULL DEFAULT 0,
    failure_kind TEXT, incident TEXT, incident_since TEXT, thread_ts TEXT,
    fragment_hash TEXT);
CREATE TABLE IF NOT EXISTS checks (
    id INTEGER PRIMARY KEY, target TEXT NOT NULL, at TEXT NOT NULL, status INTEGER NOT NULL,
    result TEXT NOT NULL, ms INTEGER NOT NULL, bytes INTEGER NOT NULL, error TEXT);
CREATE INDEX IF NOT EXISTS checks_target_at ON checks (target, at);
CREATE TABLE IF NOT EXISTS pages (
    hash TEXT PRIMARY KEY, body BLOB NOT NULL, size INTEGER NOT NULL, content_type TEXT,
    url TEXT NOT NULL, first_seen TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (
    id INTEGER PRIMARY KEY, target TEXT NOT NULL, at TEXT NOT NULL, page_hash TEXT NOT NULL,
    watched_hash TEXT NOT NULL, key_hash TEXT NOT NULL, relevant TEXT NOT NULL,
    stance TEXT, evidence TEXT NOT NULL, rule TEXT);
CREATE INDEX IF NOT EXISTS snapshots_target_key ON snapshots (target, key_hash);
CREATE INDEX IF NOT EXISTS snapshots_target_id ON snapshots (target, id);
CREATE TABLE IF NOT EXISTS changes (
    id TEXT PRIMARY KEY, target TEXT NOT NULL, at TEXT NOT NULL, kind TEXT NOT NULL,
    old_snapshot INTEGER, new_snapshot INTEGER NOT NULL, old_stance TEXT, new_stance TEXT,
    diff TEXT NOT NULL, note TEXT);
CREATE INDEX IF NOT EXISTS changes_at ON changes (at);
CREATE INDEX IF NOT EXISTS changes_target_at ON changes (target, at);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, target TEXT NOT NULL,
    change_id TEXT, event_type TEXT NOT NULL, payload TEXT NOT NULL, created TEXT NOT NULL,
    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, ts TEXT,
    delivered TEXT);
CREATE INDEX IF NOT EXISTS events_status ON events (status, id);
CREATE INDEX IF NOT EXISTS events_change ON events (change_id);
"""
# Columns added after version 1, as (table, column, type): added in place when missing.
ADDED_COLUMNS = (("targets", "fragment_hash", "TEXT"),)
# What an unchanged check updates on its target; nothing else of the row (thread_ts, set by
# the outbox on another connection meanwhile, must survive a batch written later).
UNCHANGED_COLUMNS = ("company", "url", "topic", "etag", "last_modified", "page_hash",
                     "final_url", "fragment_hash", "last_check", "last_result", "last_good")


class StoreError(Exception):
    """The state directory or database cannot be used; the message says why and what to do."""


@dataclass(frozen=True)
class TargetState:
    """What the last checks left for one target (a row of `targets`)."""

    id: str
    etag: str | None = None
    last_modified: str | None = None
    page_hash: str | None = None
    watched_hash: str | None = None
    key_hash: str | None = None
    snapshot_id: int | None = None
    stance: str | None = None
    last_check: str | None = None
    last_result: str | None = None
    last_error: str | None = None
    last_good: str | None = None
    final_url: str | None = None
    failures: int = 0
    failure_kind: str | None = None
    incident: str | None = None
    incident_since: str | None = None
    thread_ts: str | None = None
    fragment_hash: str | None = None  # digest of the watched part the snapshot was read from
    company: str = ""
    url: str = ""
    topic: str = ""

    @property
    def has_baseline(self) -> bool:
        return self.snapshot_id is not None

    @property
    def settled(self) -> bool:
        """No failure run, no open incident: an unchanged check then only moves timestamps."""
        return (self.failures == 0 and self.failure_kind is None and self.incident is None
                and self.incident_since is None and self.last_error is None)


@dataclass(frozen=True)
class CheckRow:
    """One row of `checks`: what one fetch of one target answered and what it meant."""

    target: str
    at: str
    status: int
    result: str
    seconds: float
    size: int
    error: str | None = None

    def values(self) -> tuple[str, str, int, str, int, int, str | None]:
        return (self.target, self.at, self.status, self.result, round(self.seconds * 1000),
                self.size, self.error)


@dataclass(frozen=True)
class Snapshot:
    id: int
    target: str
    at: str
    page_hash: str
    watched_hash: str
    key_hash: str
    relevant: str
    stance: str | None
    evidence: tuple[str, ...]
    rule: str | None


@dataclass(frozen=True)
class Change:
    id: str
    target: str
    at: str
    kind: str  # stance | section | quiet
    old_snapshot: int | None
    new_snapshot: int
    old_stance: str | None
    new_stance: str | None
    diff: tuple[tuple[str, str], ...]
    note: str | None


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def digest(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


class Store:
    """One connection to the state database; every write is a transaction."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.db = connection
        self.path = path

    # --- opening -----------------------------------------------------------------------

    @classmethod
    def open(cls, state_dir: Path, create: bool = True) -> Store:
        path = state_dir / DB_NAME
        if not create and not path.exists():
            raise StoreError(f"{state_dir}: no Stancewatch state here yet (run `stancewatch "
                             "check` first, or point --state / STANCEWATCH_STATE at it)")
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000,
                                         isolation_level=None, check_same_thread=False)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            connection.executescript(SCHEMA)
            _add_missing_columns(connection)
            # Written only when missing: a write waits for any pass that is writing, and
            # reading commands (status, Docker's health check, history) must not.
            if connection.execute("SELECT 1 FROM meta WHERE key = 'schema'").fetchone() is None:
                connection.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)",
                                   (str(SCHEMA_VERSION),))
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(path, exc)) from None
        except OSError as exc:
            raise StoreError(f"{state_dir}: cannot use the state directory: {exc.strerror}"
                             ) from None
        return cls(connection, path)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT: all or nothing, even across a SIGKILL."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise StoreError(_explain(self.path, exc)) from None
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    # --- the config cache (for `status`) ---------------------------------------------------

    def config_cache(self, key: str) -> Any | None:
        """What `save_config_cache` last stored, if it was stored under `key`; else None."""
        row = self.db.execute("SELECT value FROM meta WHERE key = ?",
                              (CONFIG_CACHE,)).fetchone()
        if row is None:
            return None
        try:
            entry = json.loads(row["value"])
        except ValueError:
            return None
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        return entry.get("value")

    def save_config_cache(self, key: str, value: Any) -> bool:
        """Keep one JSON value under `key`, replacing any earlier one. Best effort: False when
        the state cannot be written now (read-only, locked by a pass, disk full), without
        waiting long for a lock: the cache only saves the next reader some time."""
        text = json.dumps({"key": key, "value": value})
        try:
            self.db.execute(f"PRAGMA busy_timeout={CACHE_WRITE_TIMEOUT_MS}")
            try:
                self.db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                                "DO UPDATE SET value = excluded.value", (CONFIG_CACHE, text))
            finally:
                self.db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        except sqlite3.Error:
            return False
        return True

    # --- targets and checks --------------------------------------------------------------

    def target_states(self) -> dict[str, TargetState]:
        rows = self.db.execute("SELECT * FROM targets").fetchall()
        return {row["id"]: TargetState(**dict(row)) for row in rows}

    def target_state(self, target_id: str) -> TargetState:
        row = self.db.execute("SELECT * FROM targets WHERE id = ?", (target_id,)).fetchone()
        return TargetState(**dict(row)) if row else TargetState(id=target_id)

    def save_target(self, state: TargetState) -> None:
        """Upsert; call inside a transaction."""
        fields = state.__dataclass_fields__
        names = list(fields)
        values = [getattr(state, n) for n in names]
        updates = ", ".join(f"{n} = excluded.{n}" for n in names if n != "id")
        self.db.execute(
            f"INSERT INTO targets ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
            f"ON CONFLICT (id) DO UPDATE SET {updates}", values)

    def add_check(self, target: str, at: str, status: int, result: str, seconds: float,
                  size: int, error: str | None) -> None:
        self.db.execute(CHECK_INSERT, CheckRow(target, at, status, result, seconds, size,
                                               error).values())

    def record_unchanged(self, checks: Sequence[CheckRow], states: Sequence[TargetState]) -> None:
        """Many unchanged checks in one transaction: their rows, and their targets' timestamps
        and validators (only UNCHANGED_COLUMNS: the rest of each row is left as it is)."""
        if not checks and not states:
            return
        assignments = ", ".join(f"{name} = ?" for name in UNCHANGED_COLUMNS)
        with self.transaction():
            self.db.executemany(CHECK_INSERT, [check.values() for check in checks])
            self.db.executemany(
                f"UPDATE targets SET {assignments} WHERE id = ?",
                [(*(getattr(state, name) for name in UNCHANGED_COLUMNS), state.id)
                 for state in states])

    def last_check_time(self) -> str | None:
        """When the latest check was made. Asked per target, through the (target, at) index:
        a plain MAX(at) reads the whole table, which grows by a row per check for years."""
        row = self.db.execute(
            "SELECT MAX((SELECT MAX(at) FROM checks WHERE checks.target = targets.id)) AS at "
            "FROM targets").fetchone()
        return row["at"] if row else None

    # --- pages and snapshots -------------------------------------------------------------

    def add_page(self, body: bytes, content_type: str, url: str, at: str) -> str:
        page_hash = digest(body)
        self.db.execute(
            "INSERT INTO pages (hash, body, size, content_type, url, first_seen) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING",
            (page_hash, zlib.compress(body, 6), len(body), content_type, url, at))
        return page_hash

    def page(self, page_hash: str) -> tuple[bytes, str] | None:
        row = self.db.execute("SELECT body, content_type FROM pages WHERE hash = ?",
                              (page_hash,)).fetchone()
        if row is None:
            return None
        return zlib.decompress(row["body"]), row["content_type"] or ""

    def add_snapshot(self, target: str, at: str, page_hash: str, watched_hash: str,
                     key_hash: str, relevant: str, stance: str | None,
                     evidence: Sequence[str], rule: str | None) -> int:
        cursor = self.db.execute(
            "INSERT INTO snapshots (target, at, page_hash, watched_hash, key_hash, relevant, "
            "stance, evidence, rule) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (target, at, page_hash, watched_hash, key_hash, relevant, stance,
             json.dumps(list(evidence)), rule))
        return int(cursor.lastrowid or 0)

    def snapshot(self, snapshot_id: int | None) -> Snapshot | None:
        if snapshot_id is None:
            return None
        row = self.db.execute("SELECT * FROM snapshots WHERE id = ?", (snapshot_id,)).fetchone()
        return _snapshot(row) if row else None

    def snapshots(self, target: str | None = None) -> list[Snapshot]:
        sql, args = "SELECT * FROM snapshots", ()
        if target:
            sql, args = sql + " WHERE target = ?", (target,)
        return [_snapshot(r) for r in self.db.execute(sql + " ORDER BY id", args)]

    def update_reading(self, snapshot_id: int, relevant: str, key_hash: str,
                       stance: str | None, evidence: Sequence[str], rule: str | None) -> None:
        self.db.execute(
            "UPDATE snapshots SET relevant = ?, key_hash = ?, stance = ?, evidence = ?, rule = ? "
            "WHERE id = ?", (relevant, key_hash, stance, json.dumps(list(evidence)), rule,
                             snapshot_id))

    def latest_snapshot(self, target: str) -> Snapshot | None:
        row = self.db.execute("SELECT * FROM snapshots WHERE target = ? ORDER BY id DESC "
                              "LIMIT 1", (target,)).fetchone()
        return _snapshot(row) if row else None

    def set_target_reading(self, target: str, stance: str | None, key_hash: str) -> None:
        self.db.execute("UPDATE targets SET stance = ?, key_hash = ? WHERE id = ?",
                        (stance, key_hash, target))

    def sync_change_stances(self, target: str) -> None:
        """After a re-read: each change's stances are those of its snapshots."""
        self.db.execute(
            "UPDATE changes SET "
            "old_stance = (SELECT stance FROM snapshots WHERE id = changes.old_snapshot), "
            "new_stance = (SELECT stance FROM snapshots WHERE id = changes.new_snapshot) "
            "WHERE target = ?", (target,))

    def earlier_wording(self, target: str, key_hash: str, before_id: int) -> Snapshot | None:
        """The latest earlier snapshot with this same relevant text, for revert notes."""
        row = self.db.execute(
            "SELECT * FROM snapshots WHERE target = ? AND key_hash = ? AND id < ? "
            "ORDER BY id DESC LIMIT 1", (target, key_hash, before_id)).fetchone()
        return _snapshot(row) if row else None

    def earlier_stance(self, target: str, stance: str, before_id: int) -> Snapshot | None:
        """When this target first held `stance` in its latest earlier stretch of it.

        Reads back from the newest snapshot and stops at the stretch's start, not at the
        beginning of a history that grows by a snapshot per change for years."""
        cursor = self.db.execute(
            "SELECT * FROM snapshots WHERE target = ? AND id < ? ORDER BY id DESC",
            (target, before_id))
        found = None
        try:
            for row in cursor:
                if row["stance"] == stance:
                    found = row
                elif found is not None:
                    break
        finally:
            cursor.close()
        return _snapshot(found) if found else None

    # --- changes ---------------------------------------------------------------------------

    def add_change(self, change: Change) -> None:
        self.db.execute(
            "INSERT INTO changes (id, target, at, kind, old_snapshot, new_snapshot, old_stance, "
            "new_stance, diff, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (change.id, change.target, change.at, change.kind, change.old_snapshot,
             change.new_snapshot, change.old_stance, change.new_stance,
             json.dumps([list(seg) for seg in change.diff]), change.note))

    def change(self, change_id: str) -> Change | None:
        row = self.db.execute("SELECT * FROM changes WHERE id = ?", (change_id,)).fetchone()
        if row is None:  # accept a unique prefix, as git does
            rows = self.db.execute("SELECT * FROM changes WHERE id LIKE ? LIMIT 2",
                                   (change_id + "%",)).fetchall()
            row = rows[0] if len(rows) == 1 else None
        return _change(row) if row else None

    def changes(self, target: str | None = None, since: str | None = None,
                include_quiet: bool = True, limit: int | None = None) -> list[Change]:
        sql, args = "SELECT * FROM changes WHERE 1 = 1", []
        if target:
            sql += " AND target = ?"
            args.append(target)
        if since:
            sql += " AND at >= ?"
            args.append(since)
        if not include_quiet:
            sql += " AND kind <> 'quiet'"
        sql += " ORDER BY at DESC, id DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        return [_change(r) for r in self.db.execute(sql, args)]

    # --- the outbox ------------------------------------------------------------------------

    def add_event(self, event: Event) -> None:
        self.db.execute(
            "INSERT INTO events (key, target, change_id, event_type, payload, created, status) "
            "VALUES (?, ?, ?, ?, ?, ?, 'pending') ON CONFLICT (key) DO NOTHING",
            (event.key, event.target, event.change_id, event.event_type, _event_json(event),
             now_text()))

    def undelivered(self) -> list[Event]:
        rows = self.db.execute(
            "SELECT * FROM events WHERE status IN ('pending', 'sending') ORDER BY id").fetchall()
        return [_event(row) for row in rows]

    def event_status(self, event_id: int) -> str:
        row = self.db.execute("SELECT status FROM events WHERE id = ?", (event_id,)).fetchone()
        return row["status"] if row else "missing"

    def mark_sending(self, event_id: int) -> None:
        with self.transaction():
            self.db.execute("UPDATE events SET status = 'sending', attempts = attempts + 1 "
                            "WHERE id = ?", (event_id,))

    def mark_delivered(self, event: Event, ts: str | None) -> None:
        with self.transaction():
            self.db.execute("UPDATE events SET status = 'delivered', ts = ?, delivered = ?, "
                            "last_error = NULL WHERE id = ?", (ts, now_text(), event.id))
            if ts and event.event_type in ("stance_changed", "section_changed"):
                self.db.execute("UPDATE targets SET thread_ts = ? WHERE id = ?",
                                (ts, event.target))

    def mark_failed(self, event_id: int, error: str) -> None:
        """Record why delivery failed. The event stays `sending`: Slack may have taken it
        before the failure, so the next attempt looks in the channel first."""
        with self.transaction():
            self.db.execute("UPDATE events SET last_error = ? WHERE id = ?",
                            (error[:500], event_id))

    def pending_counts(self) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT target, COUNT(*) AS n FROM events WHERE status IN ('pending', 'sending') "
            "GROUP BY target").fetchall()
        return {row["target"]: row["n"] for row in rows}

    def events_for_change(self, change_id: str) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT event_type, status, ts, attempts, last_error FROM events "
                               "WHERE change_id = ? ORDER BY id", (change_id,)).fetchall()
        return [dict(r) for r in rows]

    def incidents(self, target: str | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT target, event_type, payload, created FROM events WHERE event_type IN "
               "('target_unreachable', 'target_gone', 'extraction_failed')")
        args: tuple[str, ...] = ()
        if target:
            sql, args = sql + " AND target = ?", (target,)
        rows = self.db.execute(sql + " ORDER BY id", args).fetchall()
        return [dict(r) for r in rows]


CHECK_INSERT = ("INSERT INTO checks (target, at, status, result, ms, bytes, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)")


def _add_missing_columns(connection: sqlite3.Connection) -> None:
    """Bring a database of an earlier version up to date (added columns only)."""
    for table, column, kind in ADDED_COLUMNS:
        names = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        if column in names:
            continue
        try:
            connection.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        except sqlite3.OperationalError as exc:  # another process added it just now
            if "duplicate column" not in str(exc):
                raise
        connection.execute("UPDATE meta SET value = ? WHERE key = 'schema'",
                           (str(SCHEMA_VERSION),))


def _explain(path: Path, exc: sqlite3.DatabaseError) -> str:
    text = str(exc)
    if "not a database" in text or "malformed" in text:
        return (f"{path}: the state database is damaged ({text}). Nothing was changed; "
                "restore it from a backup or move it aside to start a new history.")
    if "readonly" in text or "unable to open" in text:
        return f"{path}: cannot write the state database ({text}); check the permissions."
    if "locked" in text:
        return f"{path}: the database is locked by another Stancewatch process ({text})."
    return f"{path}: database error: {text}"


def _snapshot(row: sqlite3.Row) -> Snapshot:
    data = dict(row)
    data["evidence"] = tuple(json.loads(data["evidence"]))
    return Snapshot(**data)


def _change(row: sqlite3.Row) -> Change:
    data = dict(row)
    data["diff"] = tuple((op, text) for op, text in json.loads(data["diff"]))
    return Change(**data)


def _event_json(event: Event) -> str:
    data = {name: getattr(event, name) for name in event.__dataclass_fields__
            if name not in ("id",)}
    data["detected_at"] = event.detected_at.isoformat()
    data["diff"] = [list(seg) for seg in event.diff]
    return json.dumps(data)


def _event(row: sqlite3.Row) -> Event:
    data = json.loads(row["payload"])
    data["detected_at"] = datetime.fromisoformat(data["detected_at"])
    data["diff"] = tuple((op, text) for op, text in data["diff"])
    for name in ("old_evidence", "new_evidence"):
        data[name] = tuple(data[name])
    data["id"] = row["id"]
    data["extra"] = {**data.get("extra", {}), "status": row["status"],
                     "attempts": row["attempts"]}
    return Event(**data)
