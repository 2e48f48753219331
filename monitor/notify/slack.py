"""Deliver alerts to Slack: the Web API (chat.postMessage) or an incoming webhook.

The only module that imports slack-sdk. Errors become DeliveryError with a message built from
Slack's error codes, so neither the token nor the webhook URL (both secrets) can reach a log, an
exception or the state. A delivery never loses an alert silently: outages, rate limits and
configuration mistakes keep it pending; a message Slack refuses is retried once in a minimal form.
"""

from __future__ import annotations

import http.client
import logging
import random
import re
import time
from collections.abc import Mapping
from typing import IO, Any
from urllib.error import URLError
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    RetryHandler,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.jitter import Jitter
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from monitor.notify import DeliveryError, Sink
from monitor.notify.blocks import build_fallback_message, build_message
from monitor.notify.console import ConsoleSink
from monitor.records import Event

DEFAULT_API_URL = "https://slack.com/api/"
# A check cycle waits for delivery: give up on one call after this long and retry on a later pass.
TIMEOUT_SECONDS = 10
# Retries inside one delivery; anything longer is the outbox's job on its next pass.
MAX_RETRIES = 2
# The sync client sleeps through Retry-After; a longer wait would stall the whole check cycle, so
# beyond this the alert stays pending and the outbox tries again later.
MAX_RETRY_AFTER_SECONDS = 30
# First pause before retrying a server error (then doubled): Slack's own default.
BACKOFF_SECONDS = 0.5
# conversations.history page looked through for an alert that may already be posted: a crash
# leaves at most one pass of alerts unrecorded, far fewer than this.
HISTORY_LIMIT = 200
# Slack retries 500 and 503 only; 502 and 504 are the same kind of passing outage.
SERVER_ERROR_STATUSES = (500, 502, 503, 504)
# Slack refuses the message itself: resend it in the minimal fallback form, once.
CONTENT_ERRORS = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text"})
# The token or channel is wrong: someone must fix the settings; the alert waits for them.
CONFIG_ERRORS = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "no_service",
        "no_service_id",
        "no_team",
        "team_disabled",
        "channel_is_archived",
        "action_prohibited",
    }
)
_ERROR_CODE = re.compile(r"^[a-z0-9_]{1,60}$")

log = logging.getLogger(__name__)


