"""`stancewatch report`: the static site is complete, escaped, script-free and fast enough.

The store is built here through the Store API with a hostile page: its markup, a `javascript:`
address and event handlers reach the evidence, the relevant text, the diff and the stored page.
The report must show all of it as text. A real browser (headless Chromium) then opens the pages
and must see the expected words, run no script, raise no error and open no dialog.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import time
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.diff import word_diff
from monitor.records import Event
from monitor.report import MARKER, ReportError, build_report
from monitor.report.text import (
    decode_page,
    diff_excerpt,
    diff_pieces,
    file_name,
    http_url,
    show_time,
)
from monitor.report.timeline import Row, build_timeline
from monitor.store import Change, Store, TargetState, digest

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
JS_LINK = '<a href="javascript:alert(1)">click me</a>'
# Would mark the DOM if it ever ran: what the browser test looks for.
PWN = "<img src=x onerror=\"document.body.setAttribute('data-pwned','1')\">"
HOSTILE = f"{SCRIPT} {IMG} {JS_LINK} {PWN}"
SECRET = "xoxb-secret-token-123456"
HOOK = "https://hooks.slack.com/services/T000/B000/SECRETHOOK"

PAGE_V1 = f"""<html><head><script>alert('raw')</script></head><body>
<main><p>We have paused responding to requests from Hong Kong authorities. {HOSTILE}</p>
<a href="javascript:alert(2)">evil link</a></main></body></html>""".encode()
PAGE_V2 = PAGE_V1.replace(b"have paused responding", b"will not respond")
PAGE_V3 = PAGE_V1 + b"<!-- banner changed -->"

OLD_TEXT = f"We have paused responding to requests from Hong Kong authorities. {HOSTILE}"
NEW_TEXT = f"We will not respond to requests from Hong Kong authorities. {HOSTILE}"


# --- the store --------------------------------------------------------------------------


def _at(day: int, hour: int = 8) -> str:
    return f"2026-0{1 + day // 28}-{1 + day % 28:02d}T{hour:02d}:30:00.000000Z"


def _snap(store: Store, target: str, at: str, body: bytes, relevant: str, stance: str | None,
          evidence: list[str]) -> int:
    page_hash = store.add_page(body, "text/html; charset=utf-8", "https://example.com/", at)
    return store.add_snapshot(target, at, page_hash, digest(body), digest(relevant), relevant,
                              stance, evidence, "test-rule")


def _change(store: Store, target: str, at: str, kind: str, old: int, new: int,
            old_stance: str | None, new_stance: str | None, old_text: str, new_text: str,
            note: str | None = None) -> str:
    change_id = digest(f"{target}|{at}")[:10]
    store.add_change(Change(change_id, target, at, kind, old, new, old_stance, new_stance,
                            word_diff(old_text, new_text), note))
    return change_id


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    """Two targets: a hostile one (markup everywhere, a javascript: address) with a stance
    change, a revert and a quiet edit, an incident and its recovery; and a plain one."""
    store = Store.open(tmp_path / "state")
    with store.transaction():
        evil = "evil-hk"
        s1 = _snap(store, evil, _at(0), PAGE_V1, OLD_TEXT, "paused", [OLD_TEXT])
        s2 = _snap(store, evil, _at(3), PAGE_V2, NEW_TEXT, "refusing", [NEW_TEXT])
        s3 = _snap(store, evil, _at(6), PAGE_V1, OLD_TEXT, "paused", [OLD_TEXT])
        s4 = _snap(store, evil, _at(9), PAGE_V3, OLD_TEXT, "paused", [OLD_TEXT])
        ids = {
            "stance": _change(store, evil, _at(3), "stance", s1, s2, "paused", "refusing",
                              OLD_TEXT, NEW_TEXT),
            "revert": _change(store, evil, _at(6), "stance", s2, s3, "refusing", "paused",
                              NEW_TEXT, OLD_TEXT, note="back to `paused`, as on 2026-01-01"),
            "quiet": _change(store, evil, _at(9), "quiet", s3, s4, "paused", "paused",
                             OLD_TEXT, OLD_TEXT),
        }
        store.save_target(TargetState(
            id=evil, company=f"Evil {SCRIPT} Corp", url="javascript:alert(1)",
            topic="hong-kong-requests", snapshot_id=s4, stance="paused", last_check=_at(10),
            last_result="failed", incident="target_unreachable", incident_since=_at(10)))
        for recovered, day in ((False, 4), (True, 5)):
            store.add_event(Event(
                event_type="target_unreachable", target=evil, company="Evil", url="",
                detected_at=datetime.fromisoformat(_at(day).replace("Z", "+00:00")),
                note=f"timed out {IMG}", recovered=recovered, key=f"{evil}:{recovered}"))
        good = "good-hk"
        g1 = _snap(store, good, _at(1), b"<p>We respond to valid requests.</p>",
                   "We respond to valid requests.", "complying",
                   ["We respond to valid requests."])
        g2 = _snap(store, good, _at(8), b"<p>We respond to all valid requests.</p>",
                   "We respond to all valid requests.", "complying",
                   ["We respond to all valid requests."])
        ids["good"] = _change(store, good, _at(8), "section", g1, g2, "complying", "complying",
                              "We respond to valid requests.", "We respond to all valid requests.")
        store.save_target(TargetState(
            id=good, company="Goodco", url="https://example.com/hk?a=1&b=2",
            topic="hong-kong-requests", snapshot_id=g2, stance="complying", last_check=_at(10)))
    store.ids = ids  # type: ignore[attr-defined]
    return store


@pytest.fixture()
def site(store: Store, tmp_path: Path) -> Path:
    build_report(store, tmp_path / "site")
    return tmp_path / "site"


# --- what a page holds ------------------------------------------------------------------


class Parsed(HTMLParser):
    """Tags, attributes and visible text of one page, as a browser's parser splits them."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.chunks: list[str] = []
        self._skip = 0
        self.feed(source)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("style", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.chunks.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.chunks))


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_site_has_every_page(site: Path, store: Store) -> None:
    ids = store.ids  # type: ignore[attr-defined]
    assert (site / "index.html").is_file()
    assert (site / "targets" / "evil-hk.html").is_file()
    assert (site / "targets" / "good-hk.html").is_file()
    for change_id in ids.values():
        assert (site / "changes" / f"{change_id}.html").is_file()
    raw = list((site / "raw").glob("*.html"))
    assert len(raw) == 5  # PAGE_V1 is stored once, though two snapshots share it


