"""SIGKILL at any moment of a `check` loses no alert and doubles none.

A `check` is killed at seeded random moments (the delay is the fault being injected, not a
wait for something to happen); the next clean `check` must finish the job: every expected alert
in Slack exactly once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, PageServer, run_cli, write_config
from fakeslack_server import FakeSlackServer

TARGETS = 6
KILLS = 6
COMPLYING = "We respond to valid legal requests from Hong Kong authorities as for any country."
PAUSED = "We have paused the processing of data requests from Hong Kong authorities."


def html(statement: str) -> str:
    return f"<html><body><main><h1>Hong Kong</h1><p>{statement}</p></main></body></html>"


def killed_check(args: list[str], env: dict[str, str], delay: float) -> None:
    process = subprocess.Popen([sys.executable, "-m", "monitor", "check", *args],
                               env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        process.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_killed_checks_neither_lose_nor_double_alerts(pages: PageServer, tmp_path: Path) -> None:
    paths = [f"/t{i}" for i in range(TARGETS)]
    for path in paths:
        pages.set(path, html(COMPLYING))
    config = write_config(tmp_path / "t.yaml", [
        {"id": f"t{i}", "company": f"Company {i}", "url": pages.base + path}
        for i, path in enumerate(paths)])
    args = ["--config", str(config), "--state", str(tmp_path / "state")]
    with FakeSlackServer() as slack:
        env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_CHANNEL": "C0TEST",
               "SLACK_API_URL": slack.api_url}
        started = time.monotonic()
        assert run_cli("check", *args, cwd=tmp_path, env=env).returncode == 0
        bound = max(0.2, time.monotonic() - started)  # how long one check takes here
        for path in paths:
            pages.set(path, html(PAUSED))
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
        full_env.update(env, PYTHONPATH=str(REPO))
        rng = random.Random(7)
        for _ in range(KILLS):
            killed_check(args, full_env, rng.uniform(0.05, 1.0) * bound)
        for _ in range(2):
            result = run_cli("check", *args, cwd=tmp_path, env=env)
            assert result.returncode == 0, result.stderr
        alerts = [m["metadata"]["event_payload"] for m in slack.messages
                  if m["metadata"]["event_type"] == "stance_changed"]
    assert sorted(a["target"] for a in alerts) == [f"t{i}" for i in range(TARGETS)]
    assert {a["new_stance"] for a in alerts} == {"paused"}
