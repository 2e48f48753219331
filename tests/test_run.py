"""`stancewatch run`: the long-running scheduler, driven as a real subprocess.

A local page server (127.0.0.1 only) serves pages the tests change; alerts go to the run's
standard output (no Slack settings). Tests synchronise on what the process logs and what the
server sees, each with a deadline; nothing waits a fixed time in place of an event.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from monitor.checking import state_lock
from monitor.schedule import jitter_for, make_trigger
from monitor.schedules import cron_trigger, cron_weekdays, parse_schedule, shortest_interval

PAUSED = ("<html><body><main><h1>Government requests</h1><p>We have paused the processing of "
          "requests for user data from Hong Kong authorities while we assess the law.</p>"
          "</main></body></html>")
REFUSING = ("<html><body><main><h1>Government requests</h1><p>We will not process requests for "
            "user data from Hong Kong authorities.</p></main></body></html>")
ALERT_LINE = re.compile(r"^== Stancewatch: .* ==$", re.MULTILINE)
DEADLINE = 30.0  # generous for a loaded CI machine; events normally come within a second or two
SHUTDOWN_LIMIT = 10.0  # what a supervisor (Docker, systemd, the testbed) waits after SIGTERM


# --- a page server -----------------------------------------------------------------------


class PageServer:
    """Serves `pages[path]`; a path in `slow` answers only when the test ends. Logs requests."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.slow: set[str] = set()
        self.requests: list[tuple[str, float]] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._server.request_queue_size = 64  # http.server's default backlog of 5 stalls clients
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def count(self, path: str) -> int:
        with self._lock:
            return sum(1 for p, _ in self.requests if p == path)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Quiet: the server keeps its own log."""

            def do_GET(self) -> None:
                with server._lock:
                    server.requests.append((self.path, time.monotonic()))
                if self.path in server.slow:
                    server.release.wait(120)
                body = server.pages.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                # The client may have given up (a hung fetch cancelled at shutdown).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)

        return Handler

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def server() -> Iterator[PageServer]:
    with PageServer() as page_server:
        page_server.pages["/hk"] = PAUSED
        yield page_server


# --- the run process ---------------------------------------------------------------------


def wait_until(condition: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    """Poll `condition` until it is truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class RunProcess:
    """`stancewatch run` in a subprocess, its stdout and stderr collected as they come."""

    def __init__(self, config: Path, state: Path) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("SLACK_", "STANCEWATCH_"))}
        env["PYTHONUNBUFFERED"] = "1"
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "run", "--config", str(config), "--state",
             str(state)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for stream, lines in ((self.process.stdout, self.stdout),
                              (self.process.stderr, self.stderr)):
            threading.Thread(target=self._collect, args=(stream, lines), daemon=True).start()

    @staticmethod
    def _collect(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def output(self) -> str:
        return "".join(self.stdout)

    def log(self) -> str:
        return "".join(self.stderr)

    def log_lines(self, pattern: str, start: int = 0) -> list[int]:
        """Indexes of stderr lines (from `start`) that match `pattern`."""
        return [i for i, line in enumerate(self.stderr[start:], start)
                if re.search(pattern, line)]

    def wait_log(self, pattern: str, start: int = 0, count: int = 1) -> int:
        """Wait for `count` stderr lines matching `pattern` from line `start`; the last index."""
        found = wait_until(lambda: len(self.log_lines(pattern, start)) >= count
                           and self.log_lines(pattern, start),
                           f"{count} log line(s) matching {pattern!r}; log so far:\n{self.log()}")
        return found[count - 1]

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    def stop(self) -> tuple[int, float]:
        """SIGTERM; the exit status and how long it took."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(SHUTDOWN_LIMIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"run ignored SIGTERM for {SHUTDOWN_LIMIT:.0f}s:\n{self.log()}"
                                 ) from None
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def write_config(path: Path, targets: list[tuple[str, str]], typo: bool = False) -> Path:
    """A config of (id, url) targets checked every second; `typo` misspells a key."""
    lines = ["defaults:", '  schedule: "every 1s"', "  politeness: {per_host_concurrency: 4, "
             "delay: 0s}", "targets:"]
    for target_id, url in targets:
        lines += [f"  - id: {target_id}", "    company: Example", f"    url: {url}",
                  "    select: main"]
    if typo:
        lines.append('    scedule: "every 1m"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def start_run(tmp_path: Path) -> Iterator[Callable[[list[tuple[str, str]]], RunProcess]]:
    processes: list[RunProcess] = []

    def start(targets: list[tuple[str, str]]) -> RunProcess:
        config = write_config(tmp_path / "targets.yaml", targets)
        run = RunProcess(config, tmp_path / "state")
        processes.append(run)
        return run

    yield start
    for run in processes:
        run.kill()


PASS_DONE = r"INFO pass done in"


# --- behaviour ---------------------------------------------------------------------------


def test_a_change_alerts_once_while_run_keeps_checking(server: PageServer, start_run) -> None:
    run = start_run([("hk-page", server.url("/hk"))])
    baseline = run.wait_log(r"hk-page: baseline \(stance paused\)")
    run.wait_log(PASS_DONE, baseline)
    assert run.output() == ""  # a baseline sends nothing

    server.pages["/hk"] = REFUSING
    changed = run.wait_log(r"hk-page: changed \(paused -> refusing\)", baseline)
    wait_until(lambda: ALERT_LINE.search(run.output()), "the alert on standard output")
    run.wait_log(PASS_DONE, changed + 1, count=2)  # two more passes over the changed page

    alerts = ALERT_LINE.findall(run.output())
    assert alerts == ["== Stancewatch: Example (hk-page): stance changed =="]
    assert "stance:   paused -> refusing" in run.output()
    assert run.process.poll() is None
    assert run.stop()[0] == 0
    assert "stopped" in run.log()
    assert len(ALERT_LINE.findall(run.output())) == 1


def test_run_holds_the_state_lock_and_status_does_not_need_it(server: PageServer, start_run,
                                                              tmp_path: Path) -> None:
    from filelock import Timeout

    run = start_run([("hk-page", server.url("/hk"))])
    run.wait_log(PASS_DONE)
    with pytest.raises(Timeout):
        state_lock(tmp_path / "state", wait=0).acquire()

    status = subprocess.run(
        [sys.executable, "-m", "monitor", "status", "--json", "--config",
         str(tmp_path / "targets.yaml"), "--state", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=DEADLINE)
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    assert [t["id"] for t in document["targets"]] == ["hk-page"]
    assert document["targets"][0]["stance"] == "paused"
    assert run.stop()[0] == 0


def test_sighup_with_a_broken_config_keeps_the_old_one(server: PageServer, start_run,
                                                       tmp_path: Path) -> None:
    run = start_run([("hk-page", server.url("/hk"))])
    run.wait_log(PASS_DONE)
    write_config(tmp_path / "targets.yaml", [("hk-page", server.url("/hk"))], typo=True)

    run.signal(signal.SIGHUP)
    error = run.wait_log(r"ERROR config not reloaded, still using the previous one: .*"
                         r"'hk-page'.*'scedule'")
    run.wait_log(PASS_DONE, error + 1, count=2)  # still checking, on the old config
    assert run.process.poll() is None
    assert run.stop()[0] == 0


def test_sighup_with_a_valid_config_adds_a_target(server: PageServer, start_run,
                                                  tmp_path: Path) -> None:
    server.pages["/other"] = REFUSING
    run = start_run([("hk-page", server.url("/hk"))])
    run.wait_log(PASS_DONE)
    write_config(tmp_path / "targets.yaml",
                 [("hk-page", server.url("/hk")), ("other-page", server.url("/other"))])

    run.signal(signal.SIGHUP)
    run.wait_log(r"config reloaded: 2 target\(s\); 1 added, 0 removed")
    run.wait_log(r"other-page: baseline \(stance refusing\)")
    wait_until(lambda: server.count("/other") >= 2, "the new target checked on its schedule")
    assert run.stop()[0] == 0


def test_sigterm_during_a_hung_fetch_exits_zero_within_seconds(server: PageServer,
                                                               start_run) -> None:
    server.pages["/slow"] = PAUSED
    server.slow.add("/slow")
    run = start_run([("slow-page", server.url("/slow"))])
    wait_until(lambda: server.count("/slow"), "the fetch to hang")

    code, seconds = run.stop()
    assert code == 0
    assert seconds < SHUTDOWN_LIMIT
    assert "cancelled" in run.log()


# --- schedules ---------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "days"), [
    ("*", "*"),
    ("0", "sun"),
    ("7", "sun"),
    ("1-5", "mon,tue,wed,thu,fri"),
    ("*/2", "sun,tue,thu,sat"),
    ("5-7", "sun,fri,sat"),
    ("sun,wed", "sun,wed"),
])
def test_cron_weekdays_count_from_sunday_as_cron_does(field: str, days: str) -> None:
    assert cron_weekdays(field) == days


def test_cron_day_of_month_or_day_of_week_as_cron_does() -> None:
    trigger = cron_trigger("0 9 1 * 1")  # the 1st of each month and every Monday
    now = datetime(2026, 1, 27, 10, tzinfo=UTC)  # a Tuesday
    fire_times = []
    for _ in range(3):
        now = trigger.get_next_fire_time(None, now)
        fire_times.append(now)
        now = now.replace(minute=1)
    assert [f.date().isoformat() for f in fire_times] == ["2026-02-01", "2026-02-02",
                                                          "2026-02-09"]


def test_jitter_is_small_against_the_interval() -> None:
    assert jitter_for(1) == pytest.approx(0.1)
    assert jitter_for(30 * 60) == 30
    trigger = make_trigger("every 2s")
    assert trigger.interval.total_seconds() == 2 and trigger.jitter == pytest.approx(0.2)


@pytest.mark.parametrize("line", ["* * * * 7", "0 9 * * 5-7", "30 6 1 * sun"])
def test_valid_cron_lines_are_accepted(line: str) -> None:
    assert parse_schedule(line).cron == line


def test_health_interval_of_a_daily_cron_line_is_a_day() -> None:
    assert shortest_interval(["0 6 * * *"]) == 86400.0
    assert shortest_interval(["0 6 * * *", "every 5m"]) == 300.0