def test_no_page_can_run_anything(site: Path) -> None:
    """No script, no event handler, no javascript: link, a CSP that forbids scripts, and only
    relative or http(s) links, on every page the report wrote."""
    for path in pages(site):
        source = path.read_text(encoding="utf-8")
        parsed = Parsed(source)
        names = [tag for tag, _ in parsed.tags]
        assert "script" not in names, path
        assert "img" not in names and "iframe" not in names and "object" not in names, path
        for tag, attrs in parsed.tags:
            handlers = [name for name in attrs if name.startswith("on")]
            assert not handlers, (path, tag, handlers)
            for name in ("href", "src", "action", "formaction"):
                value = (attrs.get(name) or "").strip()
                if value:
                    assert value.startswith(("https://", "http://")) or not re.match(
                        r"^[a-zA-Z][a-zA-Z0-9+.-]*:", value), (path, tag, value)
        assert re.search(r"javascript:", " ".join(
            str(v) for _, attrs in parsed.tags for v in attrs.values()), re.I) is None, path
        csp = [attrs.get("content") or "" for tag, attrs in parsed.tags
               if tag == "meta" and (attrs.get("http-equiv") or "").lower()
               == "content-security-policy"]
        assert csp and "default-src 'none'" in csp[0] and "script" not in csp[0], path


