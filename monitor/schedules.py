"""Schedule strings of the config: "every N" with s, m, h or d, or a 5-field cron line."""

from __future__ import annotations

import re
from dataclasses import dataclass

EVERY = re.compile(r"^\s*every\s+(\d+)\s*([smhd])\s*$", re.IGNORECASE)
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Schedule:
    """Either a fixed interval in seconds or a cron line (never both)."""

    interval: float | None = None
    cron: str | None = None


def parse_schedule(text: str) -> Schedule:
    """Parse and validate; raise ValueError with a message fit for a config error."""
    match = EVERY.match(text)
    if match:
        seconds = int(match.group(1)) * UNIT_SECONDS[match.group(2).lower()]
        if seconds <= 0:
            raise ValueError(f"{text!r}: the interval must be longer than zero")
        return Schedule(interval=float(seconds))
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"{text!r} is not 'every N' with s, m, h or d, nor a 5-field cron line")
    from apscheduler.triggers.cron import CronTrigger  # only for cron lines: keeps startup light

    try:
        CronTrigger.from_crontab(text, timezone="UTC")
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid cron line ({exc})") from None
    return Schedule(cron=" ".join(fields))


def shortest_interval(schedules: list[str]) -> float:
    """A lower bound, in seconds, of how often some target is due (cron lines count as a minute)."""
    seconds = [parse_schedule(s).interval or 60.0 for s in schedules]
    return min(seconds) if seconds else 1800.0
