"""Slack alerts: payload shape and limits, escaping of page text, delivery and its failures.

Everything runs against tests/fakeslack_server.py on 127.0.0.1, never the internet.
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from fakeslack_server import FakeSlackServer, block_errors, message_error

from monitor.notify import DeliveryError
from monitor.notify.blocks import (
    HEADER_TEXT_MAX,
    SECTION_TEXT_MAX,
    build_fallback_message,
    build_message,
    clip,
    escape,
)
from monitor.notify.console import ConsoleSink
from monitor.notify.slack import WebApiSink, WebhookSink, sink_from_settings
from monitor.records import (
    EXTRACTION_FAILED,
    SECTION_CHANGED,
    STANCE_CHANGED,
    TARGET_GONE,
    TARGET_UNREACHABLE,
    Event,
)

TOKEN = "xoxb-1111-2222-SeCrEtToKeN"
CHANNEL = "C0ALERTS"
HOSTILE = "Ask <!channel> & <https://evil.example|click here> *now* ~gone~ `rm -rf` &amp;"


def make_event(**changes: object) -> Event:
    """A stance_changed event like the one in CONTRACT.md; keyword arguments override fields."""
    event = Event(
        event_type=STANCE_CHANGED,
        target="google-hk-requests",
        company="Google",
        url="https://example.com/transparency/hk",
        detected_at=datetime(2026, 11, 29, 8, 30, tzinfo=UTC),
        change_id="c0ffee42",
        old_stance="paused",
        new_stance="refusing",
        old_evidence=(
            "We have paused production on new data requests from Hong Kong authorities.",
        ),
        new_evidence=("We will not process requests from Hong Kong authorities.",),
        diff=(
            ("=", "Since July 2020 we "),
            ("-", "have paused production on new data"),
            ("+", "will not process"),
            ("=", " requests from Hong Kong authorities. Requests may still come through MLAT."),
        ),
        rule="will-not-process",
        note="back to `refusing`, as on 2020-07-06",
        key="evt-c0ffee42-stance",
    )
    return replace(event, **changes)


def blocks_of(message: dict, block_type: str) -> list[dict]:
    return [block for block in message["blocks"] if block["type"] == block_type]


def block(message: dict, block_id: str) -> dict:
    return next(b for b in message["blocks"] if b.get("block_id") == block_id)


def all_texts(message: dict) -> str:
    """Every text Slack would render: the fallback and all block texts."""
    return json.dumps({"text": message["text"], "blocks": message["blocks"]}, ensure_ascii=False)


def mrkdwn_texts(message: dict) -> list[str]:
    """The fallback text and every text of every block and element."""
    texts = [message["text"]]
    for item in message["blocks"]:
        texts.append((item.get("text") or {}).get("text", ""))
        texts += [
            element.get("text", "")
            for element in item.get("elements", [])
            if isinstance(element.get("text"), str)
        ]
    return texts


def assert_within_limits(message: dict) -> None:
    assert message_error(message) is None, block_errors(message["blocks"])
    assert len(message["blocks"]) <= 50
    for item in message["blocks"]:
        text = (item.get("text") or {}).get("text", "")
        assert len(text) <= (HEADER_TEXT_MAX if item["type"] == "header" else SECTION_TEXT_MAX)
        for element in item.get("elements", []):
            assert len(element.get("text", "")) <= SECTION_TEXT_MAX


@pytest.fixture
def fake():
    with FakeSlackServer() as server:
        yield server


@pytest.fixture
def sink(fake: FakeSlackServer) -> WebApiSink:
    return WebApiSink(TOKEN, CHANNEL, base_url=fake.api_url, backoff=0)


# --- payload shape ---------------------------------------------------------------------------


def test_stance_changed_stands_out_with_evidence_diff_and_pointers() -> None:
    event = make_event()
    message = build_message(event)

    assert message["metadata"] == event.metadata()
    assert message["text"] == "Google (google-hk-requests): stance changed from paused to refusing"
    assert [b["type"] for b in message["blocks"]] == [
        "header",
        "section",
        "section",
        "section",
        "section",
        "context",
        "actions",
    ]
    assert block(message, "header")["text"]["text"] == "🚨 Google: stance now refusing"
    stance = block(message, "stance")["text"]["text"]
    assert "`paused` → `refusing`" in stance
    assert "`will-not-process`" in stance
    assert "back to `refusing`, as on 2020-07-06" in stance
    assert "> We have paused production" in block(message, "before")["text"]["text"]
    assert "> We will not process" in block(message, "after")["text"]["text"]
    diff = block(message, "diff")["text"]["text"]
    assert "we ~have paused production on new data~ *will not process* requests" in diff
    context = block(message, "context")["elements"][0]["text"]
    for part in (
        "`google-hk-requests`",
        "2026-11-29T08:30:00Z",
        "`c0ffee42`",
        "`stancewatch show c0ffee42`",
    ):
        assert part in context
    button = block(message, "actions")["elements"][0]
    assert button["url"] == event.url
    assert_within_limits(message)


def test_diff_context_is_shortened_around_changes() -> None:
    words = " ".join(f"w{i}" for i in range(40))
    event = make_event(diff=(("=", words + " "), ("-", "old"), ("+", "new"), ("=", " " + words)))
    diff = block(build_message(event), "diff")["text"]["text"]
    assert "… w34 w35 w36 w37 w38 w39 ~old~ *new* w0 w1 w2 w3 w4 w5 …" in diff
    assert "w20" not in diff


def test_section_changed_is_quieter_and_names_the_unchanged_stance() -> None:
    event = make_event(
        event_type=SECTION_CHANGED, old_stance="paused", new_stance="paused", note=None, rule=None
    )
    message = build_message(event)
    assert not blocks_of(message, "header")
    assert "🚨" not in all_texts(message)
    summary = block(message, "summary")["text"]["text"]
    assert "Wording changed on Google's page" in summary
    assert "stance unchanged: `paused`" in summary
    assert block(message, "diff") and block(message, "context") and block(message, "actions")
    assert message["text"] == (
        "Google (google-hk-requests): wording changed, stance unchanged (paused)"
    )
    assert_within_limits(message)


def test_section_changed_without_stances_speaks_of_government_requests() -> None:
    event = make_event(event_type=SECTION_CHANGED, old_stance=None, new_stance=None, note=None)
    message = build_message(event)
    assert "Text about government requests changed" in block(message, "summary")["text"]["text"]
    assert message["metadata"]["event_payload"]["old_stance"] is None
    assert_within_limits(message)


@pytest.mark.parametrize("event_type", [TARGET_UNREACHABLE, TARGET_GONE, EXTRACTION_FAILED])
def test_operational_alert_and_its_recovery(event_type: str) -> None:
    fault = make_event(
        event_type=event_type,
        change_id=None,
        old_stance=None,
        new_stance=None,
        old_evidence=(),
        new_evidence=(),
        diff=(),
        rule=None,
        note="3 failed checks: connection timed out",
    )
    message = build_message(fault)
    summary = block(message, "summary")["text"]["text"]
    assert summary.startswith("⚠️ *Google*")
    assert "3 failed checks: connection timed out" in summary
    assert "3 failed checks" in message["text"]
    assert "stancewatch history --target google-hk-requests" in all_texts(message)
    assert_within_limits(message)

    recovery = build_message(replace(fault, recovered=True, note=None))
    assert block(recovery, "summary")["text"]["text"].startswith("✅ *Google*")
    assert "back" in recovery["text"]
    assert recovery["metadata"]["event_type"] == event_type
    assert_within_limits(recovery)


def test_fallback_message_is_one_section_with_metadata() -> None:
    event = make_event()
    fallback = build_fallback_message(event)
    assert [b["type"] for b in fallback["blocks"]] == ["section"]
    assert fallback["metadata"] == event.metadata()
    assert "stancewatch show c0ffee42" in fallback["blocks"][0]["text"]["text"]


# --- limits ----------------------------------------------------------------------------------


def test_huge_diff_is_cut_with_a_pointer_and_slack_accepts_it(
    fake: FakeSlackServer, sink: WebApiSink
) -> None:
    old = " ".join(f"old{i}" for i in range(10_000))
    new = " ".join(f"new{i}" for i in range(10_000))
    event = make_event(diff=(("=", "Intro "), ("-", old), ("+", new), ("=", " outro")))
    message = build_message(event)
    diff = block(message, "diff")["text"]["text"]
    assert len(diff) <= SECTION_TEXT_MAX
    assert diff.endswith("… diff cut; full diff: `stancewatch show c0ffee42`_")
    assert diff.split("\n")[1].count("~") == 2  # the strike-through pair closed before the cut
    assert_within_limits(message)

    assert sink.deliver(event)
    assert len(fake.messages) == 1


def test_many_small_changes_stay_within_limits(fake: FakeSlackServer, sink: WebApiSink) -> None:
    diff = tuple(
        segment for i in range(10_000) for segment in (("=", f" w{i} "), ("-", "a&b"), ("+", "<c>"))
    )
    message = build_message(make_event(diff=diff))
    text = block(message, "diff")["text"]["text"]
    assert "stancewatch show" in text
    assert not re.search(r"&(?!amp;|lt;|gt;)", text)  # no escape cut in half
    assert_within_limits(message)
    assert sink.deliver(make_event(diff=diff))


def test_sixty_evidence_sentences_are_cut_with_a_count(
    fake: FakeSlackServer, sink: WebApiSink
) -> None:
    sentences = tuple(f"Sentence {i}: " + "we will not process requests " * 8 for i in range(60))
    event = make_event(old_evidence=sentences, new_evidence=sentences)
    message = build_message(event)
    before = block(message, "before")["text"]["text"]
    assert len(before) <= SECTION_TEXT_MAX
    assert re.search(r"… and \d+ more: `stancewatch show c0ffee42`", before)
    assert_within_limits(message)
    assert sink.deliver(event)
    assert len(fake.messages) == 1


def test_long_company_and_note_keep_header_and_text_short() -> None:
    event = make_event(company="Alphabet " * 40, new_stance="refusing", note="x " * 5000)
    message = build_message(event)
    assert len(block(message, "header")["text"]["text"]) <= HEADER_TEXT_MAX
    assert len(message["text"]) <= 300
    assert_within_limits(message)


def test_clip_never_cuts_an_escape_in_half() -> None:
    for limit in range(5, 60):
        clipped = clip(escape("&" * 100), limit)
        assert len(clipped) <= limit
        assert re.fullmatch(r"(&amp;)*…", clipped)


# --- escaping of page text -------------------------------------------------------------------


def test_hostile_page_text_cannot_ping_link_or_fake_the_diff(
    fake: FakeSlackServer, sink: WebApiSink
) -> None:
    event = make_event(
        old_evidence=(HOSTILE,),
        new_evidence=(HOSTILE,),
        diff=(("=", HOSTILE + " "), ("-", HOSTILE), ("+", HOSTILE), ("=", " " + HOSTILE)),
        rule="rule<!here>",
    )
    sink.deliver(event)
    posted = fake.messages[0]
    rendered = json.dumps({"text": posted["text"], "blocks": posted["blocks"]})
    for text in mrkdwn_texts(posted):
        without_quotes = re.sub(r"(?m)^> ", "", text)  # our own block quotes
        assert "<" not in without_quotes and ">" not in without_quotes
    assert "&lt;!channel&gt;" in rendered
    assert "&lt;https://evil.example|click here&gt;" in rendered
    assert not re.search(r"&(?!amp;|lt;|gt;)", rendered)
    assert "&amp;amp;" in rendered  # a literal "&amp;" on the page stays literal
    diff = block(posted, "diff")["text"]["text"]
    assert "*now*" not in diff and "~gone~" not in diff and "`" not in diff.split("\n")[1]
    assert diff.split("\n")[1].count("~") == 2  # only our own strike-through pair


def test_hostile_fault_reason_is_escaped_in_operational_alert() -> None:
    event = make_event(event_type=TARGET_UNREACHABLE, change_id=None, note=HOSTILE, diff=())
    message = build_message(event)
    assert "<" not in all_texts(message)
    assert "&lt;!channel&gt;" in message["text"]


# --- the Web API sink -----------------------------------------------------------------------


def test_deliver_posts_once_with_metadata_and_returns_ts(
    fake: FakeSlackServer, sink: WebApiSink
) -> None:
    event = make_event()
    ts = sink.deliver(event)
    assert ts and fake.messages[0]["ts"] == ts
    body = fake.messages[0]
    assert body["channel"] == CHANNEL
    assert body["metadata"] == event.metadata()
    assert body["unfurl_links"] is False
    assert "thread_ts" not in body


def test_deliver_replies_in_thread_and_broadcasts(fake: FakeSlackServer, sink: WebApiSink) -> None:
    sink.deliver(make_event(thread_ts="1700000000.000100"))
    body = fake.messages[0]
    assert body["thread_ts"] == "1700000000.000100"
    assert body["reply_broadcast"] is True


def test_rate_limit_then_success_delivers_exactly_once(
    fake: FakeSlackServer, sink: WebApiSink
) -> None:
    fake.fail_next("ratelimit", retry_after=0)
    assert sink.deliver(make_event())
    assert len(fake.messages) == 1
    assert [r.fault for r in fake.calls("chat.postMessage")] == ["ratelimit", None]


def test_long_retry_after_is_left_to_the_outbox(fake: FakeSlackServer, sink: WebApiSink) -> None:
    fake.fail_next("ratelimit", retry_after=120)
    with pytest.raises(DeliveryError) as caught:
        sink.deliver(make_event())
    assert caught.value.retryable and caught.value.retry_after == 120
    assert len(fake.calls("chat.postMessage")) == 1  # no two-minute sleep inside the call
    assert fake.messages == []


def test_persistent_server_errors_keep_the_alert_pending(
    fake: FakeSlackServer, sink: WebApiSink
) -> None:
    fake.fail_next("server_error", count=10)
    with pytest.raises(DeliveryError) as caught:
        sink.deliver(make_event())
    assert caught.value.retryable
    assert "HTTP 500" in str(caught.value)
    assert fake.messages == []
    assert len(fake.calls("chat.postMessage")) == 3  # one try and two retries


def test_bad_gateway_then_success(fake: FakeSlackServer, sink: WebApiSink) -> None:
    fake.fail_next("server_error", status=502)
    assert sink.deliver(make_event())
    assert len(fake.messages) == 1


def test_dropped_connection_then_success_delivers_exactly_once(
    fake: FakeSlackServer, sink: WebApiSink
) -> None:
    fake.fail_next("drop")
    assert sink.deliver(make_event())
    assert len(fake.messages) == 1
    # The answer was lost, so the channel was checked before posting again.
    assert [r.path.rsplit("/", 1)[1] for r in fake.requests] == [
        "chat.postMessage",
        "conversations.history",
        "chat.postMessage",
    ]


def test_answer_lost_after_slack_took_the_message_is_not_posted_twice(
    fake: FakeSlackServer, sink: WebApiSink
) -> None:
    fake.fail_next("lose_answer")
    ts = sink.deliver(make_event())
    assert len(fake.messages) == 1
    assert ts == fake.messages[0]["ts"]


def test_find_delivered_finds_an_earlier_post_by_event_id(
    fake: FakeSlackServer, sink: WebApiSink
) -> None:
    posted = make_event()
    ts = sink.deliver(posted)
    sink.deliver(make_event(key="another-event", change_id="other"))
    restarted = WebApiSink(TOKEN, CHANNEL, base_url=fake.api_url, backoff=0)
    assert restarted.find_delivered(posted) == ts
    assert restarted.find_delivered(make_event(key="never-sent")) is None
    history = fake.calls("conversations.history")[-1].body
    assert history["limit"] == "200" and history["include_all_metadata"] in ("1", "true")


def test_find_delivered_without_key_matches_change_and_event_type(
    fake: FakeSlackServer, sink: WebApiSink
) -> None:
    ts = sink.deliver(make_event(key=""))
    assert sink.find_delivered(make_event(key="")) == ts
    assert sink.find_delivered(make_event(key="", event_type=SECTION_CHANGED)) is None


def test_find_delivered_raises_when_it_cannot_look(fake: FakeSlackServer, sink: WebApiSink) -> None:
    fake.fail_next("server_error", count=3)
    with pytest.raises(DeliveryError) as caught:
        sink.find_delivered(make_event())
    assert caught.value.retryable


def test_refused_message_is_sent_once_in_minimal_form(
    fake: FakeSlackServer, sink: WebApiSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    def too_many_blocks(event: Event) -> dict:
        message = build_message(event)
        return {**message, "blocks": [message["blocks"][1]] * 51}

    monkeypatch.setattr("monitor.notify.slack.build_message", too_many_blocks)
    assert sink.deliver(make_event())
    assert len(fake.messages) == 1
    assert len(fake.messages[0]["blocks"]) == 1
    assert fake.messages[0]["metadata"]["event_payload"]["event_id"] == "evt-c0ffee42-stance"


def test_refused_fallback_gives_up(
    fake: FakeSlackServer, sink: WebApiSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    def oversized(event: Event) -> dict:
        return {**build_fallback_message(event), "text": "x" * 40_001}

    monkeypatch.setattr("monitor.notify.slack.build_message", oversized)
    monkeypatch.setattr("monitor.notify.slack.build_fallback_message", oversized)
    with pytest.raises(DeliveryError) as caught:
        sink.deliver(make_event())
    assert not caught.value.retryable and caught.value.code == "msg_too_long"
    assert len(fake.calls("chat.postMessage")) == 2


@pytest.mark.parametrize(
    ("token", "channel", "code"),
    [("xoxp-not-a-bot-token-SeCrEt", CHANNEL, "invalid_auth"), (TOKEN, "", "channel_not_found")],
)
def test_configuration_errors_keep_the_alert_pending(
    fake: FakeSlackServer, token: str, channel: str, code: str
) -> None:
    sink = WebApiSink(token, channel, base_url=fake.api_url, backoff=0)
    with pytest.raises(DeliveryError) as caught:
        sink.deliver(make_event())
    assert caught.value.retryable and caught.value.code == code
    assert "check the Slack settings" in str(caught.value)
    assert token not in str(caught.value)


# --- the webhook sink ------------------------------------------------------------------------


def test_webhook_sends_text_and_blocks(fake: FakeSlackServer) -> None:
    sink = WebhookSink(fake.webhook_url, backoff=0)
    event = make_event()
    assert sink.deliver(event) is None
    assert fake.messages[0]["text"] == build_message(event)["text"]
    assert fake.messages[0]["blocks"] == build_message(event)["blocks"]
    assert sink.find_delivered(event) is None


def test_webhook_server_errors_raise_retryable(fake: FakeSlackServer) -> None:
    sink = WebhookSink(fake.webhook_url, backoff=0)
    fake.fail_next("server_error", count=10)
    with pytest.raises(DeliveryError) as caught:
        sink.deliver(make_event())
    assert caught.value.retryable
    assert fake.messages == []
    assert "webhook-secret" not in str(caught.value) and "webhook-secret" not in repr(sink)


def test_webhook_rate_limit_then_success(fake: FakeSlackServer) -> None:
    sink = WebhookSink(fake.webhook_url, backoff=0)
    fake.fail_next("ratelimit", retry_after=0)
    sink.deliver(make_event())
    assert len(fake.messages) == 1


# --- secrets -------------------------------------------------------------------------------


def test_token_and_webhook_url_never_reach_logs_errors_or_repr(
    fake: FakeSlackServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api = WebApiSink(TOKEN, CHANNEL, base_url=fake.api_url, backoff=0)
    hook = WebhookSink(fake.webhook_url, backoff=0)
    errors = []
    for sink in (api, hook):
        fake.fail_next("drop")
        sink.deliver(make_event())
        fake.fail_next("server_error", count=3)  # one try and two retries
        with pytest.raises(DeliveryError) as caught:
            sink.deliver(make_event())
        errors.append(caught.value)
    fake.fail_next("drop", count=3)
    with pytest.raises(DeliveryError) as caught:
        hook.deliver(make_event())
    errors.append(caught.value)

    assert "Going to retry" in caplog.text  # the SDK did log, and its lines were redacted
    secret_path = fake.webhook_url.split("/webhook/")[1]
    for text in [caplog.text, repr(api), repr(hook), *map(str, errors), *map(repr, errors)]:
        assert TOKEN not in text and "SeCrEt" not in text
        assert secret_path not in text and fake.webhook_url not in text
    # Tracebacks do not chain the SDK's exceptions (which may name the URL) either.
    for error in errors:
        assert error.__cause__ is None
        assert error.__context__ is None or error.__suppress_context__


# --- console and choice of sink -------------------------------------------------------------


def test_console_prints_a_readable_alert_without_terminal_escapes() -> None:
    stream = io.StringIO()
    sink = ConsoleSink(stream)
    event = make_event(new_evidence=("We will not \x1b[31mprocess\x1b[0m requests.",))
    assert sink.deliver(event) is None
    out = stream.getvalue()
    for part in (
        "Google (google-hk-requests): stance changed",
        "paused -> refusing",
        "We have paused production",
        "[-have paused production on new data-]",
        "{+will not process+}",
        event.url,
        "stancewatch show c0ffee42",
    ):
        assert part in out
    assert "\x1b" not in out
    assert sink.find_delivered(event) is None


def test_sink_from_settings_prefers_web_api_then_webhook_then_console() -> None:
    stream = io.StringIO()
    assert isinstance(
        sink_from_settings(TOKEN, CHANNEL, "https://hooks.example/x", None, stream), WebApiSink
    )
    assert isinstance(
        sink_from_settings(TOKEN, None, "https://hooks.example/x", None, stream), WebhookSink
    )
    assert isinstance(sink_from_settings(None, None, None, None, stream), ConsoleSink)
    api = sink_from_settings(TOKEN, CHANNEL, None, "http://127.0.0.1:9/api/", stream)
    assert api.base_url == "http://127.0.0.1:9/api/"
