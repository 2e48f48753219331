"""`status` at speed: the validated config cached in the store, and tables drawn by hand.

A cached config must be indistinguishable from a fresh validation: the same document, an edit
seen at once, a broken config refused as before, and never a secret in the state. The table
keeps rich's look: long cells wrapped with every word, page words never read as markup, one
row per target, and every line within a terminal narrower than the table.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli, write_config

from monitor import views
from monitor.config import load_config
from monitor.configcache import FIELDS, cache_key, cached_targets
from monitor.store import Store, TargetState, now_text

LONG_ERROR = ("connection refused (DownloadConnectionRefusedError: Connection was refused by "
              "other side: 111: Connection refused.) after three attempts at the transparency "
              "report for Hong Kong")
TARGETS = [
    {"id": "acme-hk", "company": "Acme [bold]Holdings[/bold]", "url": "http://127.0.0.1:9/a"},
    {"id": "beta-hk", "company": "Beta", "url": "http://127.0.0.1:9/b", "schedule": "every 5m",
     "topic": "government-requests"},
    {"id": "gamma-hk", "company": "Gamma", "url": "http://127.0.0.1:9/c",
     "schedule": "0 9 * * 1-5"},
]


@pytest.fixture
def site(tmp_path: Path) -> dict[str, Path]:
    """A config of three targets and a state in which one failed with a long error."""
    config = write_config(tmp_path / "targets.yaml", TARGETS)
    state = tmp_path / "state"
    store = Store.open(state)
    try:
        with store.transaction():
            store.save_target(TargetState(id="acme-hk", last_check=now_text(),
                                          last_result="failed", last_error=LONG_ERROR,
                                          failures=1, company="Acme", url=TARGETS[0]["url"]))
            store.save_target(TargetState(id="beta-hk", last_check=now_text(),
                                          last_result="unchanged", stance="paused"))
            store.add_check("beta-hk", now_text(), 200, "unchanged", 0.1, 10, None)
    finally:
        store.close()
    return {"config": config, "state": state, "cwd": tmp_path}


def status(site: dict[str, Path], *args: str,
           env: dict[str, str] | None = None):
    return run_cli("status", *args, "--config", str(site["config"]), "--state",
                   str(site["state"]), cwd=site["cwd"], env=env)


@pytest.fixture
def store_of(site: dict[str, Path]) -> Iterator[Store]:
    opened = Store.open(site["state"], create=False)
    yield opened
    opened.close()


def without_time(document: dict) -> dict:
    return {key: value for key, value in document.items() if key != "generated_at"}


# --- the config cache ------------------------------------------------------------------


def test_a_cache_hit_gives_the_document_of_a_fresh_validation(site: dict[str, Path]) -> None:
    imports = {"PYTHONPROFILEIMPORTTIME": "1"}  # which modules each run imported, on stderr
    first = status(site, "--json", env=imports)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "pydantic" in first.stderr  # a miss validates
    second = status(site, "--json", env=imports)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "pydantic" not in second.stderr  # a hit does not

    fresh = load_config(site["config"])
    store = Store.open(site["state"], create=False)
    try:
        expected = views.status_document(fresh.targets, store)
    finally:
        store.close()
    assert without_time(json.loads(second.stdout)) == without_time(expected)
    assert without_time(json.loads(first.stdout)) == without_time(expected)
    schedules = {t["id"]: (t["schedule"], t["topic"]) for t in expected["targets"]}
    assert schedules["beta-hk"] == ("every 5m", "government-requests")
    assert schedules["acme-hk"] == ("every 30m", "hong-kong-requests")  # the defaults applied


def test_health_from_the_cache_uses_the_cached_schedules(site: dict[str, Path],
                                                         store_of: Store) -> None:
    """The last pass 20 minutes ago: late for beta-hk (every 5m), not for the 30m default."""
    from datetime import UTC, datetime, timedelta

    before = (datetime.now(UTC) - timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    store_of.db.execute("UPDATE checks SET at = ?", (before,))
    for _ in ("miss", "hit"):
        health = status(site, "--health")
        assert health.returncode == 1, health.stdout
        assert "unhealthy: the last check was at" in health.stderr
        assert "more than 0:10:00 ago" in health.stderr
    assert cached_targets(store_of, cache_key(site["config"]) or "") is not None


def test_an_edited_config_shows_at_once(site: dict[str, Path]) -> None:
    assert "Beta" in status(site).stdout
    renamed = [{**t, "company": "Beta Renamed"} if t["id"] == "beta-hk" else t
               for t in TARGETS]
    write_config(site["config"], renamed)
    table = status(site)
    assert table.returncode == 0, table.stderr
    assert "Beta Renamed" in table.stdout
    document = json.loads(status(site, "--json").stdout)
    assert [t["company"] for t in document["targets"]][1] == "Beta Renamed"
    write_config(site["config"], TARGETS[:2])  # a target removed
    assert [t["id"] for t in json.loads(status(site, "--json").stdout)["targets"]] == [
        "acme-hk", "beta-hk"]


def test_an_upgraded_validating_library_is_a_miss(site: dict[str, Path], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A new pydantic may validate differently: its files written anew change the key."""
    library = tmp_path / "lib" / "validator"
    library.mkdir(parents=True)
    (library / "__init__.py").write_text("VERSION = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "lib"))
    monkeypatch.setattr("monitor.configcache.LIBRARIES", ("pydantic", "validator"))
    before = cache_key(site["config"])
    assert before is not None and cache_key(site["config"]) == before
    stat = (library / "__init__.py").stat()
    os.utime(library / "__init__.py", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert cache_key(site["config"]) not in (None, before)


def test_a_config_broken_after_a_cached_run_is_refused_as_before(
        site: dict[str, Path], store_of: Store) -> None:
    assert status(site, "--json").returncode == 0
    assert cached_targets(store_of, cache_key(site["config"]) or "") is not None
    write_config(site["config"], [TARGETS[0], {**TARGETS[1], "selct": "main"}, TARGETS[2]])
    for args in ((), ("--json",), ("--health",)):
        broken = status(site, *args)
        assert broken.returncode == 2, (args, broken.stdout, broken.stderr)
        assert "key 'selct'" in broken.stderr and "'beta-hk'" in broken.stderr
        assert "Traceback" not in broken.stderr and broken.stdout == ""


def test_the_cache_never_holds_a_secret(site: dict[str, Path], store_of: Store) -> None:
    token, webhook = "xoxb-1234-never-stored", "https://hooks.example/never/stored/5678"
    env = {"SLACK_BOT_TOKEN": token, "SLACK_CHANNEL": "C0TEST", "SLACK_WEBHOOK_URL": webhook}
    assert status(site, "--json", env=env).returncode == 0
    assert status(site, env=env).returncode == 0
    for path in site["state"].iterdir():  # the database, its WAL and anything beside it
        data = path.read_bytes()
        assert token.encode() not in data and webhook.encode() not in data, path.name
    row = store_of.db.execute("SELECT value FROM meta WHERE key = 'config_cache'").fetchone()
    assert row is not None  # the cache was written: the checks above are not vacuous
    assert all(tuple(entry) == FIELDS for entry in json.loads(row["value"])["value"])


def test_a_cache_write_that_cannot_be_made_returns_at_once(site: dict[str, Path],
                                                          store_of: Store) -> None:
    """A read-only state or a pass holding the lock: the write is skipped, not waited for."""
    db = site["state"] / "stancewatch.db"
    read_only = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    read_only.row_factory = sqlite3.Row
    assert Store(read_only, db).save_config_cache("k", [1]) is False
    read_only.close()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert store_of.save_config_cache("k", [1]) is False
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store_of.save_config_cache("k", [1]) is True
    assert store_of.config_cache("k") == [1] and store_of.config_cache("other") is None


# --- the table ---------------------------------------------------------------------------


def test_the_table_wraps_long_cells_keeps_brackets_and_has_a_row_per_target(
        site: dict[str, Path]) -> None:
    result = status(site)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Stancewatch status")
    assert [line[0] for line in lines[1:4]] == ["┏", "┃", "┡"] and lines[-1][0] == "└"
    body = [line for line in lines[4:-1]]
    assert all(line.startswith("│ ") and line.endswith(" │") for line in body)
    assert len({len(line) for line in lines[1:]}) == 1  # one width, every line
    first_cells = [line.split("│")[1].strip() for line in body]
    assert [cell for cell in first_cells if cell] == ["acme-hk", "beta-hk", "gamma-hk"]
    assert "Acme [bold]Holdings[/bold]" in result.stdout  # a page's words, not markup
    assert LONG_ERROR not in result.stdout  # wider than its column: wrapped ...
    assert len(body) > 3
    words = " ".join(line.split("│")[4].strip() for line in body).split()
    assert " ".join(words).count("failed: " + LONG_ERROR) == 1  # ... with every word


def test_a_narrow_terminal_gets_every_column_and_every_word(
        site: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    out = io.StringIO()
    monkeypatch.setattr(views, "_console", lambda width=None: Console(
        file=out, width=width or 72, force_terminal=True, color_system=None, highlight=False,
        soft_wrap=False))
    store = Store.open(site["state"], create=False)
    try:
        views.print_status(views.status_document(load_config(site["config"]).targets, store))
    finally:
        store.close()
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) == 72
    assert lines[1].count("┳") == len(views.STATUS_COLUMNS) - 1  # no column dropped
    assert lines[1].startswith("┏") and lines[1].endswith("┓")  # nor the right edge
    body = lines[[line[0] for line in lines].index("┡") + 1:-1]
    result_cells = " ".join(line.split("│")[4].strip() for line in body).split()
    assert " ".join(result_cells).count("failed: " + LONG_ERROR) == 1


def test_reading_commands_do_not_wait_for_a_pass_that_is_writing(
        site: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A pass holds the database's write lock while it records; status, history and a health
    check only read, so they answer at once instead of queueing behind it (or failing)."""
    from click.testing import CliRunner

    from monitor import store as store_module
    from monitor.cli import main

    args = ["--config", str(site["config"]), "--state", str(site["state"])]
    assert CliRunner().invoke(main, ["status", "--json", *args]).exit_code == 0  # cache kept
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 300)  # a lock is not waited out
    writer = sqlite3.connect(site["state"] / store_module.DB_NAME, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE targets SET stance = 'resumed' WHERE id = 'beta-hk'")
        for command in (["status", "--json"], ["status", "--health"], ["history"]):
            result = CliRunner().invoke(main, [*command, *args])
            assert "locked" not in result.output, command
            assert result.exit_code in (0, 1), (command, result.output)
        document = json.loads(CliRunner().invoke(main, ["status", "--json", *args]).output)
        stances = {t["id"]: t["stance"] for t in document["targets"]}
        assert stances["beta-hk"] == "paused"  # what was committed, not the pass's write
    finally:
        writer.execute("ROLLBACK")
        writer.close()
