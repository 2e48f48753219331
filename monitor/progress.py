"""One log line per check, and a progress bar on long passes when attached to a terminal."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from monitor.track import Outcome

log = logging.getLogger("stancewatch")
# Fewer targets than this finish before a progress bar would be worth drawing.
PROGRESS_MIN_TARGETS = 20


def outcome_logger(total: int) -> Callable[[Outcome], None]:
    """A callback for each check's outcome: a log line, and progress on a terminal."""
    done = [0]
    show_progress = sys.stderr.isatty() and total >= PROGRESS_MIN_TARGETS

    def on_outcome(outcome: Outcome) -> None:
        done[0] += 1
        detail = f" ({outcome.detail})" if outcome.detail else ""
        level = logging.WARNING if outcome.result == "failed" else logging.INFO
        if outcome.result in ("unchanged", "not_modified") and total > PROGRESS_MIN_TARGETS:
            level = logging.DEBUG  # a thousand "unchanged" lines help nobody
        log.log(level, "%s: %s%s", outcome.target, outcome.result, detail)
        if show_progress:
            sys.stderr.write(f"\r{done[0]}/{total} checked")
            if done[0] == total:
                sys.stderr.write("\n")
            sys.stderr.flush()

    return on_outcome
