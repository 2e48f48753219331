"""Schedule strings of the config: "every N" with s, m, h or d, or a 5-field cron line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

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
    try:
        cron_trigger(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a valid cron line ({exc})") from None
    return Schedule(cron=" ".join(fields))


def shortest_interval(schedules: list[str]) -> float:
    """How often, in seconds, the most frequent target is due (a cron line: its next gap)."""
    seconds = [_interval(s) for s in schedules]
    return min(seconds) if seconds else 1800.0


def _interval(text: str) -> float:
    schedule = parse_schedule(text)
    if schedule.interval is not None:
        return schedule.interval
    trigger = cron_trigger(schedule.cron or text)
    now = datetime.now(UTC)
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
    if first is None or second is None:
        return 86400.0
    return max(60.0, (second - first).total_seconds())


CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_trigger(line: str, jitter: float | None = None) -> Any:
    """A trigger with standard cron meaning, which APScheduler 3's `from_crontab` lacks.

    Two differences would move newsroom schedules silently: APScheduler numbers weekdays from
    Monday (cron's "1-5" would run Tuesday to Saturday), and it ANDs a restricted day of month
    with a restricted day of week where cron ORs them ("0 9 1 * 1": the 1st and every Monday).
    """
    from apscheduler.triggers.combining import OrTrigger
    from apscheduler.triggers.cron import CronTrigger

    minute, hour, day, month, weekday = line.split()
    days = cron_weekdays(weekday)

    def trigger(day_field: str, weekday_field: str) -> CronTrigger:
        return CronTrigger(minute=minute, hour=hour, day=day_field, month=month,
                           day_of_week=weekday_field, timezone=UTC, jitter=jitter)

    if day.startswith("*") or weekday.startswith("*"):
        return trigger(day, days)
    return OrTrigger([trigger(day, "*"), trigger("*", days)], jitter=jitter)


def cron_weekdays(field: str) -> str:
    """A cron day-of-week field (0 or 7 = Sunday, names, lists, ranges, steps) as day names."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            start, end = span.split("-", 1)
            first, last = _cron_day(start), _cron_day(end)
        else:
            first = _cron_day(span)
            last = 6 if step_text else first
        if first > last or step < 1:
            raise ValueError(f"{field!r} is not a valid day-of-week field")
        days.update(day % 7 for day in range(first, last + 1, step))
    return ",".join(CRON_DAYS[day] for day in sorted(days))


def _cron_day(token: str) -> int:
    if token in CRON_DAYS:
        return CRON_DAYS.index(token)
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token)
    raise ValueError(f"{token!r} is not a day of the week (0-7 or sun-sat)")

