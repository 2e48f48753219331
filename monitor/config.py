"""targets.yaml -> validated Target objects, or one clear error naming file, target and key.

pydantic does the validation (unknown keys are errors: a typo must never silently disable a
watch); this module only turns its findings into messages a newsroom developer can act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from monitor.schedules import parse_schedule
from monitor.settings import ConfigError
from monitor.topics import DEFAULT_TOPIC, available_topics

TARGET_ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
DEFAULT_SCHEDULE = "every 30m"
# How long a headless browser may take to load a page and let its text settle. Script-built
# transparency reports take a few seconds; past this, the page is taken as it is and an empty
# or half-loaded result becomes an extraction_failed incident rather than a content change.
DEFAULT_RENDER_TIMEOUT = 20.0
MAX_RENDER_TIMEOUT = 120.0


# libyaml's loader when PyYAML was built with it: ten times as fast on a watchlist of thousands.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_duration(value: str | int | float) -> float:
    """'1s', '500ms', '2m', or a number of seconds -> seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration (use e.g. 500ms, 1s, 2m)")
        number, unit = float(match.group(1)), match.group(2) or "s"
        seconds = number * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Politeness(_Strict):
    per_host_concurrency: int = Field(default=2, ge=1, le=64)
    delay: float = 1.0

    @field_validator("delay", mode="before")
    @classmethod
    def _delay(cls, value: Any) -> float:
        return parse_duration(value)


def _selectors(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(i, str) and i.strip()
                                                      for i in items):
        raise ValueError("must be a CSS selector or a list of them")
    for item in items:
        _check_css(item)
    return tuple(i.strip() for i in items)


def _check_css(selector: str) -> None:
    from cssselect import GenericTranslator, SelectorError  # scrapy's own selector parser

    try:
        GenericTranslator().css_to_xpath(selector)
    except SelectorError as exc:
        raise ValueError(f"{selector!r} is not a valid CSS selector ({exc})") from None


def _schedule(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be 'every N' with s, m, h or d, or a 5-field cron line")
    parse_schedule(value)
    return value


def _render_timeout(value: Any) -> float | None:
    if value is None:
        return None
    seconds = parse_duration(value)
    if not 1 <= seconds <= MAX_RENDER_TIMEOUT:
        raise ValueError(f"must be between 1s and {MAX_RENDER_TIMEOUT:.0f}s")
    return seconds


def _render_wait(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a CSS selector")
    _check_css(value)
    return value.strip()


def _topic(value: Any) -> str:
    if value not in available_topics():
        raise ValueError(f"unknown topic {value!r}; use one of {', '.join(available_topics())}")
    return value


class Defaults(_Strict):
    schedule: str = DEFAULT_SCHEDULE
    topic: str = DEFAULT_TOPIC
    politeness: Politeness = Politeness()
    render: bool = False
    render_timeout: float = DEFAULT_RENDER_TIMEOUT

    _v_schedule = field_validator("schedule", mode="before")(lambda cls, v: _schedule(v))
    _v_topic = field_validator("topic", mode="before")(lambda cls, v: _topic(v))
    _v_render_timeout = field_validator("render_timeout", mode="before")(
        lambda cls, v: _render_timeout(v))


class TargetEntry(_Strict):
    id: str
    company: str = Field(min_length=1)
    url: str
    select: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    schedule: str | None = None
    topic: str | None = None
    render: bool | None = None
    render_wait: str | None = None  # CSS selector that shows the scripts have built the text
    render_timeout: float | None = None

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not TARGET_ID.match(value):
            raise ValueError("must be lowercase letters, digits and single dashes")
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http or https URL")
        return value

    _v_select = field_validator("select", "ignore", mode="before")(
        lambda cls, v: _selectors(v))
    _v_schedule = field_validator("schedule", mode="before")(
        lambda cls, v: None if v is None else _schedule(v))
    _v_topic = field_validator("topic", mode="before")(
        lambda cls, v: None if v is None else _topic(v))
    _v_render_wait = field_validator("render_wait", mode="before")(
        lambda cls, v: _render_wait(v))
    _v_render_timeout = field_validator("render_timeout", mode="before")(
        lambda cls, v: _render_timeout(v))


class ConfigFile(_Strict):
    defaults: Defaults = Defaults()
    targets: list[dict[str, Any]]  # validated one by one, to name the target in errors
    contact: str | None = None  # URL or address for the User-Agent, so site owners can reach us


@dataclass(frozen=True)
class Target:
    """One watched page with the defaults applied."""

    id: str
    company: str
    url: str
    select: tuple[str, ...]
    ignore: tuple[str, ...]
    schedule: str
    topic: str
    render: bool
    politeness: Politeness
    render_wait: str | None = None
    render_timeout: float = DEFAULT_RENDER_TIMEOUT


@dataclass(frozen=True)
class Config:
    path: Path
    targets: tuple[Target, ...]
    defaults: Defaults
    contact: str | None = None

    def target(self, target_id: str) -> Target:
        for target in self.targets:
            if target.id == target_id:
                return target
        raise KeyError(target_id)


def load_config(path: Path) -> Config:
    """Read and validate the config; raise ConfigError with a message naming file, target, key."""
    raw = _read_yaml(path)
    try:
        top = ConfigFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, None, exc)) from None
    targets: list[Target] = []
    seen: set[str] = set()
    for index, entry in enumerate(top.targets):
        label = _target_label(entry, index)
        try:
            parsed = TargetEntry.model_validate(entry)
        except ValidationError as exc:
            raise ConfigError(_describe(path, label, exc)) from None
        if parsed.id in seen:
            raise ConfigError(f"{path}: target {label}: key 'id': duplicate id {parsed.id!r}")
        seen.add(parsed.id)
        target = _apply_defaults(parsed, top.defaults)
        _check_render_keys(path, label, parsed, target)
        targets.append(target)
    if not targets:
        raise ConfigError(f"{path}: key 'targets': the list is empty; nothing to watch")
    return Config(path=path, targets=tuple(targets), defaults=top.defaults, contact=top.contact)


