"""Reading a page's bytes: the watched part, its passages, the stance. Pure, and so portable.

Reading is what a check pass spends its CPU on once the pages are fetched: about 2 ms a page
against Scrapy's 2 to 3 ms to fetch it. On a pass with many pages to read (a first pass, a
day on which many pages changed), a worker process reads while Scrapy goes on fetching in this
one, so the two costs overlap instead of adding up on one core. `Readers` hands the jobs out; the
tracker only ever sees a `PageReading`, whichever process made it, so results are the same.
Small passes read in this process: a worker costs a fresh interpreter (a third of a second).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from monitor.extract import extract_part, watched_part
from monitor.pagecheck import Problem, text_problem
from monitor.records import Extraction, Reading
from monitor.shell import looks_like_empty_shell
from monitor.stance import read_stance, vocabulary
from monitor.topics import load_topic

log = logging.getLogger("stancewatch")

UNMATCHED = Extraction(matched=False, passages=(), relevant=())
# A pass with fewer targets than this reads in this process.
POOL_MIN_TARGETS = 50
# Workers at most (one core stays with Scrapy).
POOL_MAX_WORKERS = 4
WORKER_NICENESS = 10


@dataclass(frozen=True)
class ReadJob:
    """What reading one page needs: its text and its target's rules."""

    text: str
    select: tuple[str, ...]
    ignore: tuple[str, ...]
    topic: str
    render: bool
    render_wait: str | None
    known_fragment: str | None  # the last read's watched-part digest: equal means unchanged


@dataclass(frozen=True, kw_only=True)
class PageReading:
    """A page read: `extraction` is None when the watched part equals the known one."""

    fragment: str | None  # digest of the watched part; None when `select` matched nothing
    extraction: Extraction | None = None
    fault: Problem | None = None  # the text is not the page (garbage, a bot challenge)
    shell: str | None = None  # why the page looks like an empty shell, if it does
    reading: Reading | None = None  # the stance of the relevant passages (if readable)


def read_page(job: ReadJob) -> PageReading:
    """Read one page: skip everything after the digest when the watched part is unchanged."""
    fault = text_problem(job.text)
    if fault is not None:
        return PageReading(fragment=None, fault=fault)
    topic = load_topic(job.topic)
    part = watched_part(job.text, job.select, job.ignore)
    fragment = part.digest(topic) if part is not None else None
    if fragment is not None and fragment == job.known_fragment:
        return PageReading(fragment=fragment)
    extraction = extract_part(part, topic) if part is not None else UNMATCHED
    # An empty shell (scripts did not run, or had not finished) is not the company's text.
    shell = looks_like_empty_shell(job.text, extraction, job.select,
                                   wait_for=job.render_wait if job.render else None,
                                   rendered=job.render)
    readable = extraction.matched and not shell
    reading = read_stance(extraction.relevant, topic) if readable else None
    return PageReading(fragment=fragment, extraction=extraction, shell=shell, reading=reading)


class Readers:
    """Reads one pass's pages in worker processes when the pass has many, else in this one."""

    def __init__(self, targets: int, topics: Iterable[str]) -> None:
        cores = os.cpu_count() or 1
        self.workers = min(POOL_MAX_WORKERS, cores - 1) if targets >= POOL_MIN_TARGETS else 0
        self.topics = tuple(sorted(set(topics)))
        self.pending: set[Future[PageReading]] = set()

    def start(self) -> None:
        """Start the workers now, so that they import and compile the topics' rules while
        Scrapy starts (when most pages will need reading: a first pass); else they start
        with the first page to read."""
        if self.workers > 0:
            try:
                _shared_pool(self.workers, self.topics)
            except Exception as exc:  # noqa: BLE001 - e.g. no /dev/shm for its locks
                log.warning("reading in this process: no reader process could start (%s)", exc)
                self.workers = 0

    async def read(self, job: ReadJob) -> PageReading:
        self.start()
        if self.workers <= 0:
            return read_page(job)
        try:
            future = _shared_pool(self.workers, self.topics).submit(read_page, job)
            self.pending.add(future)
            future.add_done_callback(self.pending.discard)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:  # a lost worker must not lose the check
            log.warning("reading in this process from now on: the reader process died (%s)", exc)
            _drop_pool()
            self.workers = 0
        except Exception:  # noqa: BLE001 - read here again: the same error, raised as inline
            log.debug("reading again in this process", exc_info=True)
        return read_page(job)

    def close(self) -> None:
        """Drop this pass's pages still waiting (a pass stopped half-way); the workers stay
        for the next pass of a long `run`, and go when the process exits."""
        for future in list(self.pending):
            future.cancel()


# One pool per process: the passes of `stancewatch run` share it instead of each starting a
# fresh interpreter.
_POOL: ProcessPoolExecutor | None = None


def _shared_pool(workers: int, topics: tuple[str, ...]) -> ProcessPoolExecutor:
    global _POOL
    if _POOL is None:
        _POOL = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                    initializer=_worker_started, initargs=(topics,))
        _POOL.submit(int)  # a no-op: the pool starts its workers on a first job
        log.info("reading pages in %d reader process(es)", workers)
    return _POOL


def _drop_pool() -> None:
    global _POOL
    if _POOL is not None:
        _POOL.shutdown(wait=False, cancel_futures=True)
        _POOL = None


def _worker_started(topics: tuple[str, ...]) -> None:
    """A worker ignores Ctrl-C (its parent decides), yields the CPU to the fetching process
    and to the machine's other work (reading can wait, a server's answer should not), and
    dies with its parent (Linux). It compiles the topics' rules before the first page."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in topics:
        vocabulary(load_topic(name))
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        # Without prctl the pool's own shutdown still ends the worker when its parent exits.
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGKILL)
