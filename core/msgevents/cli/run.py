"""Running a collection for ``collect`` and ``replay``: build the sink, run the
collector, print its summary, write the ``--report`` file, exit with its code."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from msgevents.assemble import make_provider, make_sink
from msgevents.cli.base import fail
from msgevents.errors import MsgEventsError
from msgevents.pipeline import CollectOptions, Collector
from msgevents.plugins import Registry, load_general_plugins
from msgevents.report import Progress, RunReport
from msgevents.timestamps import UTC
from msgevents.windows import Bound, check_order, parse_bound

__all__ = ["parse_window_options", "run", "write_json", "write_report"]


def run(
    provider_name: str,
    sink_spec: str,
    options: CollectOptions,
    report_path: Path | None,
) -> None:
    registry = Registry()
    progress = Progress()
    report: RunReport | None = None
    try:
        provider = make_provider(provider_name, registry)
        sink = make_sink(sink_spec, registry, required=not options.dry_run)
        load_general_plugins(registry)
        collector = Collector(provider, sink, options, processors=registry.processors, progress=progress)
        if sink is None:
            collector.report.warn(
                f"--to {sink_spec}: sink not configured; the dry run cannot tell what was already delivered"
            )
        report = collector.run()
    except MsgEventsError as exc:
        report = getattr(exc, "report", None)
        if report is None:
            fail(exc)
        click.echo(report.summary(), err=True)  # its last lines name the error: printed once
        write_report(report_path, report)
        sys.exit(report.exit_code)
    click.echo(report.summary(), err=True)
    write_report(report_path, report)
    sys.exit(report.exit_code)


def write_report(path: Path | None, report: RunReport) -> None:
    write_json(path, report.as_dict())  # as_dict() masks secrets in every value


def write_json(path: Path | None, data: dict[str, Any]) -> None:
    """The ``--report`` file: replaced atomically (or written into, when it is a pipe or a device)."""
    if path is None:
        return
    text = json.dumps(data, indent=2) + "\n"
    try:
        if path.exists() and not path.is_file():  # /dev/stdout, a named pipe: write, never replace
            with path.open("w") as out:
                out.write(text)
            return
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as exc:
        click.echo(f"Error: cannot write the --report file {str(path)!r}: {exc.strerror or exc}", err=True)
        sys.exit(2)


def parse_window_options(since: str | None, until: str | None) -> tuple[Bound | None, Bound | None]:
    """Relative values stay relative (the run counts them back from the provider's clock);
    an inverted range is refused here, before any settings check or login."""
    since_at = parse_bound(since, "--since") if since else None
    until_at = parse_bound(until, "--until") if until else None
    check_order(since_at, until_at, datetime.now(UTC))
    return since_at, until_at
