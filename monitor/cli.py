"""The commands of CONTRACT.md; the only place concrete stores and sinks are chosen.

Commands that only read the state (status, history, show) import neither Scrapy nor
slack-sdk, so they start fast. User errors (a bad config, an unknown change id, an unusable
state directory) print one clear line and exit non-zero, never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from monitor.logs import setup_logging
from monitor.settings import ConfigError, Settings, load_settings
from monitor.store import Store, StoreError

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.configcache import StatusTarget

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
log = logging.getLogger("stancewatch")


class UserError(click.ClickException):
    """A problem the user can fix; printed as one line."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = code

    def show(self, file: Any = None) -> None:
        click.echo(f"stancewatch: {self.message}", err=True)


def config_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option("--state", "state", metavar="DIR",
                        help="state directory (default ./state, env STANCEWATCH_STATE)")(func)
    func = click.option("--config", "config", metavar="FILE",
                        help="config file (default ./targets.yaml, env STANCEWATCH_CONFIG)")(func)
    return func


def handle_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigError as exc:
            raise UserError(str(exc), EXIT_USAGE) from None
        except StoreError as exc:
            raise UserError(str(exc)) from None
        except BrokenPipeError:  # `stancewatch history | head`: the reader has had enough
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes
            sys.exit(1)
        except OSError as exc:  # a state directory or file the system refuses us
            where = f"{exc.filename}: " if exc.filename else ""
            raise UserError(f"{where}{exc.strerror or exc} (check --state, --config and "
                            "permissions)") from None
    return wrapper


@contextmanager
def open_store(settings: Settings, create: bool = True) -> Iterator[Store]:
    store = Store.open(settings.state_dir, create=create)
    try:
        yield store
    finally:
        store.close()


def load_config(path: Path) -> Config:
    """The validated config. Imported when needed: `history` and `show` never read the config,
    and validation (pydantic) is most of what a quick command would cost to start."""
    from monitor.config import load_config as load

    return load(path)


def make_sink(settings: Settings) -> Any:
    from monitor.notify.slack import sink_from_settings

    return sink_from_settings(settings.slack_token, settings.slack_channel,
                              settings.slack_webhook_url, settings.slack_api_url, sys.stdout)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option("0.1", prog_name="stancewatch")
def main() -> None:
    """Stancewatch: watch what tech companies say about handing user data to Hong Kong
    authorities, and alert the newsroom when it changes."""


# --- check -------------------------------------------------------------------------------


@main.command()
@config_options
@click.option("--target", "target_ids", multiple=True, metavar="ID",
              help="check only these targets (repeatable)")
@click.option("-v", "--verbose", is_flag=True, help="debug logs, Scrapy's included")
@click.option("-q", "--quiet", is_flag=True, help="warnings and errors only")
@handle_errors
def check(config: str | None, state: str | None, target_ids: tuple[str, ...], verbose: bool,
          quiet: bool) -> None:
    """One pass over the targets (or the named ones), then exit."""
    settings = load_settings(config, state)
    setup_logging(verbose, quiet, settings.secrets())
    cfg = load_config(settings.config_path)
    targets = select_targets(cfg, target_ids)
    from monitor.checking import StateBusy, check_pass, state_lock
    from monitor.crawl.runner import run_reactor
    from monitor.progress import outcome_logger

    lock = state_lock(settings.state_dir)
    try:
        lock.acquire()
    except Exception:  # filelock.Timeout
        raise UserError(f"{settings.state_dir}: another stancewatch is still running on this "
                        "state directory; try again when it has finished") from None
    try:
        with open_store(settings) as store:
            sink = make_sink(settings)
            summary = run_reactor(lambda: check_pass(cfg, targets, store, sink,
                                                     outcome_logger(len(targets)), verbose))
    except StateBusy as exc:
        raise UserError(str(exc)) from None
    finally:
        lock.release()
    log.info("pass done in %.1fs: %d checked, %d changed, %d failed, %d alert(s) sent, "
             "%d pending", summary.seconds, len(summary.outcomes), summary.count("changed"),
             summary.count("failed"), summary.delivery.delivered, summary.delivery.pending)
    if summary.errors:
        raise UserError(f"{len(summary.errors)} check(s) could not be recorded (see the log "
                        f"above): {', '.join(summary.errors[:5])}")


