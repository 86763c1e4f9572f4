"""Running the application under uvicorn for ``msgevents serve``: the port, signals, exit.

The service is started before the server listens, so a second receiver on the same
state (exit 6) or a bad setting (exit 2) ends the command with its code instead of a
server that fails to start. The listening socket is bound here too, so a port in use
is a configuration error naming ``--port``. uvicorn handles SIGTERM and SIGINT: it
stops accepting, lets the requests in flight finish, then the application's lifespan
shutdown commits what is queued and drains the outbox for ``MSGEVENTS_SERVE_DRAIN_TIMEOUT``
seconds; the process then exits 0.
"""

from __future__ import annotations

import signal
import socket
import sys

import click

from msgevents.errors import ConfigError
from msgevents.serve.app import ServeApp

__all__ = ["bind", "run_server"]

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port`` 0: a free one), or :class:`ConfigError`."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port} (--host/--port): {exc.strerror}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_server(app: ServeApp, sock: socket.socket) -> int:
    """Serve until SIGTERM/SIGINT; the exit code (0 after a clean drain)."""
    import uvicorn

    host, port = sock.getsockname()[:2]
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,  # our own line per request (-v) never shows a query string or header
        lifespan="on",
        timeout_graceful_shutdown=max(5, int(app.service.settings.drain_timeout) + 5),
        server_header=False,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    click.echo(f"msgevents serve: listening on http://{host}:{port}", err=True)
    # uvicorn raises a signal it handled again once it has shut down, with the handler it
    # found: a handler that only notes it makes the clean drain end with exit 0
    stopped_by: list[int] = []
    previous = {sig: signal.signal(sig, lambda number, _frame: stopped_by.append(number)) for sig in _SIGNALS}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if app.service.started:  # the lifespan did not get to stop it (startup failed)
            app.service.stop()
    if not server.started:
        return 1
    if signal.SIGINT in stopped_by:
        return 130
    status = app.service.delivery.status if app.service.delivery else None
    if status is not None:
        click.echo(f"msgevents serve: stopped; {status.delivered} events delivered", err=True)
    sys.stdout.flush()
    return 0