def _read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file (set --config or STANCEWATCH_CONFIG)"
                          ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the config: {exc}") from None
    try:
        raw = yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the config must be a mapping with a 'targets' list")
    if not isinstance(raw.get("targets"), list) or not all(isinstance(t, dict)
                                                          for t in raw["targets"]):
        raise ConfigError(f"{path}: key 'targets': must be a list of targets (mappings)")
    return raw


def _target_label(entry: dict[str, Any], index: int) -> str:
    ident = entry.get("id")
    return f"{ident!r} (targets[{index}])" if isinstance(ident, str) else f"targets[{index}]"


def _describe(path: Path, label: str | None, exc: ValidationError) -> str:
    """The first problem pydantic found, in the file/target/key form."""
    error = exc.errors()[0]
    key = ".".join(str(part) for part in error["loc"] if not isinstance(part, int)) or "?"
    if error["type"] == "extra_forbidden":
        message = "unknown key (check its spelling)"
    elif error["type"] == "missing":
        message = "required key is missing"
    else:
        message = str(error["msg"]).removeprefix("Value error, ")
    where = f"target {label}: " if label else ""
    more = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
    return f"{path}: {where}key '{key}': {message}{more}"


def _apply_defaults(entry: TargetEntry, defaults: Defaults) -> Target:
    return Target(
        id=entry.id,
        company=entry.company,
        url=entry.url,
        select=entry.select,
        ignore=entry.ignore,
        schedule=entry.schedule or defaults.schedule,
        topic=entry.topic or defaults.topic,
        render=defaults.render if entry.render is None else entry.render,
        politeness=defaults.politeness,
        render_wait=entry.render_wait,
        render_timeout=entry.render_timeout or defaults.render_timeout,
    )


def _check_render_keys(path: Path, label: str, entry: TargetEntry, target: Target) -> None:
    """Browser options on a target fetched without a browser are a mistake, not a no-op.

    Someone who wrote `render_wait` expects the page to be rendered; silently fetching it plain
    would watch an empty shell.
    """
    if target.render:
        return
    for key in ("render_wait", "render_timeout"):
        if getattr(entry, key) is not None:
            raise ConfigError(f"{path}: target {label}: key '{key}': only applies with "
                              "render: true (here or in defaults)")

