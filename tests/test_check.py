"""End to end: pages change between `check` runs, and the right alert (or none) follows, once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import PageServer, run_cli, write_config
from fakeslack_server import FakeSlackServer

TEMPLATE = """<!doctype html><html><head><title>HK</title>
<script nonce="{nonce}">window.csrf="{nonce}"</script></head><body>
<nav><a href="/a">{nav1}</a> <a href="/b">{nav2}</a></nav>
<div id="cookie-banner">{cookie} <button>Accept</button></div>
<main><h1>Government requests: Hong Kong</h1><p>Last updated {date}</p>
<p>{statement}</p>
<table><tr><td>Requests received</td><td>{requests}</td></tr></table>
<p>Our app lets you share photos with friends.</p></main>
<footer>Request id {nonce}</footer></body></html>"""
COMPLYING = ("We respond to valid legal requests from Hong Kong authorities, and we produce "
             "data when a request is lawful.")
PAUSED = "We have paused the processing of data requests from Hong Kong authorities."


def page(**changes: str) -> str:
    values = {"nonce": "a1", "nav1": "Home", "nav2": "Blog", "cookie": "We use cookies.",
              "date": "May 2, 2020", "statement": COMPLYING, "requests": "241", **changes}
    return TEMPLATE.format(**values)


@pytest.fixture
def setup(pages: PageServer, tmp_path: Path) -> dict[str, object]:
    url = pages.set("/hk", page())
    config = write_config(tmp_path / "targets.yaml", [
        {"id": "acme-hk", "company": "Acme", "url": url, "select": "main"}])
    return {"config": config, "state": tmp_path / "state", "cwd": tmp_path}


def check(setup: dict[str, object], env: dict[str, str] | None = None):
    result = run_cli("check", "--config", str(setup["config"]), "--state", str(setup["state"]),
                     cwd=setup["cwd"], env=env)  # type: ignore[arg-type]
    assert result.returncode == 0, result.stderr
    return result


def test_baseline_noise_edit_and_stance_change_on_the_console(pages: PageServer,
                                                               setup: dict) -> None:
    first = check(setup)
    assert first.stdout == ""  # a baseline sends nothing

    pages.set("/hk", page(nonce="b2", nav1="Blog", nav2="Home", cookie="Cookies help us.",
                          date="June 9, 2021"))
    assert check(setup).stdout == ""  # noise outside the relevant text

    pages.set("/hk", page(requests="302"))
    edited = check(setup).stdout
    assert "section_changed" in edited or "wording" in edited.lower()
    assert "[-241-]" in edited and "{+302+}" in edited

    pages.set("/hk", page(requests="302", statement=PAUSED))
    paused = check(setup).stdout
    assert "paused" in paused and "complying" in paused

    assert check(setup).stdout == ""  # nothing new: nothing said


def test_stance_change_reaches_slack_once_with_contract_metadata(pages: PageServer,
                                                                 setup: dict) -> None:
    with FakeSlackServer() as slack:
        env = {"SLACK_BOT_TOKEN": "xoxb-test-secret", "SLACK_CHANNEL": "C0TEST",
               "SLACK_API_URL": slack.api_url}
        check(setup, env)
        pages.set("/hk", page(statement=PAUSED))
        result = check(setup, env)
        check(setup, env)
        posts = [m for m in slack.messages]
    assert len(posts) == 1
    meta = posts[0]["metadata"]
    assert meta["event_type"] == "stance_changed"
    payload = meta["event_payload"]
    assert payload["target"] == "acme-hk" and payload["company"] == "Acme"
    assert (payload["old_stance"], payload["new_stance"]) == ("complying", "paused")
    assert payload["change_id"] and payload["detected_at"].endswith("Z")
    assert "xoxb-test-secret" not in result.stdout + result.stderr


def test_a_failed_fetch_never_alerts_and_the_next_good_fetch_compares_with_the_last(
        pages: PageServer, setup: dict) -> None:
    check(setup)
    pages.set("/hk", b"oops", status=500)
    assert check(setup).stdout == ""
    pages.set("/hk", page(nonce="zz"))  # same text as before the fault
    assert check(setup).stdout == ""


def test_slack_down_keeps_the_alert_pending_then_delivers_it_once(pages: PageServer,
                                                                  setup: dict) -> None:
    with FakeSlackServer() as slack:
        env = {"SLACK_BOT_TOKEN": "xoxb-test", "SLACK_CHANNEL": "C0TEST",
               "SLACK_API_URL": slack.api_url}
        check(setup, env)
        pages.set("/hk", page(statement=PAUSED))
        slack.fail_next("status", count=50, status=503)
        check(setup, env)
        assert slack.messages == []
        status = run_cli("status", "--json", "--config", str(setup["config"]), "--state",
                         str(setup["state"]), cwd=setup["cwd"])
        assert json.loads(status.stdout)["pending_alerts"] == 1
        slack.fail_next("status", count=0)
        slack._faults.clear()
        check(setup, env)
        check(setup, env)
        assert len(slack.messages) == 1


def test_history_and_show_tell_what_changed(pages: PageServer, setup: dict) -> None:
    check(setup)
    pages.set("/hk", page(statement=PAUSED))
    check(setup)
    args = ["--config", str(setup["config"]), "--state", str(setup["state"])]
    listed = run_cli("history", "--format", "json", *args, cwd=setup["cwd"])
    rows = json.loads(listed.stdout)
    assert [r["kind"] for r in rows] == ["stance"]
    assert rows[0]["new_stance"] == "paused"
    shown = run_cli("show", rows[0]["change_id"], *args, cwd=setup["cwd"])
    assert shown.returncode == 0
    assert "complying -> paused" in shown.stdout and "[-" in shown.stdout
    missing = run_cli("show", "nope", *args, cwd=setup["cwd"])
    assert missing.returncode != 0 and "no change with id" in missing.stderr
    csv_out = run_cli("history", "--format", "csv", *args, cwd=setup["cwd"]).stdout
    assert csv_out.splitlines()[0].startswith("change_id,detected_at,target")


def test_health_is_one_line_and_fails_until_a_pass_completed(setup: dict) -> None:
    args = ("status", "--health", "--config", str(setup["config"]), "--state",
            str(setup["state"]))
    before = run_cli(*args, cwd=setup["cwd"])  # type: ignore[arg-type]
    assert before.returncode != 0
    assert "unhealthy: no check has completed yet" in before.stderr
    check(setup)
    after = run_cli(*args, cwd=setup["cwd"])  # type: ignore[arg-type]
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith("healthy: last pass ") and after.stdout.count("\n") == 1
    table = run_cli(*args[:1], *args[2:], cwd=setup["cwd"])  # type: ignore[arg-type]
    assert "Stancewatch status" in table.stdout and "acme-hk" in table.stdout


def test_a_check_the_store_refuses_fails_the_pass_and_loses_nothing(pages: PageServer,
                                                                    tmp_path: Path) -> None:
    """One target's change cannot be written (the database refuses it): the other target's
    alert still goes out, `check` exits non-zero naming the target, and once the store takes
    writes again the next check records the change and alerts it, once."""
    import sqlite3

    urls = [pages.set(f"/{name}", page()) for name in ("good", "bad")]
    config = write_config(tmp_path / "targets.yaml", [
        {"id": f"acme-{name}", "company": "Acme", "url": url, "select": "main"}
        for name, url in zip(("good", "bad"), urls, strict=True)])
    setup = {"config": config, "state": tmp_path / "state", "cwd": tmp_path}
    check(setup)
    database = tmp_path / "state" / "stancewatch.db"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON snapshots WHEN NEW.target = "
                   "'acme-bad' BEGIN SELECT RAISE(ABORT, 'disk trouble'); END")
    for name in ("good", "bad"):
        pages.set(f"/{name}", page(statement=PAUSED))
    refused = run_cli("check", "--config", str(config), "--state", str(setup["state"]),
                      cwd=tmp_path)
    assert refused.returncode == 1
    assert "acme-bad: this check could not be recorded" in refused.stderr
    assert "1 check(s) could not be recorded" in refused.stderr and "acme-bad" in refused.stderr
    assert "Traceback" not in refused.stderr and "<main>" not in refused.stderr  # no page dump
    assert "(acme-good): stance changed" in refused.stdout
    assert "acme-bad" not in refused.stdout

    with sqlite3.connect(database) as db:
        db.execute("DROP TRIGGER refuse")
    again = check(setup)
    assert "(acme-bad): stance changed" in again.stdout
    assert "acme-good" not in again.stdout  # already alerted: not twice
