"""The commands that run a collection: ``collect`` (from a provider's API or ``--input``
files) and ``replay`` (a quarantine file). Both turn their options into
:class:`~msgevents.pipeline.CollectOptions` and hand over to :func:`msgevents.cli.run.run`."""

from __future__ import annotations

from pathlib import Path

import click

from msgevents.cli.base import cli, fail, setup_logging
from msgevents.cli.options import (
    DEFAULT_SINK,
    input_option,
    report_option,
    run_settings,
    sink_option,
    state_option,
    verbose_option,
)
from msgevents.cli.run import parse_window_options, run
from msgevents.errors import ConfigError, MsgEventsError
from msgevents.objectstore import expand_inputs
from msgevents.pipeline import CollectOptions
from msgevents.replay import quarantine_provider
from msgevents.settings import core_settings

__all__ = ["DEFAULT_SINK", "collect_command", "replay_command"]


@cli.command("collect")
@click.option("--provider", "provider_name", required=True, help="Provider name, e.g. episerver.")
@click.option("--since", help="Start: ISO 8601 (2024-05-01T00:00:00Z) or relative (2h, 7d).")
@click.option("--until", help="End: ISO 8601 or relative; makes the run a backfill.")
@input_option
@sink_option
@state_option
@click.option(
    "--dry-run", is_flag=True, help="Read, map, validate and report; send nothing, change no state."
)
@click.option("--full-refresh", is_flag=True, help="Restart the live position at the default lookback.")
@click.option(
    "--limit", type=click.IntRange(min=1), help="Read at most N records (positions do not advance)."
)
@report_option
@verbose_option
def collect_command(
    provider_name: str,
    since: str | None,
    until: str | None,
    inputs: tuple[str, ...],
    sink_spec: str,
    state_path: Path | str | None,
    dry_run: bool,
    full_refresh: bool,
    limit: int | None,
    report_path: Path | None,
    verbose: int,
) -> None:
    """Collect events from a provider, map them and deliver them to a sink."""
    setup_logging(verbose)
    try:
        if inputs and (since or until or full_refresh):
            raise ConfigError(
                "--input files are read whole: --since, --until and --full-refresh do not apply"
            )
        settings = core_settings()
        since_at, until_at = parse_window_options(since, until)
        options = CollectOptions(
            state_path=state_path or settings.state,
            since=since_at,
            until=until_at,
            inputs=expand_inputs(inputs),
            dry_run=dry_run,
            full_refresh=full_refresh,
            limit=limit,
            **run_settings(settings),
        )
    except MsgEventsError as exc:
        fail(exc)
    run(provider_name, sink_spec, options, report_path)


@cli.command("replay")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@sink_option
@state_option
@click.option("--dry-run", is_flag=True, help="Map and report only.")
@report_option
@verbose_option
def replay_command(
    file: Path,
    sink_spec: str,
    state_path: Path | str | None,
    dry_run: bool,
    report_path: Path | None,
    verbose: int,
) -> None:
    """Re-process a quarantine FILE (after a plugin fix or a tenant change)."""
    setup_logging(verbose)
    try:
        settings = core_settings()
        provider_name = quarantine_provider(file)
        options = CollectOptions(
            state_path=state_path or settings.state,
            replay=file,
            dry_run=dry_run,
            **run_settings(settings),
        )
    except MsgEventsError as exc:
        fail(exc)
    run(provider_name, sink_spec, options, report_path)
