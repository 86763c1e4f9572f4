"""The ``msgevents`` command group and what every command shares: the one place an
error becomes a message and an exit code, and logging with secrets masked (providers
and sinks are built by :mod:`msgevents.assemble`)."""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

import click

from msgevents import __version__
from msgevents.errors import MsgEventsError
from msgevents.redact import RedactingFilter, redact

__all__ = ["cli", "fail", "setup_logging"]


def fail(exc: MsgEventsError) -> NoReturn:
    click.echo(f"Error: {redact(str(exc))}", err=True)
    sys.exit(exc.exit_code)


def setup_logging(verbose: int) -> None:
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
