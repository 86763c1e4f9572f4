"""``msgevents serve``: receive provider webhooks, commit them durably, deliver them (see
:mod:`msgevents.serve`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from msgevents.cli.base import cli, fail, setup_logging
from msgevents.errors import ConfigError, MsgEventsError
from msgevents.state.location import state_location

__all__ = ["serve_command"]


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="0: a free port."
)
@click.option(
    "--to",
    "sink_spec",
    help="Sink: feed:DIR | crossengage | jsonl:PATH [env MSGEVENTS_SERVE_TO, default feed:./feeds].",
)
@click.option(
    "--state",
    "state_path",
    callback=lambda _ctx, _param, value: None if value is None else state_location(value),
    help="State file, or a postgresql:// URL [env MSGEVENTS_STATE].",
)
@click.option(
    "--provider",
    "providers",
    multiple=True,
    help="Receive only this provider (repeat for several) [default: every installed one with webhooks].",
)
@click.option("-v", "--verbose", count=True, help="A log line per request (never a secret or signature).")
def serve_command(
    host: str,
    port: int,
    sink_spec: str | None,
    state_path: Path | str | None,
    providers: tuple[str, ...],
    verbose: int,
) -> None:
    """Receive provider webhooks on POST /webhooks/PROVIDER and deliver their events to a sink."""
    setup_logging(verbose)
    try:
        from msgevents.serve import create_app
        from msgevents.serve.server import bind, run_server
    except ImportError as exc:
        fail(
            ConfigError(
                f"msgevents serve needs its extra: pip install 'msgevents[serve]' ({exc.name} missing)"
            )
        )
    try:
        app = create_app(state=state_path, to=sink_spec, providers=providers)
        sock = bind(host, port)
        try:
            app.service.start()
        except BaseException:
            sock.close()
            raise
    except MsgEventsError as exc:
        fail(exc)
    sys.exit(run_server(app, sock))
