"""The ``msgevents`` command line. The only place errors become exit codes.

Exit codes: 0 done (quarantined and rejected records are reported, not
failures); 2 usage or configuration error; 3 authentication refused; 4
incomplete (a failure outlasted the retries; nothing lost, the outbox is sent
next run); 5 a plugin broke its contract; 6 another run holds the lock.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import NoReturn

import click

from msgevents import __version__
from msgevents.errors import (
    ConfigError,
    MsgEventsError,
)
from msgevents.objectstore import expand_inputs
from msgevents.pipeline import CollectOptions, Collector
from msgevents.plugins import (
    Registry,
    list_providers,
    load_general_plugins,
    load_provider,
    load_sink,
)
from msgevents.provider import Provider, load_settings
from msgevents.redact import RedactingFilter, add_secret, redact
from msgevents.replay import quarantine_provider
from msgevents.report import Progress, RunReport
from msgevents.scaffold import Layout, provider_names, write_provider
from msgevents.settings import core_settings
from msgevents.sink import Sink
from msgevents.timestamps import UTC
from msgevents.windows import Bound, check_order, parse_bound

__all__ = ["cli", "main"]

DEFAULT_SINK = "feed:./feeds"


def _fail(exc: MsgEventsError) -> NoReturn:
    click.echo(f"Error: {redact(str(exc))}", err=True)
    sys.exit(exc.exit_code)


def _setup_logging(verbose: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger("msgevents")
    root.handlers[:] = [handler]
    root.propagate = False
    root.setLevel(logging.WARNING)
    if verbose >= 1:
        root.setLevel(logging.INFO)
        logging.getLogger("msgevents.http").setLevel(logging.DEBUG)
    if verbose >= 2:
        root.setLevel(logging.DEBUG)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="msgevents")
def cli() -> None:
    """Collect outbound-message events from providers and deliver them to CrossEngage exactly once."""


# -- providers / about ------------------------------------------------------------------------


@cli.command("providers")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def providers_command(as_json: bool) -> None:
    """List installed providers: name, version, supported events, status."""
    listings = list_providers()
    if as_json:
        click.echo(json.dumps([item.as_dict() for item in listings], indent=2))
        return
    if not listings:
        click.echo(
            "No providers installed. Provider plugins are not published on PyPI: install one from a "
            "checkout of the msgevents repository, e.g. pip install -e core -e plugins/episerver"
        )
        return
    for item in listings:
        alias = f" (alias: {', '.join(item.aliases)})" if item.aliases else ""
        click.echo(f"{item.name}{alias}  {item.version}  {item.status}")
        if item.status == "ok":
            click.echo(f"  {item.title}")
            click.echo("  events: " + ", ".join(item.events))
        else:
            click.echo(f"  error: {item.error}")


@cli.command("about")
@click.argument("provider")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def about_command(provider: str, as_json: bool) -> None:
    """Describe PROVIDER: settings (env names, required, secret), events, inputs, windows."""
    try:
        cls = load_provider(provider)
    except MsgEventsError as exc:
        _fail(exc)
    info = cls.describe()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    click.echo(f"{info['name']}: {info['title']}")
    if info["aliases"]:
        click.echo(f"aliases: {', '.join(info['aliases'])}")
    click.echo("events:")
    for name in info["events"]:
        click.echo(f"  {name}")
    if info["not_supported"]:
        click.echo("never produced: " + ", ".join(info["not_supported"]))
    if info["streams"]:
        click.echo("API streams: " + ", ".join(info["streams"]))
    if info["input"]:
        click.echo(f"--input: {info['input']}")
    if info["identity_source"]:
        click.echo(
            f"customer id from: {info['identity_source']} "
            "(else the identity file, else email; phone-only events are quarantined)"
        )
    click.echo(
        f"windows: settle {info['settle_seconds']}s, restatement {info['restatement_seconds']}s"
        + (f", provider retention {info['retention_days']} days" if info["retention_days"] else "")
    )
    click.echo("settings:")
    for item in info["settings"]:
        flags = []
        if item["required"]:
            flags.append("required")
        if item["secret"]:
            flags.append("secret")
        if item["default"] not in (None, ""):
            flags.append(f"default {item['default']}")
        suffix = f" ({', '.join(flags)})" if flags else ""
        click.echo(f"  {item['env']}{suffix}")
        if item["description"]:
            click.echo(f"      {item['description']}")


# -- check ------------------------------------------------------------------------------------------


def _make_provider(name: str, registry: Registry) -> Provider:
    cls = load_provider(name, registry)
    settings = load_settings(cls.Settings)
    for secret in settings.secret_values():
        add_secret(secret)
    return cls(settings)


@cli.command("check")
@click.option("--provider", "provider_name", required=True, help="Provider name, e.g. episerver.")
@click.option("-v", "--verbose", count=True, help="Log HTTP requests (credentials redacted).")
def check_command(provider_name: str, verbose: int) -> None:
    """Verify PROVIDER's credentials with one cheap call."""
    _setup_logging(verbose)
    try:
        provider = _make_provider(provider_name, Registry())
        try:
            message = provider.check()
        finally:
            provider.close()
    except MsgEventsError as exc:
        _fail(exc)
    click.echo(f"ok: {redact(message)}")