@main.command()
@config_options
@click.option("-v", "--verbose", is_flag=True, help="debug logs, Scrapy's and APScheduler's")
@click.option("-q", "--quiet", is_flag=True, help="warnings and errors only")
@handle_errors
def run(config: str | None, state: str | None, verbose: bool, quiet: bool) -> None:
    """Check each target on its own schedule until SIGTERM or SIGINT; SIGHUP reloads the
    config."""
    settings = load_settings(config, state)
    setup_logging(verbose, quiet, settings.secrets())
    cfg = load_config(settings.config_path)
    from monitor.checking import StateBusy
    from monitor.schedule import run_scheduler

    try:
        run_scheduler(cfg, settings.state_dir, lambda: open_store(settings),
                      lambda: make_sink(settings), verbose)
    except StateBusy as exc:
        raise UserError(str(exc)) from None


def select_targets(cfg: Config, target_ids: tuple[str, ...]) -> list:
    if not target_ids:
        return list(cfg.targets)
    known = {t.id for t in cfg.targets}
    unknown = [t for t in target_ids if t not in known]
    if unknown:
        raise UserError(f"{cfg.path}: no target with id {', '.join(map(repr, unknown))}",
                        EXIT_USAGE)
    return [t for t in cfg.targets if t.id in target_ids]


# --- validate ----------------------------------------------------------------------------


@main.command()
@config_options
@handle_errors
def validate(config: str | None, state: str | None) -> None:
    """Check the config and list its targets. Fetches nothing."""
    settings = load_settings(config, state)
    cfg = load_config(settings.config_path)
    from monitor.views import print_targets

    print_targets(cfg)
    click.echo(f"{cfg.path}: valid, {len(cfg.targets)} target(s)")


# --- history, show, status ---------------------------------------------------------------


@main.command()
@config_options
@click.option("--target", "target_id", metavar="ID", help="only this target")
@click.option("--since", metavar="DATE", help="only changes on or after this date (YYYY-MM-DD)")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("--all", "include_quiet", is_flag=True,
              help="include quiet changes (outside the relevant text)")
@handle_errors
def history(config: str | None, state: str | None, target_id: str | None, since: str | None,
            fmt: str, include_quiet: bool) -> None:
    """Recorded changes, newest first."""
    settings = load_settings(config, state)
    from monitor.views import history_rows, print_history

    since_text = _since(since)
    with open_store(settings, create=False) as store:
        rows = history_rows(store, target_id, since_text, include_quiet or fmt != "table")
    print_history(rows, fmt)


def _since(value: str | None) -> str | None:
    if value is None:
        return None
    from datetime import date

    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        raise UserError(f"--since {value!r}: use a date like 2026-11-29", EXIT_USAGE) from None


@main.command()
@click.argument("change_id")
@config_options
@handle_errors
def show(change_id: str, config: str | None, state: str | None) -> None:
    """One change: when, which target, old and new stance, the evidence, the diff."""
    settings = load_settings(config, state)
    from monitor.views import print_change

    with open_store(settings, create=False) as store:
        change = store.change(change_id)
        if change is None:
            raise UserError(f"no change with id {change_id!r} (see `stancewatch history`)")
        print_change(store, change)


@main.command()
@config_options
@click.option("--out", "out", required=True, metavar="DIR",
              help="directory for the site (created if missing; rebuilt in place)")
@handle_errors
def report(config: str | None, state: str | None, out: str) -> None:
    """A static HTML site of the whole history: stance timeline, every change with its diff."""
    settings = load_settings(config, state)
    from monitor.report import ReportError, build_report

    with open_store(settings, create=False) as store:
        try:
            summary = build_report(store, Path(out))
        except ReportError as exc:
            raise UserError(str(exc)) from None
    click.echo(f"report: {summary.targets} target(s), {summary.changes} change(s), "
               f"{summary.files} file(s) in {summary.seconds:.1f}s; open "
               f"{summary.index.resolve().as_uri()}")


