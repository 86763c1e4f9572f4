"""``msgevents backfill``: a backfill split into parts, run as tasks (:mod:`msgevents.backfill`).

The command plans the parts, checks what it can before anything runs (the provider's
and the sink's settings, the executor), hands the parts to the executor, prints a line
per part as it ends, then the aggregated summary; ``--report`` gets the aggregated
report with every part's own.
"""

from __future__ import annotations

import os
import sys
import uuid
from datetime import datetime
from pathlib import Path

import click

from msgevents.assemble import make_provider, make_sink
from msgevents.backfill import (
    BackfillReport,
    Part,
    PartOutcome,
    PartTask,
    make_executor,
    parse_partition,
    plan_input_parts,
    plan_window_parts,
)
from msgevents.backfill.aggregate import part_exit_code
from msgevents.cli.base import cli, fail, setup_logging
from msgevents.cli.options import (
    input_option,
    report_option,
    run_settings,
    sink_option,
    state_option,
    verbose_option,
)
from msgevents.cli.run import parse_window_options, write_json
from msgevents.errors import ConfigError, MsgEventsError
from msgevents.objectstore import expand_inputs
from msgevents.plugins import Registry
from msgevents.settings import core_settings
from msgevents.state import StateStore
from msgevents.state.location import is_postgres
from msgevents.timestamps import UTC
from msgevents.windows import resolve

__all__ = ["backfill_command"]


@cli.command("backfill")
@click.option("--provider", "provider_name", required=True, help="Provider name, e.g. episerver.")
@click.option("--since", help="Start of the range: ISO 8601 or relative (7d).")
@click.option("--until", help="End of the range: ISO 8601 or relative.")
@input_option
@click.option(
    "--partition", default="1d", show_default=True, help="Length of each part of the range: 1d, 6h, 30m."
)
@click.option(
    "--executor",
    "executor_spec",
    default="local",
    show_default=True,
    metavar="local|dask://HOST:PORT",
    help="Run the parts as processes on this machine, or as tasks on a Dask cluster.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Worker processes of --executor local [default: the CPU count].",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="How many more times a failed part runs.",
)
@sink_option
@state_option
@report_option
@verbose_option
def backfill_command(
    provider_name: str,
    since: str | None,
    until: str | None,
    inputs: tuple[str, ...],
    partition: str,
    executor_spec: str,
    workers: int | None,
    retries: int,
    sink_spec: str,
    state_path: Path | str | None,
    report_path: Path | None,
    verbose: int,
) -> None:
    """Backfill a range (or a set of input files) in parts run at the same time."""
    setup_logging(verbose)
    try:
        settings = core_settings()
        parts = _plan(since, until, inputs, partition)
        state = state_path or settings.state
        if not is_postgres(state):
            state = Path(state).expanduser().resolve()  # workers run in other directories
        spec = _absolute_sink(sink_spec)
        registry = Registry()
        make_provider(provider_name, registry)  # settings checked before any part runs
        sink = make_sink(spec, registry, required=True)
        StateStore.open(state).close()  # created and migrated once, not by every part at once
        executor = make_executor(executor_spec, workers or os.cpu_count() or 1, retries)
    except MsgEventsError as exc:
        fail(exc)
    backfill_id = uuid.uuid4().hex[:12]
    shared = run_settings(settings)
    tasks = [
        PartTask(
            backfill_id,
            provider_name,
            spec,
            str(state),
            part,
            chunk_size=shared["chunk_size"],
            ledger_retention=shared["ledger_retention"],
            identity_file=str(shared["identity_file"]) if shared["identity_file"] else None,
            verbose=verbose,
        )
        for part in parts
    ]
    report = BackfillReport(backfill_id, provider_name, parts, executor.description, sink.description)  # type: ignore[union-attr]
    click.echo(f"msgevents backfill: {len(parts)} parts on {executor.description}", err=True)
    try:
        for outcome in executor.run(tasks, lambda part, why: _retrying(report, part, why)):
            report.add(outcome)
            _progress(outcome, len(report.outcomes), len(parts))
    except MsgEventsError as exc:
        fail(exc)
    except KeyboardInterrupt:
        click.echo("interrupted: the parts not finished stop where they are; run again to finish", err=True)
    report.ended_at = datetime.now(UTC)
    report.attempts = _attempts(state, backfill_id)
    click.echo(report.summary(), err=True)
    write_json(report_path, report.as_dict())
    sys.exit(report.exit_code)


def _plan(since: str | None, until: str | None, inputs: tuple[str, ...], partition: str) -> list[Part]:
    if inputs:
        if since or until:
            raise ConfigError("--input files are read whole: --since and --until do not apply")
        return plan_input_parts(expand_inputs(inputs))
    if not since or not until:
        raise ConfigError("msgevents backfill needs --since and --until (or --input files)")
    since_at, until_at = parse_window_options(since, until)
    now = datetime.now(UTC)
    start, stop = resolve(since_at, now), resolve(until_at, now)
    assert start is not None
    assert stop is not None
    return plan_window_parts(start, stop, parse_partition(partition))


def _absolute_sink(spec: str) -> str:
    """Directories in ``--to`` made absolute: a worker may run in another directory."""
    name, sep, target = spec.partition(":")
    if name.strip() == "jsonl":
        raise ConfigError(
            "--to jsonl: parts run at the same time and would interleave their lines; "
            "use feed:DIR or crossengage"
        )
    if name.strip() == "feed" and sep and target:
        return f"feed:{Path(target).expanduser().resolve()}"
    return spec


def _retrying(report: BackfillReport, part: Part, why: str) -> None:
    report.retried(part, why)
    click.echo(f"  part {part.name}: failed ({why}); running it again", err=True)


def _progress(outcome: PartOutcome, done: int, total: int) -> None:
    result = outcome.result or {}
    totals = (result.get("report") or {}).get("totals") or {}
    counts = ", ".join(
        f"{totals.get(c, 0)} {c.replace('_', ' ')}" for c in ("delivered", "already_delivered")
    )
    code = part_exit_code(outcome)
    status = "done" if code == 0 else f"FAILED (exit {code}): {outcome.error or result.get('error') or ''}"
    click.echo(f"  [{done}/{total}] part {outcome.part.name}: {status.rstrip(': ')} — {counts}", err=True)


def _attempts(state: Path | str, backfill_id: str) -> dict[str, int]:
    """How many runs each part took, from the run records in the state."""
    try:
        store = StateStore.open(state)
    except MsgEventsError:
        return {}
    try:
        runs = store.part_runs(f"{backfill_id}/")
    finally:
        store.close()
    return {name.split("/", 1)[1]: len(entries) for name, entries in runs.items()}
