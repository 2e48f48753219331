"""What a `check` pass costs, as multiples of Scrapy's own floor, for N local pages.

For each size (100 and 1,000 by default; add 10,000 with --sizes), a page farm serves N pages
of about 20 KB over 50 loopback hosts (bench/pagefarm.py) and this measures, one after another:

* `fetch`: a bare asyncio fetch of every page, and `scrapy floor`: a Scrapy spider that does
  nothing (bench/floors.py); the fastest of --floor-runs, the floor's both before and after
  the passes (the load of a shared machine drifts);
* `first pass`: `stancewatch check` on an empty state (every page a baseline);
* `304 pass`: nothing changed, the farm answers conditional requests with 304;
* `10% changed`: every tenth page changes its statement (alerts go to the console);
* `no-validator pass`: nothing relevant changed, but the farm sends no validators and every
  answer carries new tokens (nonces, CSRF, request ids), so every page arrives in full.

Each run: wall and CPU seconds (user + system of the process), its peak RSS, the bytes it added
to the state directory (and per page), milliseconds per page, the ratios of wall time to the
floors, and of CPU time to the floor's (steadier when other work shares the machine). The
read-only commands are then timed on the state the passes left. --repeat N keeps the fastest
of N runs of each pass (each first pass from an empty state). Timings are printed, never
asserted. The config relaxes politeness for these loopback hosts (16 requests per host, no
delay), never a code path of its own.

    python bench/check_bench.py [--sizes 100,1000,10000] [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pagefarm import Farm

HERE = Path(__file__).resolve().parent
STANCEWATCH = [sys.executable, "-m", "monitor"]
POLITENESS = {"per_host_concurrency": 16, "delay": "0s"}


@dataclass
class Run:
    """One measured process."""

    label: str
    pages: int
    wall: float
    cpu: float
    rss_mb: float
    exit_code: int
    added_bytes: int | None = None
    served: dict = field(default_factory=dict)
    command: bool = False  # a read-only command: no pages fetched, no ratio to the floors

    @property
    def ms_per_page(self) -> float:
        return 1000 * self.wall / max(self.pages, 1)


def measure(label: str, argv: list[str], pages: int, state: Path | None = None,
            farm: Farm | None = None, env: dict[str, str] | None = None) -> Run:
    """Run `argv` to the end; its own CPU and peak RSS come from wait4, not from sampling."""
    before = _dir_bytes(state) if state else None
    if farm:
        farm.stats()  # start counting from here
    print(f"[bench] {label} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=errors,
                                   env=env, cwd=HERE.parent)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - started
        if process.returncode != 0:
            errors.seek(0)
            print(errors.read().decode(errors="replace")[-2000:], file=sys.stderr)
    return Run(label, pages, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024,
               process.returncode, _dir_bytes(state) - before if state and before is not None
               else None, farm.stats() if farm else {})


def fastest(runs: list[Run]) -> Run:
    best = min(runs, key=lambda r: (r.exit_code != 0, r.wall))
    if len(runs) > 1:
        best.label += f" (best of {len(runs)})"
    return best


def _dir_bytes(path: Path | None) -> int:
    if path is None or not path.exists():
        return 0
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file())


def product_env() -> dict[str, str]:
    """No Slack: alerts go to the console (discarded); the repo's code, not an install."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "STANCEWATCH_"))}
    env["PYTHONPATH"] = str(HERE.parent)
    return env


def write_config(path: Path, urls: list[str]) -> Path:
    targets = [{"id": f"t{i:05d}", "company": f"Company {i:05d}", "url": url}
               for i, url in enumerate(urls)]
    path.write_text(yaml.safe_dump({"defaults": {"politeness": POLITENESS},
                                    "targets": targets}, sort_keys=False), encoding="utf-8")
    return path


