"""`stancewatch try URL`, run as a user runs it against a page served on 127.0.0.1.

What a reporter needs before adding a page: the passages that would be watched, the stance and
the sentence it rests on, what is left out as noise, and an entry that pastes into targets.yaml
as is. And nothing may be stored.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import yaml
from conftest import PageServer, run_cli

from monitor.config import load_config
from monitor.trying import suggest_id

PAGE = """<!doctype html><html><head><title>Government requests</title>
<meta property="og:site_name" content="Acme Chat">
<script>window.token = "t-81";</script></head><body>
<nav><a href="/">Home</a> <a href="/blog">Blog</a></nav>
<main>
<div class="cookie-notice">We use cookies to improve Acme Chat. <button>Accept</button></div>
<h1>Requests from Hong Kong authorities</h1>
<p>Last updated: July 6, 2020</p>
<p>We have paused the processing of data requests from Hong Kong authorities while we assess
the new law.</p>
<p>Acme Chat lets you message friends and family.</p>
<p>Group chats hold up to 500 people, and every chat can be muted.</p>
</main>
<footer>Request id 77a1</footer></body></html>"""
STATEMENT = ("We have paused the processing of data requests from Hong Kong authorities while we "
             "assess the new law.")


def config_entry(stdout: str) -> list[dict]:
    """The YAML block printed under "Config entry", as the user would paste it."""
    block = stdout.split("Config entry", 1)[1].split("\n", 1)[1].split("\n\n", 1)[0]
    return yaml.safe_load(textwrap.dedent(block))


def test_try_shows_what_would_be_watched_and_an_entry_that_loads(pages: PageServer,
                                                                 tmp_path: Path) -> None:
    url = pages.set("/acme/hk", PAGE)
    result = run_cli("try", url, "--select", "main", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    relevant = out.split("Relevant passages", 1)[1].split("Stance:", 1)[0]
    assert STATEMENT in relevant
    assert "Acme Chat lets you message" not in relevant
    assert "Stance: paused" in out
    assert f'evidence: "{STATEMENT}"' in out
    dropped = out.split("Dropped as noise", 1)[1].split("Config entry", 1)[0]
    assert "Last updated: July 6, 2020" in dropped
    assert "We use cookies to improve Acme Chat" in dropped
    elsewhere = out.split("Elsewhere in the watched part", 1)[1].split("Dropped", 1)[0]
    assert "Acme Chat lets you message friends and family." in elsewhere

    entry = config_entry(out)
    assert entry == [{"id": "local-acme-hk", "company": "Acme Chat", "url": url,
                      "select": "main"}]
    pasted = tmp_path / "targets.yaml"
    pasted.write_text(yaml.safe_dump({"targets": entry}), encoding="utf-8")
    assert [t.url for t in load_config(pasted).targets] == [url]

    assert "Nothing was stored." in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["targets.yaml"]  # no state/ made


def test_try_without_select_finds_the_main_content(pages: PageServer, tmp_path: Path) -> None:
    url = pages.set("/acme/hk", PAGE)
    result = run_cli("try", url, "--topic", "government-requests", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Watched part: <main>, found automatically" in result.stdout
    assert "Stance: none read" in result.stdout  # this topic has no stance vocabulary
    assert "topic: government-requests" in result.stdout.split("Config entry", 1)[1]


def test_a_bad_option_is_one_line_and_fetches_nothing(pages: PageServer, tmp_path: Path) -> None:
    url = pages.set("/acme/hk", PAGE)
    for args, says in [(("--topic", "weather"), "--topic 'weather': unknown topic"),
                       (("--select", "main["), "--select: 'main[' is not a valid CSS selector")]:
        result = run_cli("try", url, *args, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.startswith(f"stancewatch: {says}")
        assert "Traceback" not in result.stderr
    result = run_cli("try", "ftp://127.0.0.1/page", cwd=tmp_path)
    assert result.returncode == 2 and "is not an http or https URL" in result.stderr
    assert pages.requests == []


def test_a_page_that_cannot_be_watched_says_why(pages: PageServer, tmp_path: Path) -> None:
    gone = run_cli("try", pages.base + "/missing", cwd=tmp_path)
    assert gone.returncode == 1 and "HTTP 404" in gone.stderr
    url = pages.set("/acme/hk", PAGE)
    nothing = run_cli("try", url, "--select", "#policy", cwd=tmp_path)
    assert nothing.returncode == 1 and "select #policy matched nothing" in nothing.stderr


def test_suggested_ids_name_the_site_and_the_page() -> None:
    cases = {
        "https://transparency.meta.com/reports/government-data-requests/country/HK/":
            "meta-government-data-requests-hk",
        "https://help.x.com/en/rules-and-policies/x-law-enforcement-support":
            "x-law-enforcement-support",
        "https://telegram.org/faq": "telegram-faq",
        "https://www.bbc.co.uk/": "bbc-page",
        "https://faq.whatsapp.com/444002211197967": "whatsapp-page",
    }
    assert {url: suggest_id(url) for url in cases} == cases