@main.command()
@config_options
@click.option("--json", "as_json", is_flag=True, help="print JSON naming every target id")
@click.option("--health", is_flag=True, help="exit non-zero when checks have stopped")
@handle_errors
def status(config: str | None, state: str | None, as_json: bool, health: bool) -> None:
    """Each target: last check, last result, current stance, open incidents, pending alerts."""
    settings = load_settings(config, state)
    from monitor.views import health_problem, print_status, status_document

    with _status_store(settings) as (store, targets):
        document = status_document(targets, store)
    if as_json:
        click.echo(json.dumps(document, indent=2))
    elif not health:  # a health check (Docker's, every half minute) wants one line, not a table
        print_status(document)
    if health:
        trouble = health_problem(targets, document)
        if trouble:
            raise UserError(f"unhealthy: {trouble}")
        if not as_json:
            click.echo(f"healthy: last pass {document.get('last_pass') or '-'}, "
                       f"{len(document['targets'])} target(s)")


@contextmanager
def _status_store(settings: Settings) -> Iterator[tuple[Store, Sequence[StatusTarget]]]:
    """The store and the config's targets as `status` needs them: from the store's cache of
    the validated config when the file is unchanged, so that neither pydantic nor validation
    is paid (monitor/configcache.py); else validated as every command does, then cached.

    A config error comes before any state problem and creates no state, as when the config is
    validated first: the cache is looked up only in a state that already opens."""
    from monitor.configcache import cache_key, cached_targets, remember_targets

    key = cache_key(settings.config_path)
    store = None
    if key is not None:
        try:
            store = Store.open(settings.state_dir, create=False)
        except StoreError:  # no state yet, or an unusable one: said after the config's check
            store = None
    try:
        targets = cached_targets(store, key) if store is not None and key is not None else None
        if targets is None:
            targets = load_config(settings.config_path).targets
            if store is None:
                store = Store.open(settings.state_dir)
            if key is not None:
                remember_targets(store, key, settings.config_path, targets)
        yield store, targets
    finally:
        if store is not None:
            store.close()


# --- reread and try ----------------------------------------------------------------------


@main.command()
@config_options
@click.option("--target", "target_ids", multiple=True, metavar="ID", help="only these targets")
@handle_errors
def reread(config: str | None, state: str | None, target_ids: tuple[str, ...]) -> None:
    """Re-extract and re-read every stored page with the current rules; sends nothing."""
    settings = load_settings(config, state)
    cfg = load_config(settings.config_path)
    targets = select_targets(cfg, target_ids)
    from monitor.rereading import reread_history

    with open_store(settings, create=False) as store:
        report = reread_history(store, targets)
    click.echo(f"re-read {report.snapshots} stored page(s) of {report.targets} target(s): "
               f"{report.changed_readings} reading(s) changed, {report.stances_changed} "
               "stance(s) changed; nothing was sent")


@main.command(name="try")
@click.argument("url")
@click.option("--select", "select", multiple=True, metavar="CSS", help="the part to watch")
@click.option("--ignore", "ignore", multiple=True, metavar="CSS", help="parts to leave out")
@click.option("--topic", default="hong-kong-requests", show_default=True)
@click.option("--render", is_flag=True,
              help="also fetch with a headless browser and show what it adds")
@handle_errors
def try_(url: str, select: tuple[str, ...], ignore: tuple[str, ...], topic: str,
         render: bool) -> None:
    """Fetch one page now and print what would be watched and the stance; stores nothing."""
    from monitor.trying import try_page

    code = try_page(url, select, ignore, topic, render=render)
    sys.exit(code)


# --- demo --------------------------------------------------------------------------------


@main.command()
@click.option("--state", "state", metavar="DIR",
              help="keep the demo's history here (a new, empty directory); default: a "
                   "temporary one. STANCEWATCH_STATE is ignored: the demo never mixes with "
                   "real history")
@click.option("--out", "out", metavar="DIR", help="where to write the report (default: beside "
                                                  "the state)")
@click.option("--console", is_flag=True, help="print alerts here even when Slack is configured")
@click.option("-v", "--verbose", is_flag=True, help="debug logs, Scrapy's included")
@handle_errors
def demo(state: str | None, out: str | None, console: bool, verbose: bool) -> None:
    """An offline walkthrough: sample pages served locally change while checks run; prints the
    alerts and builds the report."""
    settings = load_settings(None, state)  # for Slack only; the demo picks its own state
    setup_logging(verbose, not verbose, settings.secrets())
    from monitor.demo.walkthrough import DemoError, run_demo

    try:
        code = run_demo(settings, Path(state) if state else None, Path(out) if out else None,
                        console, verbose)
    except DemoError as exc:
        raise UserError(str(exc), EXIT_USAGE) from None
    sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    main()
