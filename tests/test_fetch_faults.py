"""Hostile and broken answers: each is recorded with a clear reason, none alerts as content,
the other targets are still checked, and the next good answer is compared with the last one."""

from __future__ import annotations

import gzip
import json
import socket
from pathlib import Path

import pytest
from conftest import PageServer, run_cli, write_config

STATEMENT = "We have paused the processing of data requests from Hong Kong authorities."
PAGE = (f"<html><head><meta charset='utf-8'></head><body><main><p>{STATEMENT}</p></main>"
        "</body></html>")


def checker(pages: PageServer, tmp_path: Path, paths: list[str]):
    targets = [{"id": f"t{i}", "company": f"C{i}", "url": pages.base + path}
               for i, path in enumerate(paths)]
    config = write_config(tmp_path / "t.yaml", targets)
    args = ["--config", str(config), "--state", str(tmp_path / "s")]

    def check() -> str:
        result = run_cli("check", *args, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        return result.stdout

    def status() -> dict[str, dict]:
        doc = json.loads(run_cli("status", "--json", *args, cwd=tmp_path).stdout)
        return {t["id"]: t for t in doc["targets"]}

    return check, status


FAULTS = {
    "reset": ({"reset": True}, "connection"),
    "gone": ({"status": 410}, "gone"),
    "blocked": ({"status": 403}, "refused"),
    "pdf": ({"content_type": "application/pdf"}, "not an HTML page"),
    "huge": ({"headers": {"Content-Length": str(64 * 1024 * 1024)}}, "too large"),
    "bomb": ({"headers": {"Content-Encoding": "gzip"}}, "too large"),
    "challenge": ({}, "bot-challenge"),
}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_a_fault_is_recorded_with_its_reason_and_never_alerts(pages: PageServer, tmp_path: Path,
                                                              name: str) -> None:
    pages.set("/fault", PAGE)
    pages.set("/steady", PAGE)
    check, status = checker(pages, tmp_path, ["/fault", "/steady"])
    check()
    kwargs, reason = FAULTS[name]
    body: bytes = b"%PDF-1.4 binary" if name == "pdf" else b"<html>x</html>"
    if name == "bomb":  # 20 KiB on the wire, 60 MiB once unpacked
        body = gzip.compress(b"<p>" + b" " * (60 * 1024 * 1024))
    if name == "challenge":
        body = b"<html><title>Just a moment...</title><p>Checking your browser</p></html>"
    if name == "huge":
        body = b"<html>" + b" " * 1024
    pages.set("/fault", body, **kwargs)
    assert check() == ""
    states = status()
    assert states["t0"]["last_result"] == "failed"
    assert reason in states["t0"]["last_error"]
    assert states["t1"]["last_result"] in ("unchanged", "not_modified")
    pages.set("/fault", PAGE)
    assert check() == ""  # the same text as before the fault: nothing to say
    assert status()["t0"]["stance"] == "paused"


def test_redirects_are_followed_and_the_new_address_recorded(pages: PageServer,
                                                            tmp_path: Path) -> None:
    pages.set("/old", PAGE)
    check, status = checker(pages, tmp_path, ["/old"])
    check()
    pages.set("/new", PAGE)
    pages.set("/old", b"moved", status=301, headers={"Location": pages.base + "/new"})
    assert check() == ""
    assert status()["t0"]["last_result"] in ("unchanged", "not_modified")


def test_a_redirect_loop_is_a_fault(pages: PageServer, tmp_path: Path) -> None:
    pages.set("/loop", PAGE)
    check, status = checker(pages, tmp_path, ["/loop"])
    check()
    pages.set("/loop", b"again", status=301, headers={"Location": pages.base + "/loop"})
    assert check() == ""
    assert status()["t0"]["last_result"] == "failed"


@pytest.mark.parametrize("codec", ["big5", "gbk", "cp1252"])
def test_legacy_charsets_read_like_utf8(pages: PageServer, tmp_path: Path, codec: str) -> None:
    text = STATEMENT.replace("Hong Kong", "Hong Kong (香港)") if codec != "cp1252" else STATEMENT
    html = PAGE.replace(STATEMENT, text)
    pages.set("/hk", html)
    check, status = checker(pages, tmp_path, ["/hk"])
    check()
    legacy = html.replace("charset='utf-8'", f"charset='{codec}'").encode(codec)
    pages.set("/hk", legacy, content_type="text/html")  # the charset only in <meta>
    assert check() == ""
    assert status()["t0"]["last_result"] in ("unchanged", "quiet")


def test_a_state_directory_that_cannot_be_created_gets_a_clear_message(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    config = write_config(tmp_path / "t.yaml",
                          [{"id": "a", "company": "A", "url": "http://127.0.0.1:9/"}])
    result = run_cli("check", "--config", str(config), "--state", str(blocker / "state"),
                     cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "state" in result.stderr


def test_an_unreachable_site_is_one_warning_not_a_traceback(tmp_path: Path) -> None:
    """Cron mails whatever `check -q` prints: a site that refuses connections is the pass's
    own warning for the target, not Scrapy's retries and robots.txt traceback; -v shows those."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = write_config(tmp_path / "t.yaml", [
        {"id": "down", "company": "Down", "url": f"http://127.0.0.1:{port}/page"}])
    quiet = run_cli("check", "-q", "--config", str(config), "--state", str(tmp_path / "s"),
                    cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    assert "down: failed (connection refused" in quiet.stderr
    assert "Traceback" not in quiet.stderr and "robots.txt" not in quiet.stderr
    assert len(quiet.stderr.strip().splitlines()) == 1
    verbose = run_cli("check", "-v", "--config", str(config), "--state", str(tmp_path / "s"),
                      cwd=tmp_path)
    assert "robots.txt" in verbose.stderr and "Gave up retrying" in verbose.stderr
