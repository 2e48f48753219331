"""Faults are operational, never content: no alert, a clear reason, nothing lost."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import PageServer, run_cli, write_config

from monitor.pagecheck import problem
from monitor.records import FetchedPage

GOOD = ("<html><body><main><p>We have paused the processing of data requests from Hong Kong "
        "authorities.</p></main></body></html>")


def fetched(body: bytes, status: int = 200, ctype: str = "text/html",
            text: str | None = None, error: str | None = None) -> FetchedPage:
    return FetchedPage("t", "http://x/", "http://x/", status, body, datetime.now(UTC), 0.1,
                       content_type=ctype, error=error,
                       text=body.decode("utf-8", "replace") if text is None else text)


@pytest.mark.parametrize("page, words", [
    (fetched(b"x", status=500), "HTTP 500"),
    (fetched(b"x", status=404), "gone"),
    (fetched(b"x", status=403), "refused"),
    (fetched(b"%PDF-1.4", ctype="application/pdf"), "not an HTML page"),
    (fetched(os.urandom(4000)), "garbled"),
    (fetched(b"<html><title>Just a moment...</title>Checking your browser</html>"),
     "bot-challenge"),
    (fetched(b"", status=0, error="timed out (TimeoutError)"), "timed out"),
])
def test_faults_are_named(page: FetchedPage, words: str) -> None:
    found = problem(page)
    assert found is not None and words in found.reason


def test_a_readable_page_and_a_304_are_not_faults() -> None:
    assert problem(fetched(GOOD.encode())) is None
    assert problem(fetched(b"", status=304)) is None


def test_fault_pages_never_alert_and_incidents_open_once(pages: PageServer,
                                                         tmp_path: Path) -> None:
    url = pages.set("/hk", GOOD)
    config = write_config(tmp_path / "t.yaml", [{"id": "acme", "company": "Acme", "url": url}])
    args = ["check", "--config", str(config), "--state", str(tmp_path / "s")]
    assert run_cli(*args, cwd=tmp_path).returncode == 0
    outputs = []
    for body, kwargs in [(os.urandom(3000), {}), (b"<h1>Checking your browser</h1>", {}),
                         (b"down", {"status": 503}), (b"down", {"status": 503})]:
        pages.set("/hk", body, **kwargs)
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    # three failures in a row open one incident, on the third check; no content alert at all
    assert outputs[:2] == ["", ""]
    assert outputs[2].count("page unreachable") == 1 and "stance" not in outputs[2]
    assert outputs[3] == ""
    pages.set("/hk", GOOD)
    back = run_cli(*args, cwd=tmp_path).stdout
    assert back.count("page is back") == 1 and "stance" not in back
    status = json.loads(run_cli("status", "--json", "--config", str(config), "--state",
                                str(tmp_path / "s"), cwd=tmp_path).stdout)
    assert status["targets"][0]["stance"] == "paused"
    assert status["targets"][0]["incident"] is None


def test_a_damaged_database_gets_a_clear_message_and_is_left_alone(tmp_path: Path) -> None:
    state = tmp_path / "s"
    state.mkdir()
    (state / "stancewatch.db").write_bytes(b"this is not a database" * 100)
    config = write_config(tmp_path / "t.yaml",
                          [{"id": "acme", "company": "Acme", "url": "http://127.0.0.1:9/"}])
    result = run_cli("status", "--config", str(config), "--state", str(state), cwd=tmp_path)
    assert result.returncode != 0
    assert "damaged" in result.stderr and "Traceback" not in result.stderr
    assert (state / "stancewatch.db").read_bytes() == b"this is not a database" * 100


def test_history_on_a_missing_state_says_so(tmp_path: Path) -> None:
    result = run_cli("history", "--state", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert result.returncode != 0 and "no Stancewatch state" in result.stderr
