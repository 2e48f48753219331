"""Environment -> one frozen Settings object. The only module that reads os.environ.

Secrets (the Slack token and webhook URL) are held here and handed to the Slack sink; nothing
else stores or prints them, and Settings' repr hides them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_CONFIG = "targets.yaml"
DEFAULT_STATE = "state"
DEFAULT_SLACK_API = "https://slack.com/api/"


class ConfigError(Exception):
    """A config that cannot be used; the message names the file, the target and the key.

    Defined here, not in monitor/config.py, so that commands can catch it without importing
    pydantic (a fifth of a second) when they never read the config.
    """


@dataclass(frozen=True)
class Settings:
    config_path: Path
    state_dir: Path
    slack_token: str | None = field(default=None, repr=False)
    slack_channel: str | None = None
    slack_webhook_url: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API
    contact: str | None = None  # who site owners can reach, for the User-Agent

    @property
    def slack_configured(self) -> bool:
        return bool((self.slack_token and self.slack_channel) or self.slack_webhook_url)

    def secrets(self) -> tuple[str, ...]:
        """Values that must never reach logs, the database or reports."""
        return tuple(s for s in (self.slack_token, self.slack_webhook_url) if s)


def load_settings(config: str | None = None, state: str | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Command-line values win over the environment, which wins over the defaults."""
    env = os.environ if environ is None else environ
    return Settings(
        config_path=Path(config or env.get("STANCEWATCH_CONFIG") or DEFAULT_CONFIG),
        state_dir=Path(state or env.get("STANCEWATCH_STATE") or DEFAULT_STATE),
        slack_token=env.get("SLACK_BOT_TOKEN") or None,
        slack_channel=env.get("SLACK_CHANNEL") or None,
        slack_webhook_url=env.get("SLACK_WEBHOOK_URL") or None,
        slack_api_url=env.get("SLACK_API_URL") or DEFAULT_SLACK_API,
        contact=env.get("STANCEWATCH_CONTACT") or None,
    )