# -- collect / replay ---------------------------------------------------------------------------------


def _make_sink(spec: str, registry: Registry, *, required: bool) -> Sink | None:
    name, _, target = spec.partition(":")
    cls = load_sink(name.strip(), registry)
    try:
        sink = cls.from_target(target or None)
    except ConfigError:
        if required:
            raise
        return None
    for secret in sink.secret_values():
        add_secret(secret)
    return sink


def _run(
    provider_name: str,
    sink_spec: str,
    options: CollectOptions,
    report_path: Path | None,
) -> None:
    registry = Registry()
    progress = Progress()
    report: RunReport | None = None
    try:
        provider = _make_provider(provider_name, registry)
        sink = _make_sink(sink_spec, registry, required=not options.dry_run)
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
            _fail(exc)
        click.echo(report.summary(), err=True)  # its last lines name the error: printed once
        _write_report(report_path, report)
        sys.exit(report.exit_code)
    click.echo(report.summary(), err=True)
    _write_report(report_path, report)
    sys.exit(report.exit_code)


def _write_report(path: Path | None, report: RunReport) -> None:
    if path is None:
        return
    text = json.dumps(report.as_dict(), indent=2) + "\n"  # as_dict() masks secrets in every value
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


def _parse_window_options(since: str | None, until: str | None) -> tuple[Bound | None, Bound | None]:
    """Relative values stay relative (the run counts them back from the provider's clock);
    an inverted range is refused here, before any settings check or login."""
    from datetime import datetime

    since_at = parse_bound(since, "--since") if since else None
    until_at = parse_bound(until, "--until") if until else None
    check_order(since_at, until_at, datetime.now(UTC))
    return since_at, until_at


@cli.command("collect")
@click.option("--provider", "provider_name", required=True, help="Provider name, e.g. episerver.")
@click.option("--since", help="Start: ISO 8601 (2024-05-01T00:00:00Z) or relative (2h, 7d).")
@click.option("--until", help="End: ISO 8601 or relative; makes the run a backfill.")
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="PATH|GLOB|s3://BUCKET/PREFIX",
    help="Provider export / webhook-dump file, a glob of them, or S3 objects under a prefix "
    "(repeat for several); needs no API credentials.",
)
@click.option(
    "--to",
    "sink_spec",
    default=DEFAULT_SINK,
    show_default=True,
    help="Sink: feed:DIR | crossengage | jsonl:PATH (- = stdout).",
)
@click.option(
    "--state", "state_path", type=click.Path(path_type=Path), help="State file [env MSGEVENTS_STATE]."
)
@click.option(
    "--dry-run", is_flag=True, help="Read, map, validate and report; send nothing, change no state."
)
@click.option("--full-refresh", is_flag=True, help="Restart the live position at the default lookback.")
@click.option(
    "--limit", type=click.IntRange(min=1), help="Read at most N records (positions do not advance)."
)
@click.option(
    "--report", "report_path", type=click.Path(path_type=Path), help="Write the run report as JSON."
)
@click.option("-v", "--verbose", count=True, help="Log HTTP requests (credentials redacted).")
def collect_command(
    provider_name: str,
    since: str | None,
    until: str | None,
    inputs: tuple[str, ...],
    sink_spec: str,
    state_path: Path | None,
    dry_run: bool,
    full_refresh: bool,
    limit: int | None,
    report_path: Path | None,
    verbose: int,
) -> None:
    """Collect events from a provider, map them and deliver them to a sink."""
    _setup_logging(verbose)
    try:
        if inputs and (since or until or full_refresh):
            raise ConfigError(
                "--input files are read whole: --since, --until and --full-refresh do not apply"
            )
        settings = core_settings()
        since_at, until_at = _parse_window_options(since, until)
        options = CollectOptions(
            state_path=state_path or settings.state,
            since=since_at,
            until=until_at,
            inputs=expand_inputs(inputs),
            dry_run=dry_run,
            full_refresh=full_refresh,
            limit=limit,
            chunk_size=settings.chunk_size,
            ledger_retention=settings.ledger_retention,
            identity_file=settings.identity_file,
        )
    except MsgEventsError as exc:
        _fail(exc)
    _run(provider_name, sink_spec, options, report_path)


