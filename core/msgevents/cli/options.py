"""Options shared by the commands that run collections (``collect``, ``replay``, ``backfill``):
one definition each, so their names, help and defaults cannot drift apart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from msgevents.settings import CoreSettings
from msgevents.state.location import state_location

__all__ = [
    "DEFAULT_SINK",
    "input_option",
    "report_option",
    "run_settings",
    "sink_option",
    "state_option",
    "verbose_option",
]

DEFAULT_SINK = "feed:./feeds"

F = TypeVar("F", bound=Callable[..., Any])


def input_option(function: F) -> F:
    return click.option(
        "--input",
        "inputs",
        multiple=True,
        metavar="PATH|GLOB|s3://BUCKET/PREFIX",
        help="Provider export / webhook-dump file, a glob of them, or S3 objects under a prefix "
        "(repeat for several); needs no API credentials.",
    )(function)


def sink_option(function: F) -> F:
    return click.option(
        "--to",
        "sink_spec",
        default=DEFAULT_SINK,
        show_default=True,
        help="Sink: feed:DIR | crossengage | jsonl:PATH (- = stdout).",
    )(function)


def state_option(function: F) -> F:
    return click.option(
        "--state",
        "state_path",
        callback=lambda _ctx, _param, value: None if value is None else state_location(value),
        help="State file, or a postgresql:// URL [env MSGEVENTS_STATE].",
    )(function)


def report_option(function: F) -> F:
    return click.option(
        "--report", "report_path", type=click.Path(path_type=Path), help="Write the run report as JSON."
    )(function)


def verbose_option(function: F) -> F:
    return click.option("-v", "--verbose", count=True, help="Log HTTP requests (credentials redacted).")(
        function
    )


def run_settings(settings: CoreSettings) -> dict[str, Any]:
    """The ``CollectOptions`` fields every run takes from the core settings."""
    return {
        "chunk_size": settings.chunk_size,
        "ledger_retention": settings.ledger_retention,
        "identity_file": settings.identity_file,
    }