def test_hostile_text_is_shown_escaped(site: Path, store: Store) -> None:
    ids = store.ids  # type: ignore[attr-defined]
    change = (site / "changes" / f"{ids['stance']}.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in change
    assert "&lt;img src=x onerror=alert(1)&gt;" in change
    assert "&lt;a href=&#34;javascript:alert(1)&#34;&gt;click me&lt;/a&gt;" in change
    text = Parsed(change).text
    assert SCRIPT in text and IMG in text and JS_LINK in text  # visible, as words
    assert f"Evil {SCRIPT} Corp" in text
    index = Parsed((site / "index.html").read_text(encoding="utf-8")).text
    assert f"Evil {SCRIPT} Corp" in index
    target = Parsed((site / "targets" / "evil-hk.html").read_text(encoding="utf-8")).text
    assert f"timed out {IMG}" in target  # an incident's note


def test_stored_page_is_escaped_text(site: Path) -> None:
    raw = [p.read_text(encoding="utf-8") for p in (site / "raw").glob("*.html")]
    hostile = [page for page in raw if "alert(&#39;raw&#39;)" in page]
    assert len(hostile) == 3
    for page in hostile:
        parsed = Parsed(page)
        assert "<script>alert('raw')</script>" in parsed.text
        assert "&lt;script&gt;alert(&#39;raw&#39;)&lt;/script&gt;" in page
        assert '&lt;a href=&#34;javascript:alert(2)&#34;&gt;' in page
        assert "<pre" in page
        assert "javascript:alert(1)" in parsed.text  # the address, as text, not as a link


def test_javascript_address_is_never_a_link(site: Path, store: Store) -> None:
    ids = store.ids  # type: ignore[attr-defined]
    target = (site / "targets" / "evil-hk.html").read_text(encoding="utf-8")
    assert "javascript:alert(1)" in Parsed(target).text
    good = (site / "changes" / f"{ids['good']}.html").read_text(encoding="utf-8")
    links = [attrs.get("href") for tag, attrs in Parsed(good).tags if tag == "a"]
    assert "https://example.com/hk?a=1&b=2" in links  # a good address is a link


def test_index_matrix_and_timeline(site: Path, store: Store) -> None:
    ids = store.ids  # type: ignore[attr-defined]
    index = (site / "index.html").read_text(encoding="utf-8")
    parsed = Parsed(index)
    text = parsed.text
    assert "Goodco" in text and "complying" in text and "paused" in text
    assert "chip s-complying" in index and "chip s-paused" in index
    assert "<svg" in index and 'class="mark s-refusing"' in index  # the stance change marker
    hrefs = {attrs.get("href") for tag, attrs in parsed.tags if tag == "a"}
    assert "targets/evil-hk.html" in hrefs and "targets/good-hk.html" in hrefs
    assert f"changes/{ids['stance']}.html" in hrefs
    assert "open incident" in text  # the evil target's unreachable page
    assert show_time(_at(8)) in text  # Goodco's last change


def test_target_page_newest_first_with_reverts_and_incidents(site: Path, store: Store) -> None:
    ids = store.ids  # type: ignore[attr-defined]
    page = (site / "targets" / "evil-hk.html").read_text(encoding="utf-8")
    history = page.split('class="history"', 1)[1]
    positions = [history.index(f"changes/{ids[k]}.html") for k in ("quiet", "revert", "stance")]
    assert positions == sorted(positions)
    text = Parsed(page).text
    for label in ("stance changed", "outside the relevant text", "revert",
                  "back to paused, as on 2026-01-01", "page unreachable", "recovered",
                  "first reading"):
        assert label in text, label
    assert "is-revert" in page
    assert page.count("entry incident") == 2


def test_change_page_evidence_and_diff(site: Path, store: Store) -> None:
    ids = store.ids  # type: ignore[attr-defined]
    page = (site / "changes" / f"{ids['stance']}.html").read_text(encoding="utf-8")
    assert "<del>have paused responding</del>" in page
    assert "<ins>will not respond</ins>" in page
    text = Parsed(page).text
    assert "Before paused" in text and "After refusing" in text
    assert show_time(_at(3), seconds=True) in text
    assert re.search(r'href="\.\./raw/[0-9a-f]{64}\.html">before', page)
    assert re.search(r'href="\.\./raw/[0-9a-f]{64}\.html">after', page)
    quiet = Parsed((site / "changes" / f"{ids['quiet']}.html").read_text("utf-8")).text
    assert "did not change" in quiet


def test_no_secret_reaches_the_report(store: Store, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", SECRET)
    monkeypatch.setenv("SLACK_WEBHOOK_URL", HOOK)
    result = CliRunner().invoke(main, ["report", "--out", str(tmp_path / "cli-site"),
                                       "--state", str(tmp_path / "state")])
    assert result.exit_code == 0, result.output
    assert "file://" in result.output and "index.html" in result.output
    for path in (tmp_path / "cli-site").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert SECRET.encode() not in data and b"SECRETHOOK" not in data, path


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    missing = CliRunner().invoke(main, ["report", "--state", str(tmp_path)])
    assert missing.exit_code == 2 and "--out" in missing.output
    empty = CliRunner().invoke(main, ["report", "--out", str(tmp_path / "s"),
                                      "--state", str(tmp_path / "none")])
    assert empty.exit_code == 1 and "no Stancewatch state" in empty.output
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    Store.open(tmp_path / "st").close()
    foreign = CliRunner().invoke(main, ["report", "--out", str(tmp_path / "mine"),
                                        "--state", str(tmp_path / "st")])
    assert foreign.exit_code == 1 and "not a Stancewatch report" in foreign.output
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_rebuild_removes_stale_pages_and_keeps_stored_ones(store: Store, tmp_path: Path) -> None:
    out = tmp_path / "site"
    first = build_report(store, out)
    stale = out / "changes" / "gone123456.html"
    stale.write_text("old")
    raw = next((out / "raw").glob("*.html"))
    raw.write_text("kept from the last build")  # reused, not rewritten: named by its hash
    second = build_report(store, out)
    assert not stale.exists()
    assert raw.read_text() == "kept from the last build"
    assert second.raw_pages == 0 and first.raw_pages == 5
    assert second.files == first.files
    assert (out / MARKER).is_file()


def test_refuses_a_file_or_a_foreign_directory(store: Store, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(ReportError, match="not a directory"):
        build_report(store, tmp_path / "file")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.html").write_text("mine")
    with pytest.raises(ReportError, match="not a Stancewatch report"):
        build_report(store, tmp_path / "docs")
    assert (tmp_path / "docs" / "a.html").read_text() == "mine"


def test_hostile_ids_stay_inside_the_site(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state")
    with store.transaction():
        s1 = _snap(store, "../../escape", _at(0), b"a", "a", "paused", [])
        s2 = _snap(store, "../../escape", _at(1), b"b", "b", "refusing", [])
        store.add_change(Change("../../../x", "../../escape", _at(1), "stance", s1, s2,
                                "paused", "refusing", word_diff("a", "b"), None))
    out = tmp_path / "deep" / "site"
    summary = build_report(store, out)
    written = [p.resolve() for p in tmp_path.rglob("*.html")]
    assert len(written) == summary.files == 5
    assert all(out.resolve() in p.parents for p in written)


def test_empty_store_and_stanceless_topic(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "state")
    build_report(store, tmp_path / "empty")
    assert "Nothing has been checked yet" in (tmp_path / "empty" / "index.html").read_text()
    with store.transaction():
        g1 = _snap(store, "gov", _at(0), b"x", "We disclose data.", None, [])
        g2 = _snap(store, "gov", _at(1), b"y", "We disclose some data.", None, [])
        _change(store, "gov", _at(1), "section", g1, g2, None, None, "We disclose data.",
                "We disclose some data.")
        store.save_target(TargetState(id="gov", company="Gov", url="https://e.com/",
                                      topic="government-requests", snapshot_id=g2))
    build_report(store, tmp_path / "gov")
    index = Parsed((tmp_path / "gov" / "index.html").read_text()).text
    assert "no stance" in index and "government-requests" in index
    assert "Government data requests" in index  # no Hong Kong stance headline without one
    change = next((tmp_path / "gov" / "changes").glob("*.html")).read_text()
    assert "Evidence" not in Parsed(change).text and "<ins>some</ins>" in change


# --- the helpers --------------------------------------------------------------------------


@pytest.mark.parametrize("url, ok", [
    ("https://example.com/a?b=1", True), ("http://example.com", True),
    ("javascript:alert(1)", False), ("JavaScript:alert(1)", False),
    (" javascript:alert(1)", False), ("java\tscript:alert(1)", False),
    ("\x01javascript:alert(1)", False), ("data:text/html,<b>", False),
    ("//evil.example/", False), ("https:///nohost", False), ("", False), (None, False),
    ('https://e.com/"onmouseover=alert(1)', True),  # a link, and autoescape quotes it
])
def test_http_url(url: str | None, ok: bool) -> None:
    assert (http_url(url) is not None) is ok


def test_file_names_cannot_escape() -> None:
    assert file_name("google-hk") == "google-hk"
    for hostile in ("../../etc/passwd", "a/b", "..", "", "UPPER", "x" * 300, "a\x00b"):
        name = file_name(hostile)
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]*", name), (hostile, name)
        assert len(name) <= 81


def test_long_unchanged_text_folds_and_excerpt_shows_edits() -> None:
    before = " ".join(f"w{i}" for i in range(400))
    after = before.replace("w200", "CHANGED")
    diff = word_diff(before, after)
    pieces = diff_pieces(diff)
    assert [p.op for p in pieces] == ["fold", "=", "-", "+", "=", "fold"]
    assert sum(p.words for p in pieces) == 400 - 1 - 2 * 40
    excerpt = diff_excerpt(diff)
    assert [p.op for p in excerpt] == ["gap", "=", "-", "+", "=", "gap"]
    assert excerpt[1].text.split()[-1] == "w199" and excerpt[4].text.split()[0] == "w201"
    assert diff_excerpt(word_diff("same", "same")) == []


def test_pages_decode_as_their_charset() -> None:
    big5 = "香港警方的要求".encode("big5")
    assert decode_page(b'<meta charset="big5">' + big5, "text/html") is not None
    assert "香港" in (decode_page(big5, "text/html; charset=big5") or "")
    assert decode_page(b"%PDF-1.4\x00\x01\x02", "application/pdf") is None


def test_timeline_ticks_suit_the_span() -> None:
    row = Row("A", "a", "targets/a.html", "2026-01-01T00:00:00Z", "paused",
              [("2026-01-01T00:00:30Z", "refusing", "stance", "changes/x.html", "t")])
    short = build_timeline([row], "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z")
    assert short is not None and all(":" in label for _, label in short.ticks)
    assert [b.css for b in short.rows[0].bands] == ["paused", "refusing"]
    years = build_timeline([row], "2020-07-01T00:00:00Z", "2026-01-01T00:00:00Z")
    assert years is not None and [label for _, label in years.ticks][:2] == ["2021", "2022"]
    assert build_timeline([row], None, None) is None


def test_ten_thousand_changes_render_in_seconds(tmp_path: Path) -> None:
    """The benchmark's store at a tenth of its size (small pages) must take well under a
    second per 1,000 changes; bench/report_bench.py prints the full figure."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "report_bench", Path(__file__).resolve().parent.parent / "bench" / "report_bench.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    store = Store.open(tmp_path / "state")
    bench.fill(store, 1000, 10, 2)
    summary = build_report(store, tmp_path / "site")
    assert summary.changes == 1000
    assert summary.seconds < 5, summary.seconds


# --- in a real browser --------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="headless Chromium not installed (apt-get install chromium); "
    "CI installs it")


def chromium(url: str, *args: str) -> tuple[str, str]:
    """Run headless Chromium on one page; stdout and the console log (stderr). A JavaScript
    dialog would block it: the timeout turns that into a failure, not a hung test."""
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        done = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
             "--enable-logging=stderr", "--v=0", *args, url],
            capture_output=True, text=True, timeout=90)
    return done.stdout, done.stderr


def console(log: str) -> list[str]:
    return [line for line in log.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


@needs_chromium
def test_browser_can_see_a_script_run(tmp_path: Path) -> None:
    """The harness itself: a page that does run a script is caught, so the tests below would
    catch one in the report."""
    page = tmp_path / "control.html"
    page.write_text("<!doctype html><p>x</p><script>console.log('CANARY');"
                    "document.body.setAttribute('data-pwned','1');nope();</script>")
    dom, log = chromium(page.as_uri(), "--dump-dom")
    assert "data-pwned" in [attrs for tag, attrs in Parsed(dom).tags if tag == "body"][0]
    assert any("CANARY" in line for line in console(log))
    assert any("Uncaught" in line for line in console(log))


@needs_chromium
@pytest.mark.parametrize("which", ["index", "change", "target", "raw"])
def test_browser_renders_pages_without_running_anything(site: Path, store: Store,
                                                        tmp_path: Path, which: str) -> None:
    ids = store.ids  # type: ignore[attr-defined]
    path = {"index": site / "index.html",
            "change": site / "changes" / f"{ids['stance']}.html",
            "target": site / "targets" / "evil-hk.html",
            "raw": next(p for p in (site / "raw").glob("*.html")
                        if "alert(&#39;raw&#39;)" in p.read_text("utf-8"))}[which]
    started = time.monotonic()
    dom, log = chromium(path.as_uri(), "--dump-dom")
    assert time.monotonic() - started < 60  # a dialog would have blocked until the timeout
    parsed = Parsed(dom)
    body = [attrs for tag, attrs in parsed.tags if tag == "body"]
    assert body and "data-pwned" not in body[0]  # PWN never ran
    assert console(log) == [], console(log)  # no error, no CSP report, no script output
    text = parsed.text
    expected = {"index": ["Goodco", f"Evil {SCRIPT} Corp", "complying", "paused",
                          "Stance over time"],
                "change": [f"Evil {SCRIPT} Corp", "paused", "refusing", SCRIPT, IMG,
                           "will not respond"],
                "target": ["revert", "page unreachable", "refusing"],
                "raw": ["<script>alert('raw')</script>", "Stored page"]}[which]
    for words in expected:
        assert words in text, words
    shot = tmp_path / f"{which}.png"
    chromium(path.as_uri(), f"--screenshot={shot}", "--window-size=1280,1600",
             "--hide-scrollbars")
    assert shot.is_file() and shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