@cli.command("replay")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--to", "sink_spec", default=DEFAULT_SINK, show_default=True, help="Sink, as for collect.")
@click.option(
    "--state", "state_path", type=click.Path(path_type=Path), help="State file [env MSGEVENTS_STATE]."
)
@click.option("--dry-run", is_flag=True, help="Map and report only.")
@click.option(
    "--report", "report_path", type=click.Path(path_type=Path), help="Write the run report as JSON."
)
@click.option("-v", "--verbose", count=True, help="Log HTTP requests (credentials redacted).")
def replay_command(
    file: Path,
    sink_spec: str,
    state_path: Path | None,
    dry_run: bool,
    report_path: Path | None,
    verbose: int,
) -> None:
    """Re-process a quarantine FILE (after a plugin fix or a tenant change)."""
    _setup_logging(verbose)
    try:
        settings = core_settings()
        provider_name = quarantine_provider(file)
        options = CollectOptions(
            state_path=state_path or settings.state,
            replay=file,
            dry_run=dry_run,
            chunk_size=settings.chunk_size,
            ledger_retention=settings.ledger_retention,
            identity_file=settings.identity_file,
        )
    except MsgEventsError as exc:
        _fail(exc)
    _run(provider_name, sink_spec, options, report_path)


# -- new-provider -----------------------------------------------------------------------------------


def _provider_name(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        provider_names(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@cli.command("new-provider")
@click.argument("name", callback=_provider_name)
@click.option(
    "--directory",
    type=click.Path(path_type=Path, file_okay=False),
    help="Write a standalone project DIR/NAME (with its own examples/ and tests/) "
    "instead of plugins/NAME, examples/NAME and tests/plugins/NAME here.",
)
@click.option("--force", is_flag=True, help="Overwrite the generated files in existing folders.")
def new_provider_command(name: str, directory: Path | None, force: bool) -> None:
    """Scaffold the provider plugin NAME: plugins/NAME (or DIR/NAME), a sample and tests.

    NAME (lower-case letters, digits and dashes) is what users type after
    --provider; the distribution is msgevents-NAME, the package msgevents_NAME.
    The plugin works as is on its sample webhook dump; places to adapt to the
    real provider API are marked ADAPT.
    """
    root = directory if directory is not None else Path(".")
    try:
        written = write_provider(name, root, standalone=directory is not None, force=force)
    except MsgEventsError as exc:
        _fail(exc)
    layout = Layout(provider_names(name), root, standalone=directory is not None)
    click.echo(f"Created the provider plugin {name} ({layout.names.dist}):")
    for path in written:
        click.echo(f"  {path}")
    click.echo("Next (in the virtualenv msgevents runs from: `source .venv/bin/activate` first):")
    if directory is not None:
        click.echo(f"  cd {layout.project}")
    for command in layout.commands():
        click.echo(f"  {command}")
    click.echo(f"  then adapt the places marked ADAPT: grep -rn ADAPT {layout.relative(layout.project)}")


def main() -> None:
    try:
        cli(prog_name="msgevents")
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except Exception:  # a bug in msgevents itself: show it, with secrets masked
        import traceback

        click.echo(redact(traceback.format_exc()), err=True)
        click.echo("msgevents: internal error (the traceback above); please report it", err=True)
        sys.exit(1)