def bench_size(pages: int, args: argparse.Namespace, work: Path) -> list[Run]:
    """Every run for one size, in order."""
    work.mkdir(parents=True, exist_ok=True)
    with Farm(pages, args.hosts) as farm:
        url_file = work / "urls.txt"
        url_file.write_text("\n".join(farm.urls) + "\n", encoding="utf-8")
        config, state = write_config(work / "targets.yaml", farm.urls), work / "state"
        check = [*STANCEWATCH, "check", "--config", str(config), "--state", str(state), "-q"]
        env = product_env()

        def floor(kind: str) -> Callable[[], Run]:
            argv = [sys.executable, str(HERE / "floors.py"), kind, "--urls", str(url_file)]
            return lambda: measure(kind if kind == "fetch" else "scrapy floor", argv, pages,
                                   farm=farm)

        def product(label: str, mode: str, generation: int | None = None) -> Run:
            farm.set_mode(mode)
            if generation is not None:
                farm.set_generation(generation)
            return measure(label, check, pages, state, farm, env)

        fetches = [floor("fetch")() for _ in range(args.floor_runs)]
        floors = [floor("scrapy")() for _ in range(args.floor_runs)]
        def first_pass() -> Run:
            shutil.rmtree(state, ignore_errors=True)  # each try starts from an empty state
            return product("first pass", "validators", 0)

        passes = [fastest([first_pass() for _ in range(args.repeat)]),
                  fastest([product("304 pass", "validators") for _ in range(args.repeat)]),
                  fastest([product("10% changed", "validators", n + 1)
                           for n in range(args.repeat)]),
                  # Last: a page that came without validators is asked for without them next.
                  fastest([product("no-validator pass", "rotating")
                           for _ in range(args.repeat)])]
        farm.set_mode("validators")
        # The floors again after the passes: on a shared machine the load drifts meanwhile.
        floors += [floor("scrapy")() for _ in range(args.floor_runs)]
        return [fastest(fetches), fastest(floors), *passes,
                *command_runs(config, state, pages, env)]


def command_runs(config: Path, state: Path, pages: int, env: dict[str, str]) -> list[Run]:
    """The read-only commands on the state the passes left: status (the table, --json and
    --health), history, show. A first, unmeasured `status` validates the config and caches it
    in the state, as the first one after an edit does: the runs measured are the later ones."""
    base = ["--config", str(config), "--state", str(state)]
    listing = subprocess.run([*STANCEWATCH, "history", "--format", "json", *base], env=env,
                             capture_output=True, text=True, cwd=HERE.parent)
    subprocess.run([*STANCEWATCH, "status", "--json", *base], env=env, capture_output=True,
                   cwd=HERE.parent)
    changes = json.loads(listing.stdout or "[]")
    runs = [measure("status", [*STANCEWATCH, "status", *base], pages, env=env),
            measure("status --json", [*STANCEWATCH, "status", "--json", *base], pages, env=env),
            measure("status --health", [*STANCEWATCH, "status", "--health", *base], pages,
                    env=env),
            measure("history", [*STANCEWATCH, "history", *base], pages, env=env)]
    if changes:
        runs.append(measure("show", [*STANCEWATCH, "show", changes[0]["change_id"], *base],
                            pages, env=env))
    for run in runs:
        run.command = True
    return runs


def table(size_runs: dict[int, list[Run]]) -> str:
    header = ("pages", "run", "exit", "wall s", "cpu s", "peak RSS MB", "state +KB",
              "B/page", "ms/page", "x floor", "cpu x floor", "x fetch", "200", "304",
              "peak/host")
    rows = [header]
    for pages, runs in size_runs.items():
        fetch = next(r for r in runs if r.label.startswith("fetch"))
        floor = next(r for r in runs if r.label.startswith("scrapy floor"))
        for run in runs:
            statuses = run.served.get("statuses", {})
            added = run.added_bytes
            ratios = (("-",) * 4 if run.command else (
                f"{run.ms_per_page:.2f}", f"{run.wall / floor.wall:.2f}",
                f"{run.cpu / floor.cpu:.2f}", f"{run.wall / fetch.wall:.1f}"))
            rows.append((
                str(pages), run.label, str(run.exit_code), f"{run.wall:.2f}", f"{run.cpu:.2f}",
                f"{run.rss_mb:.0f}", "-" if added is None else f"{added / 1024:.0f}",
                "-" if added is None else f"{added / pages:.0f}", *ratios,
                str(statuses.get(200, "-")), str(statuses.get(304, "-")),
                str(run.served.get("peak_per_host", "-"))))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000", help="comma-separated page counts")
    parser.add_argument("--hosts", type=int, default=50, help="loopback hosts (default 50)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each unchanged pass, the fastest kept (default 1)")
    parser.add_argument("--floor-runs", type=int, default=3,
                        help="runs of each floor, the fastest kept (default 3)")
    parser.add_argument("--keep", metavar="DIR", help="keep configs and states here")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args()
    root = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="check-bench-"))
    results: dict[int, list[Run]] = {}
    try:
        for pages in (int(size) for size in args.sizes.split(",")):
            results[pages] = bench_size(pages, args, root / f"n{pages}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{args.hosts} loopback hosts, ~20 KB pages, config {POLITENESS}; "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
    print(table(results))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {str(n): [vars(r) for r in runs] for n, runs in results.items()}, indent=2))
    return 0 if all(r.exit_code == 0 for runs in results.values() for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