class _Redactor(logging.Filter):
    """Replace the secrets of every sink in the SDK's log lines.

    slack-sdk logs the request URL (the webhook URL is the secret itself) when it retries.
    """

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def redact(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "<redacted>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        return True


_REDACTOR = _Redactor()
# The logger handed to slack-sdk. At DEBUG the SDK dumps whole requests and the webhook URL;
# INFO keeps its retry notices (redacted) and leaves those out.
_SDK_LOG = logging.getLogger(f"{__name__}.sdk")
_SDK_LOG.setLevel(logging.INFO)
_SDK_LOG.addFilter(_REDACTOR)


def _register_secret(secret: str) -> None:
    """Hide a secret (and for a URL, its path too) from every SDK log line."""
    if not secret:
        return
    _REDACTOR.secrets.add(secret)
    path = urlsplit(secret).path if "://" in secret else ""
    if len(path) > 1:
        _REDACTOR.secrets.add(path)


# --- retry handlers ----------------------------------------------------------------------------


class _ProportionalJitter(Jitter):
    """Up to a quarter more than the interval: spreads retries, and a zero interval stays zero."""

    def recalculate(self, duration: float) -> float:
        return duration * (1 + random.random() / 4)


class _BoundedRateLimitHandler(RateLimitErrorRetryHandler):
    """Honour a 429's Retry-After (0 included) unless it is too long to wait for now."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if not super()._can_retry(state=state, request=request, response=response, error=error):
            return False
        return _retry_after(response.headers if response else {}) <= MAX_RETRY_AFTER_SECONDS

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        wait = _retry_after(response.headers if response else {})
        time.sleep(_ProportionalJitter().recalculate(wait))
        state.increment_current_attempt()


class _ServerErrorHandler(ServerErrorRetryHandler):
    """ServerErrorRetryHandler that also retries 502 and 504."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        return response is not None and response.status_code in SERVER_ERROR_STATUSES


def _retry_after(headers: Mapping[str, str | list[str]]) -> float:
    """Seconds a 429 asks us to wait (1 when it does not say, as Slack's handler assumes)."""
    for name, values in headers.items():
        if name.lower() == "retry-after":
            value = values[0] if isinstance(values, list) else values
            try:
                return max(float(value), 0.0)
            except (TypeError, ValueError):
                return 1.0
    return 1.0


def _retry_handlers(backoff: float, connection_errors: list[type[Exception]]) -> list[RetryHandler]:
    interval = BackoffRetryIntervalCalculator(backoff_factor=backoff, jitter=_ProportionalJitter())
    return [
        ConnectionErrorRetryHandler(
            max_retry_count=MAX_RETRIES, interval_calculator=interval, error_types=connection_errors
        ),
        _BoundedRateLimitHandler(max_retry_count=MAX_RETRIES),
        _ServerErrorHandler(max_retry_count=MAX_RETRIES, interval_calculator=interval),
    ]


# --- errors --------------------------------------------------------------------------------------


def _safe_code(value: Any) -> str | None:
    """A Slack error code if ``value`` looks like one; None for anything else (it is not logged)."""
    text = str(value).strip() if value is not None else ""
    return text if _ERROR_CODE.match(text) else None


def _status_error(
    where: str, status: int, code: str | None, retry_after: float | None = None
) -> DeliveryError:
    """DeliveryError for an HTTP status and Slack error code, classified for the outbox."""
    code = code or ("ratelimited" if status == 429 else None)
    label = f"{where}: HTTP {status}" + (f", {code}" if code else "")
    if code in CONFIG_ERRORS:
        return DeliveryError(
            f"{label}: check the Slack settings (token, channel or webhook); "
            "the alert stays pending",
            retryable=True,
            code=code,
        )
    if code in CONTENT_ERRORS:
        return DeliveryError(f"{label}: Slack refused the message", retryable=False, code=code)
    if status == 429:
        return DeliveryError(
            f"{label}: rate limited; retry later",
            retryable=True,
            code=code,
            retry_after=retry_after,
        )
    return DeliveryError(f"{label}: not delivered; retry later", retryable=True, code=code)


def _api_error(error: SlackApiError) -> DeliveryError:
    response = error.response
    data = response.data if isinstance(response.data, dict) else {}
    retry_after = None
    if response.status_code == 429:
        retry_after = _retry_after(response.headers or {})
    return _status_error(
        "Slack Web API", response.status_code, _safe_code(data.get("error")), retry_after
    )


def _transport_error(where: str, error: Exception) -> DeliveryError:
    """DeliveryError for a failure below HTTP, named by exception type only."""
    reason = getattr(error, "reason", None)
    detail = type(error).__name__ + (f" ({type(reason).__name__})" if reason is not None else "")
    return DeliveryError(
        f"{where}: connection failed: {detail}; retry later",
        retryable=True,
        code="connection_error",
    )


class _MaybePosted(Exception):
    """The request went out but no answer came back: Slack may or may not have taken it."""


# --- the Web API ---------------------------------------------------------------------------------


class WebApiSink:
    """Posts alerts with chat.postMessage and finds them again by their metadata."""

    def __init__(
        self,
        token: str,
        channel: str,
        base_url: str | None = None,
        *,
        backoff: float = BACKOFF_SECONDS,
    ) -> None:
        _register_secret(token)
        self.channel = channel
        self.base_url = base_url or DEFAULT_API_URL
        # Only URLError is retried blindly: urllib raises it when connecting or sending failed,
        # so Slack never saw the request. A connection dropped while waiting for the answer
        # is retried by deliver() after looking in the channel, or it could post twice.
        self._client = WebClient(
            token=token,
            base_url=self.base_url,
            timeout=TIMEOUT_SECONDS,
            logger=_SDK_LOG,
            retry_handlers=_retry_handlers(backoff, [URLError]),
        )

    def __repr__(self) -> str:
        return f"WebApiSink(channel={self.channel!r}, base_url={self.base_url!r}, token=<redacted>)"

    def deliver(self, event: Event) -> str | None:
        """Post the alert, or its minimal form if Slack refuses the full one; return the ts."""
        try:
            return self._post_once(build_message(event), event)
        except DeliveryError as error:
            if error.code not in CONTENT_ERRORS:
                raise
            log.warning(
                "Slack refused alert %s (%s); sending its minimal form", event.key, error.code
            )
        return self._post_once(build_fallback_message(event), event)

    def _post_once(self, message: dict[str, Any], event: Event) -> str:
        """Post a message; if the answer was lost, look in the channel before posting again."""
        try:
            return self._post(message, event)
        except _MaybePosted:
            log.warning("No answer from Slack for alert %s; checking the channel", event.key)
        found = self.find_delivered(event)
        if found:
            return found
        try:
            return self._post(message, event)
        except _MaybePosted as lost:
            raise DeliveryError(
                f"Slack Web API: {lost}; retry later", retryable=True, code="connection_error"
            ) from None

    def _post(self, message: dict[str, Any], event: Event) -> str:
        try:
            response = self._client.chat_postMessage(
                channel=self.channel,
                text=message["text"],
                blocks=message["blocks"],
                metadata=message["metadata"],
                thread_ts=event.thread_ts,
                # An alert in a thread is easy to miss: show it in the channel too. This also
                # keeps it in conversations.history, where find_delivered looks.
                reply_broadcast=True if event.thread_ts else None,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as error:
            raise _api_error(error) from None
        except URLError as error:
            raise _transport_error("Slack Web API", error) from None
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise _MaybePosted(f"connection lost awaiting the answer ({type(error).__name__})"
                               ) from None
        ts = response.get("ts")
        if not isinstance(ts, str):
            raise DeliveryError("Slack Web API: answer without a ts", retryable=True)
        return ts

    def find_delivered(self, event: Event) -> str | None:
        """The ts of this event's message among the channel's recent messages, or None."""
        try:
            response = self._client.conversations_history(
                channel=self.channel, limit=HISTORY_LIMIT, include_all_metadata=True
            )
        except SlackApiError as error:
            raise _api_error(error) from None
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise _transport_error("Slack Web API (history)", error) from None
        for message in response.get("messages") or []:
            if _is_message_of(message, event):
                return message.get("ts")
        return None


def _is_message_of(message: dict[str, Any], event: Event) -> bool:
    """Whether a history message carries this event's metadata (by event id, else change id)."""
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    if event.key:
        return payload.get("event_id") == event.key
    return bool(
        event.change_id
        and payload.get("change_id") == event.change_id
        and metadata.get("event_type") == event.event_type
    )


# --- incoming webhooks ---------------------------------------------------------------------------


class WebhookSink:
    """Posts alerts to an incoming webhook; it returns no ts and has no history to search."""

    def __init__(self, url: str, *, backoff: float = BACKOFF_SECONDS) -> None:
        _register_secret(url)
        # Without a history to check, a lost answer cannot be told from a lost request: retry
        # dropped connections too (a rare double beats a lost alert).
        self._client = WebhookClient(
            url=url,
            timeout=TIMEOUT_SECONDS,
            logger=_SDK_LOG,
            retry_handlers=_retry_handlers(
                backoff, [URLError, ConnectionResetError, http.client.RemoteDisconnected]
            ),
        )

    def __repr__(self) -> str:
        return "WebhookSink(url=<redacted>)"

    def deliver(self, event: Event) -> str | None:
        """Send the alert (its minimal form if Slack refuses it); webhooks give back no ts."""
        try:
            self._send(build_message(event))
        except DeliveryError as error:
            if error.code not in CONTENT_ERRORS:
                raise
            log.warning(
                "Slack webhook refused alert %s (%s); sending its minimal form",
                event.key,
                error.code,
            )
            self._send(build_fallback_message(event))
        return None

    def _send(self, message: dict[str, Any]) -> None:
        try:
            response = self._client.send(
                text=message["text"],
                blocks=message["blocks"],
                metadata=message["metadata"],
                unfurl_links=False,
                unfurl_media=False,
            )
        except (OSError, http.client.HTTPException, ValueError) as error:
            raise _transport_error("Slack webhook", error) from None
        # WebhookClient does not raise on 429 or 5xx: it hands back the status.
        if not 200 <= response.status_code < 300:
            retry_after = _retry_after(response.headers or {})
            raise _status_error(
                "Slack webhook",
                response.status_code,
                _safe_code(response.body),
                retry_after if response.status_code == 429 else None,
            )

    def find_delivered(self, event: Event) -> str | None:
        """Webhooks cannot read the channel: nothing can be found."""
        return None


def sink_from_settings(
    token: str | None,
    channel: str | None,
    webhook_url: str | None,
    api_url: str | None,
    stream: IO[str],
) -> Sink:
    """The Web API with a token and a channel, else the webhook, else standard output."""
    if token and channel:
        return WebApiSink(token, channel, base_url=api_url or None)
    if webhook_url:
        return WebhookSink(webhook_url)
    return ConsoleSink(stream)


__all__ = [
    "ConsoleSink",
    "DeliveryError",
    "Sink",
    "WebApiSink",
    "WebhookSink",
    "sink_from_settings",
]
