"""Alert delivery: what a sink promises the outbox, and the error it raises when it cannot deliver.

The protocol lives here, free of slack-sdk, so the outbox and the console sink can use it without
importing the Slack client (DESIGN.md keeps slack-sdk inside notify/slack.py).
"""

from __future__ import annotations

from typing import Protocol

from monitor.records import Event


class DeliveryError(Exception):
    """An alert could not be delivered now.

    ``retryable`` tells the outbox whether to keep the alert pending (True: an outage, a rate
    limit, a configuration problem someone will fix) or to give up on it (False: Slack refuses
    even the minimal fallback message). The message is safe to log: it is built from Slack error
    codes and exception type names, never from a token or webhook URL.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code  # Slack's error code ("ratelimited", "invalid_auth", ...) when known
        self.retry_after = retry_after  # seconds Slack asked us to wait, when it said so


class Sink(Protocol):
    """Where alerts go: Slack's Web API, an incoming webhook, or standard output."""

    def deliver(self, event: Event) -> str | None:
        """Post one alert; return Slack's message ts (None where there is none).

        Raises DeliveryError when the alert was not delivered.
        """
        ...

    def find_delivered(self, event: Event) -> str | None:
        """The ts of an already-posted message of this event, or None.

        Used after a crash between posting and recording, so an alert is not posted twice.
        Raises DeliveryError when it cannot tell (better to wait than to post a double).
        """
        ...


__all__ = ["DeliveryError", "Sink"]
