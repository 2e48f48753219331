"""Config errors name the file, the target and the key; a typo never disables a watch."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import run_cli

from monitor.config import ConfigError, load_config

GOOD = """
defaults:
  schedule: "every 30m"
targets:
  - id: google-hk
    company: Google
    url: https://example.com/hk
    select: main
"""


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "targets.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_config_applies_defaults(tmp_path: Path) -> None:
    cfg = load_config(config(tmp_path, GOOD))
    target = cfg.target("google-hk")
    assert target.select == ("main",)
    assert target.schedule == "every 30m"
    assert target.topic == "hong-kong-requests"


@pytest.mark.parametrize("entry, key, words", [
    ("    selct: main\n", "selct", "unknown key"),
    ("    schedule: every 5 minutes\n", "schedule", "not 'every N'"),
    ("    schedule: '61 * * * *'\n", "schedule", "cron"),
    ("    topic: hk\n", "topic", "unknown topic"),
    ("    select: 'div[['\n", "select", "not a valid CSS selector"),
    ("    render: maybe\n", "render", "boolean"),
])
def test_errors_name_file_target_and_key(tmp_path: Path, entry: str, key: str,
                                         words: str) -> None:
    path = config(tmp_path, GOOD + entry)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert str(path) in message
    assert "'google-hk'" in message
    assert f"key '{key}'" in message
    assert words in message


@pytest.mark.parametrize("text, words", [
    (GOOD + GOOD.split("targets:\n")[1], "duplicate id"),
    (GOOD.replace("https://example.com/hk", "ftp://example.com/hk"), "not an http or https"),
    (GOOD.replace("google-hk", "Google HK"), "lowercase"),
    (GOOD.replace("    company: Google\n", ""), "required key is missing"),
    ("targets: [\n", "not valid YAML at line"),
    ("targets: []\n", "nothing to watch"),
    (GOOD.replace("defaults:", "defualts:"), "key 'defualts': unknown key"),
])
def test_broken_configs_are_refused(tmp_path: Path, text: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        load_config(config(tmp_path, text))


def test_validate_exits_2_with_one_clear_line(tmp_path: Path) -> None:
    path = config(tmp_path, GOOD + "    selct: main\n")
    result = run_cli("validate", "--config", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "key 'selct'" in result.stderr


def test_validate_lists_targets(tmp_path: Path) -> None:
    result = run_cli("validate", "--config", str(config(tmp_path, GOOD)), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "google-hk" in result.stdout and "valid, 1 target" in result.stdout


def test_check_refuses_a_broken_config_before_fetching(tmp_path: Path) -> None:
    path = config(tmp_path, GOOD + "    ignore: 5\n")
    result = run_cli("check", "--config", str(path), "--state", str(tmp_path / "s"),
                     cwd=tmp_path)
    assert result.returncode == 2
    assert "key 'ignore'" in result.stderr
    assert not (tmp_path / "s" / "stancewatch.db").exists()


def test_output_to_a_reader_that_has_gone_ends_quietly(tmp_path: Path) -> None:
    """`stancewatch status --json | head -1`: no error about a broken pipe once head exits."""
    import os
    import subprocess
    import sys

    from conftest import REPO

    path = config(tmp_path, GOOD)
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the first byte: every write fails
    try:
        result = subprocess.run(
            [sys.executable, "-m", "monitor", "status", "--json", "--config", str(path),
             "--state", str(tmp_path / "state")], cwd=tmp_path, stdout=write_end,
            stderr=subprocess.PIPE, text=True, env={"PYTHONPATH": str(REPO)}, timeout=60)
    finally:
        os.close(write_end)
    assert result.returncode == 1
    assert "Broken pipe" not in result.stderr and "Traceback" not in result.stderr
