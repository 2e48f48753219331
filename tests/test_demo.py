"""`stancewatch demo`, run as a newcomer runs it: offline, sample pages on 127.0.0.1.

The demo must show the point of the product: noise is ignored, a pause and a resumption are
stance alerts, and the report is written. Run in a subprocess (one reactor per process).
"""

from __future__ import annotations

from pathlib import Path

from conftest import run_cli
from fakeslack_server import FakeSlackServer

ALERT = "== Stancewatch: "


def steps(stdout: str) -> dict[str, str]:
    """The narration of each step, by title ("Baseline", "Noise", ...)."""
    parts = stdout.split("\n-- Step ")[1:]
    found = {}
    for part in parts:
        head, _, body = part.partition("\n")
        title = head.split(": ", 1)[1].split(" --", 1)[0]
        found[title] = body.split("\n-- Done", 1)[0]
    return found


def test_the_demo_walks_a_newcomer_through_noise_a_pause_and_a_resumption(tmp_path: Path) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    real_state = tmp_path / "real-state"
    result = run_cli("demo", cwd=cwd, env={"TMPDIR": str(tmp_path),
                                           "STANCEWATCH_STATE": str(real_state)})
    assert result.returncode == 0, result.stdout + result.stderr
    narration = steps(result.stdout)
    assert list(narration) == ["Baseline", "Noise", "A pause", "A wording edit", "A resumption"]
    assert ALERT not in narration["Baseline"]
    assert ALERT not in narration["Noise"]
    assert "recorded quietly" in narration["Noise"]  # the plans edit: recorded, not alerted

    pause = narration["A pause"]
    assert pause.count(ALERT) == 1
    assert "stance changed" in pause and "stance:   complying -> paused" in pause
    assert "Lanternly has paused the processing of data requests" in pause  # the evidence
    assert narration["A wording edit"].count(ALERT) == 2
    resumption = narration["A resumption"]
    assert resumption.count(ALERT) == 1
    assert "stance:   paused -> complying" in resumption
    assert "back to `complying`" in resumption

    homes = list(tmp_path.glob("stancewatch-demo-*"))
    assert len(homes) == 1
    index = homes[0] / "report" / "index.html"
    assert index.is_file() and "Lanternly" in index.read_text(encoding="utf-8")
    assert index.resolve().as_uri() in result.stdout
    assert not real_state.exists() and not (cwd / "state").exists()  # real history untouched


def test_with_slack_configured_the_demo_posts_its_alerts_there(tmp_path: Path) -> None:
    state, out = tmp_path / "state", tmp_path / "site"
    with FakeSlackServer() as slack:
        env = {"SLACK_BOT_TOKEN": "xoxb-demo-secret", "SLACK_CHANNEL": "C0DEMO",
               "SLACK_API_URL": slack.api_url}
        result = run_cli("demo", "--state", str(state), "--out", str(out), cwd=tmp_path,
                         env=env)
        posts = list(slack.messages)
    assert result.returncode == 0, result.stdout + result.stderr
    kinds = [(p["metadata"]["event_type"], p["metadata"]["event_payload"]["target"],
              p["metadata"]["event_payload"]["new_stance"]) for p in posts]
    assert kinds[0] == ("stance_changed", "lanternly-hk-requests", "paused")
    # The wording edit touches both pages; their alerts come in the order the pages arrive.
    assert sorted(kinds[1:3]) == [("section_changed", "harbourbox-privacy", None),
                                  ("section_changed", "lanternly-hk-requests", "paused")]
    assert kinds[3:] == [("stance_changed", "lanternly-hk-requests", "complying")]
    assert "Alerts sent to Slack: 1" in result.stdout
    assert ALERT not in result.stdout  # sent, not printed
    assert "xoxb-demo-secret" not in result.stdout + result.stderr
    assert (out / "index.html").is_file()


def test_the_demo_never_mixes_with_existing_history(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "stancewatch.db").write_bytes(b"")
    result = run_cli("demo", "--state", str(state), cwd=tmp_path)
    assert result.returncode == 2
    assert "holds Stancewatch history already" in result.stderr
    assert "Traceback" not in result.stderr
