"""What `status` needs of the config, kept in the state so that it need not validate again.

`status` runs often (Docker's health check every half minute), and validating the config
(importing pydantic, a model per target) was a third of its time with 1,000 targets. The
cache holds, per target, only what status shows and reads: id, company, url, schedule and
topic; nothing from the environment (Settings, where the secrets are), nothing else of the
config. It is keyed by a sha256 of the config file's bytes and resolved path and of what
decides whether a config is valid and what its targets are: any edit of those is a miss, and
a miss validates with the real `load_config` (same errors, same exit codes) before the cache is
written again. Other commands validate every time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from monitor.store import Store

FIELDS = ("id", "company", "url", "schedule", "topic")
HERE = Path(__file__).resolve().parent
# The modules that shape a validated config, and this one (the cached fields). The topic
# files' names count too: a target's topic must name one of them.
SOURCES = ("config.py", "schedules.py", "configcache.py")
# The libraries that validate it: an upgrade (new files, new times) is a miss too. Found
# without importing them, which would cost what the cache saves.
LIBRARIES = ("pydantic", "apscheduler")
TOPIC_DIR = HERE / "topics"


class StatusTarget(Protocol):
    """A target as `status` uses it: a validated config's Target or a cached one."""

    @property
    def id(self) -> str: ...
    @property
    def company(self) -> str: ...
    @property
    def url(self) -> str: ...
    @property
    def schedule(self) -> str: ...
    @property
    def topic(self) -> str: ...


@dataclass(frozen=True)
class CachedTarget:
    id: str
    company: str
    url: str
    schedule: str
    topic: str


def cache_key(config_path: Path) -> str | None:
    """The sha256 the cache is kept under; None when any of it cannot be read (no cache)."""
    hasher = hashlib.sha256()
    try:
        parts = [config_path.read_bytes(),
                 str(config_path.resolve()).encode("utf-8", "surrogateescape"),
                 *((HERE / name).read_bytes() for name in SOURCES),
                 *map(_installed, LIBRARIES),
                 "\n".join(sorted(p.name for p in TOPIC_DIR.glob("*.yaml"))).encode()]
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop, on Python 3.11 and 3.12
        return None
    for part in parts:
        hasher.update(len(part).to_bytes(8, "big"))
        hasher.update(part)
    return hasher.hexdigest()


def _installed(library: str) -> bytes:
    """Where a library is installed and when its files were written; b"" if it is missing."""
    spec = importlib.util.find_spec(library)
    if spec is None or spec.origin is None:
        return b""
    written = os.stat(spec.origin).st_mtime_ns
    return f"{spec.origin}\x00{written}".encode("utf-8", "surrogateescape")


def cached_targets(store: Store, key: str) -> tuple[CachedTarget, ...] | None:
    """The targets cached under `key`, or None (a miss: nothing, another key, another shape)."""
    value = store.config_cache(key)
    if not isinstance(value, list) or not value:
        return None
    targets = []
    for entry in value:
        if (not isinstance(entry, dict) or tuple(entry) != FIELDS
                or not all(isinstance(item, str) for item in entry.values())):
            return None
        targets.append(CachedTarget(**entry))
    return tuple(targets)


def remember_targets(store: Store, key: str, config_path: Path,
                     targets: Sequence[StatusTarget]) -> bool:
    """Cache what status needs of freshly validated `targets`; False when nothing was kept.

    Only when the file is still what `key` was made from: a file edited while it was being
    validated must not leave its new targets under its old key."""
    if cache_key(config_path) != key:
        return False
    return store.save_config_cache(key, [{name: getattr(target, name) for name in FIELDS}
                                         for target in targets])
