"""The ``new-provider`` command: scaffold a provider plugin (see :mod:`msgevents.scaffold`)."""

from __future__ import annotations

from pathlib import Path

import click

from msgevents.cli.base import cli, fail
from msgevents.errors import ConfigError, MsgEventsError
from msgevents.scaffold import Layout, provider_names, write_provider

__all__ = ["new_provider_command"]


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
        fail(exc)
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
