"""Commands about installed providers: ``providers`` (list), ``about`` (describe one),
``check`` (verify one's credentials)."""

from __future__ import annotations

import json

import click

from msgevents.assemble import make_provider
from msgevents.cli.base import cli, fail, setup_logging
from msgevents.errors import MsgEventsError
from msgevents.plugins import Registry, list_providers, load_provider
from msgevents.redact import redact

__all__ = ["about_command", "check_command", "providers_command"]


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
        fail(exc)
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


@cli.command("check")
@click.option("--provider", "provider_name", required=True, help="Provider name, e.g. episerver.")
@click.option("-v", "--verbose", count=True, help="Log HTTP requests (credentials redacted).")
def check_command(provider_name: str, verbose: int) -> None:
    """Verify PROVIDER's credentials with one cheap call."""
    setup_logging(verbose)
    try:
        provider = make_provider(provider_name, Registry())
        try:
            message = provider.check()
        finally:
            provider.close()
    except MsgEventsError as exc:
        fail(exc)
    click.echo(f"ok: {redact(message)}")
