"""Does `stancewatch run` keep its memory flat over hundreds of passes?

Starts `stancewatch run` on a page farm (bench/pagefarm.py) whose targets are all due every
second, and varies what the farm serves as passes go by, so that every path of a check runs
over and over: 304s, full pages with rotating tokens, and every tenth page changing its
statement now and then (alerts go to the console). It reads the process's resident memory
(/proc) as passes complete, then stops it with SIGTERM and prints the memory at each sampled
pass and the growth from the 50th pass on (the first passes fill caches and pools once).

    python bench/run_bench.py [--passes 500] [--pages 20] [--hosts 5]

With --pages 50 or more, passes that read pages read them in a reader process (its memory is
in the "with children" column).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from pagefarm import Farm

HERE = Path(__file__).resolve().parent
SAMPLES = (1, 10, 50, 100, 200, 300, 400, 500, 750, 1000)
# What the farm serves, by pass number: mostly 304s, some full pages, a change now and then.
ROTATING_EVERY, CHANGE_EVERY_PASSES = 7, 25


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_rss_mb(pid: int) -> float:
    """The process's RSS and its descendants' (the reader process of passes of 50+ pages)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    family, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    total = 0.0
    for member in family:
        with contextlib.suppress(OSError):  # it ended meanwhile
            total += rss_mb(member)
    return total


def passes_done(log: Path) -> int:
    return log.read_text(errors="replace").count("pass done")


def steer(farm: Farm, done: int) -> None:
    """What the next pass meets, from how many passes are done."""
    farm.set_mode("rotating" if done % ROTATING_EVERY == ROTATING_EVERY - 1 else "validators")
    farm.set_generation(done // CHANGE_EVERY_PASSES)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=500)
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="run-bench-"))
    with Farm(args.pages, args.hosts) as farm:
        config = work / "targets.yaml"
        config.write_text(yaml.safe_dump({
            "defaults": {"schedule": "every 1s",
                         "politeness": {"per_host_concurrency": 4, "delay": "0s"}},
            "targets": [{"id": f"t{i:03d}", "company": f"Company {i}", "url": url}
                        for i, url in enumerate(farm.urls)]}), encoding="utf-8")
        log = work / "run.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "STANCEW"))}
        env["PYTHONPATH"] = str(HERE.parent)
        with open(log, "wb") as errors:
            process = subprocess.Popen(
                [sys.executable, "-m", "monitor", "run", "--config", str(config), "--state",
                 str(work / "state")], stdout=subprocess.DEVNULL, stderr=errors, env=env,
                cwd=HERE.parent)
        samples: dict[int, float] = {}
        trees: dict[int, float] = {}
        done = 0
        try:
            while done < args.passes and process.poll() is None:
                time.sleep(0.2)  # polling a log: this is a benchmark, not a test
                now = passes_done(log)
                if now != done:
                    done = now
                    steer(farm, done)
                    due = [n for n in (*SAMPLES, args.passes) if n <= min(done, args.passes)
                           and n not in samples]
                    if due:  # passes can finish between two looks: sample once per mark
                        samples[max(due)] = rss_mb(process.pid)
                        trees[max(due)] = tree_rss_mb(process.pid)
                        samples.update({n: samples[max(due)] for n in due})
                        trees.update({n: trees[max(due)] for n in due})
                        print(f"[run] pass {done}: {samples[max(due)]:.1f} MB", file=sys.stderr)
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(30)
    print(f"stancewatch run, {args.pages} targets on {args.hosts} hosts, every 1s; "
          f"exit {code} after SIGTERM")
    print("pass   RSS MB  with children MB")
    for number, value in sorted(samples.items()):
        print(f"{number:<6} {value:<7.1f} {trees[number]:.1f}")
    settled = [v for n, v in sorted(samples.items()) if n >= 50]
    if len(settled) >= 2:
        print(f"growth from pass 50 to {max(samples)}: {settled[-1] - settled[0]:+.1f} MB")
    return 0 if code == 0 and done >= args.passes else 1


if __name__ == "__main__":
    sys.exit(main())
