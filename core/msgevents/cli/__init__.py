"""The ``msgevents`` command line. The only place errors become exit codes.

Exit codes: 0 done (quarantined and rejected records are reported, not
failures); 2 usage or configuration error; 3 authentication refused; 4
incomplete (a failure outlasted the retries; nothing lost, the outbox is sent
next run); 5 a plugin broke its contract; 6 another run holds the lock.

One module per command family, all registered on the group in
:mod:`~msgevents.cli.base`: :mod:`~msgevents.cli.providers` (``providers``,
``about``, ``check``), :mod:`~msgevents.cli.collect` (``collect``, ``replay``,
which hand over to :mod:`~msgevents.cli.run`), :mod:`~msgevents.cli.backfill` (parts
run as tasks, :mod:`msgevents.backfill`), :mod:`~msgevents.cli.new_provider`,
:mod:`~msgevents.cli.serve` (the webhook receiver, :mod:`msgevents.serve`); the options
they share are defined once in :mod:`~msgevents.cli.options`.
"""

from __future__ import annotations

import sys

import click

from msgevents.cli import backfill, collect, new_provider, providers, serve  # noqa: F401  (register the commands)
from msgevents.cli.base import cli
from msgevents.redact import redact

__all__ = ["cli", "main"]


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
