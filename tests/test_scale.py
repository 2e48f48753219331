"""A pass over many pages: they are read in a reader process while Scrapy fetches, and the
alerts are exactly those a pass read in one process would send."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import PageServer, run_cli, write_config

TARGETS = 60  # above monitor.reading.POOL_MIN_TARGETS: the pass reads in a reader process
STATEMENTS = {
    "complying": "We respond to valid legal requests from Hong Kong authorities.",
    "paused": "We have paused the processing of data requests from Hong Kong authorities.",
    "refusing": "We will not process requests from Hong Kong authorities.",
}
PAGE = ("<html><body><main><h1>Government requests: Hong Kong</h1><p>{statement}{more}</p>"
        "<p>Page {index} of our help centre.</p></main></body></html>")


def page(index: int, stance: str, more: str = "") -> str:
    return PAGE.format(statement=STATEMENTS[stance], more=more, index=index)


def test_many_pages_read_in_a_reader_process_alert_exactly_the_changed_ones(
        pages: PageServer, tmp_path: Path) -> None:
    stances = ["complying", "paused", "refusing"]
    targets = []
    for index in range(TARGETS):
        url = pages.set(f"/p{index}", page(index, stances[index % 3]))
        targets.append({"id": f"t{index:03d}", "company": f"Company {index}", "url": url})
    config = write_config(tmp_path / "targets.yaml", targets)

    def check() -> tuple[str, str]:
        result = run_cli("check", "--config", str(config), "--state", str(tmp_path / "state"),
                         cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return result.stdout, result.stderr

    alerts, log = check()
    assert "reader process" in log  # the pass did read in a worker
    assert alerts == ""  # baselines only
    for index in range(TARGETS):
        assert f"t{index:03d}: baseline (stance {stances[index % 3]})" in log

    # Six pages change their stance, six their wording, the rest only their bytes.
    for index in range(TARGETS):
        stance, more = stances[index % 3], ""
        if index % 10 == 0:
            stance = "refusing" if stance != "refusing" else "paused"
        elif index % 10 == 5:
            more = " Each request is reviewed by our legal team."
        pages.set(f"/p{index}", page(index, stance, more) + f"<!-- {index} -->")
    alerts, log = check()
    assert "reader process" in log
    stance_alerts = set(re.findall(r"\((t\d{3})\): stance changed", alerts))
    wording_alerts = set(re.findall(r"\((t\d{3})\): wording changed", alerts))
    assert stance_alerts == {f"t{i:03d}" for i in range(0, TARGETS, 10)}
    assert wording_alerts == {f"t{i:03d}" for i in range(5, TARGETS, 10)}
    assert "t000): stance changed ==\nstance:   complying -> refusing" in alerts
