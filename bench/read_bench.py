"""CPU to read a changed page: extract, read the stance, diff. Median over many pages.

The pages are the page farm's (bench/pagefarm.py, about 20 KB, ~30% of the passages about
the topic), each in its baseline and its changed version. Per page, in this process: the
watched part selected and cleaned (lxml), cut into passages (lxml's tree) and filtered by
the topic's vocabulary, the stance read, and the word diff against the baseline's relevant text.
Also shown: how much of the passages' time the topic's vocabulary takes (its regexes over each
passage), the fault check the tracker runs first (pagecheck) and, for an unchanged page, the
digest of the watched part that lets the tracker skip the rest. Times are CPU (thread time),
printed, never asserted. Two calibration lines come last: lxml parsing the page and a fixed
loop of plain Python, work this repository does not change. On a shared machine they move
with its state (by half, from one hour to the next here): compare them before comparing runs.

    python bench/read_bench.py [--pages 200]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from lxml import etree
from pagefarm import CHANGE_EVERY, TOKEN, page_html

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from monitor.diff import word_diff  # noqa: E402
from monitor.extract import extract, extract_part, watched_part  # noqa: E402
from monitor.pagecheck import problem  # noqa: E402
from monitor.records import FetchedPage  # noqa: E402
from monitor.stance import read_stance  # noqa: E402
from monitor.topics import Topic, load_topic  # noqa: E402

T = TypeVar("T")


def timed(work: Callable[..., T], *args: object) -> tuple[T, float]:
    """`work(*args)` and the CPU milliseconds it took."""
    started = time.thread_time()
    result = work(*args)
    return result, 1000 * (time.thread_time() - started)


def read_one(index: int, topic: Topic) -> dict[str, float]:
    """The stages for page `index`: baseline read first (untimed), then its changed version."""
    before = page_html(index, 0).replace(TOKEN, b"t1").decode()
    after = page_html(index, 1).replace(TOKEN, b"t2").decode()
    unchanged = page_html(index, 0).replace(TOKEN, b"t3").decode()
    old = extract(before, (), (), topic)
    fetched = FetchedPage(f"t{index}", "u", "u", 200, after.encode(), datetime.now(UTC), 0.0,
                          "text/html; charset=utf-8", text=after)
    _, fault = timed(problem, fetched)
    part, select = timed(watched_part, after, (), ())
    new, passages = timed(extract_part, part, topic)
    _, vocabulary = timed(topic.relevance.flags, new.passages)
    _, stance = timed(read_stance, new.relevant, topic)
    _, diff = timed(word_diff, old.relevant_text, new.relevant_text)
    same, digest = timed(watched_part, unchanged, (), ())
    _, hashing = timed(same.digest, topic)
    _, parse = timed(etree.fromstring, after, etree.HTMLParser())
    _, loop = timed(_python_loop)
    return {"fault check (pagecheck)": fault, "select + clean (lxml)": select,
            "passages + relevance": passages,
            "  of which topic vocabulary (regexes)": vocabulary, "stance": stance,
            "word diff": diff,
            "reading a changed page": select + passages + stance + diff,
            "unchanged: watched-part digest": digest + hashing,
            "calibration: lxml parses the page": parse,
            "calibration: a fixed Python loop": loop}


def _python_loop() -> int:
    """Fixed work in plain Python: dict, string and call overhead, as reading has."""
    counts: dict[str, int] = {}
    for number in range(2000):
        word = str(number % 97)
        counts[word] = counts.get(word, 0) + len(word)
    return sum(counts.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    args = parser.parse_args()
    topic = load_topic("hong-kong-requests")
    stages: dict[str, list[float]] = {}
    for number in range(args.pages):
        for name, value in read_one(number * CHANGE_EVERY, topic).items():
            stages.setdefault(name, []).append(value)
    print(f"{args.pages} pages of ~{len(page_html(0)) // 1000} KB; CPU ms per page")
    width = max(map(len, stages))
    print(f"{'stage'.ljust(width)}  median    p90")
    for name, values in stages.items():
        p90 = statistics.quantiles(values, n=10)[-1]
        print(f"{name.ljust(width)}  {statistics.median(values):6.2f}  {p90:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
