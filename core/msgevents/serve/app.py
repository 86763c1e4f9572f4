"""The ASGI application: routes, bounded body reading, answers, lifespan.

Plain ASGI rather than a framework: the receiver has three routes, and what matters is
exactly what a framework would hide — reading the body in bounded chunks and refusing
it past the limit before it is in memory, the raw path and query for the signed URL,
and one answer per request only after its durable commit. Starlette would add a
dependency for a router and a ``Request`` wrapper around those few lines. Served by
uvicorn (with httptools when installed), the application is importable for an
operator's own process manager: ``uvicorn --factory msgevents.serve:create_app``.

Answers of ``POST /webhooks/<provider>`` (name or alias):
``200`` events committed to the outbox (bad records quarantined, an unreadable body
quarantined whole), with ``{"accepted", "quarantined", "not_modelled"}``; ``401`` not
authentic (nothing stored); ``404`` no such provider here; ``405`` not POST; ``413``
body over ``MSGEVENTS_SERVE_MAX_BODY``; ``500`` the provider's secret is not set, or a
plugin failed; ``503`` the state cannot be written, or the receiver is stopping.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Any

import orjson

from msgevents.errors import ConfigError, IncompleteError, MsgEventsError, WebhookRejected
from msgevents.redact import redact
from msgevents.serve.committer import Committer, StateUnavailable
from msgevents.serve.intake import Intake, Taken
from msgevents.serve.metrics import CONTENT_TYPE
from msgevents.serve.service import Service
from msgevents.timestamps import UTC
from msgevents.values import WebhookRequest

__all__ = ["ServeApp"]

log = logging.getLogger("msgevents.serve")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

PREFIX = "/webhooks/"
#: /healthz answers 503 when its probe write is not committed within this many seconds.
HEALTH_WRITE_TIMEOUT = 3.0


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    pass


class ServeApp:
    """``app(scope, receive, send)`` over a :class:`~msgevents.serve.service.Service`."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.metrics = service.metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    # -- lifespan ---------------------------------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        loop = asyncio.get_running_loop()
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await loop.run_in_executor(None, self.service.start)
                except MsgEventsError as exc:
                    await send({"type": "lifespan.startup.failed", "message": redact(str(exc))})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await loop.run_in_executor(None, self.service.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return

    # -- requests ---------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        method: str = scope["method"]
        if path.startswith(PREFIX):
            await self._webhook(scope, receive, send, path[len(PREFIX) :])
        elif path == "/healthz" and method in ("GET", "HEAD"):
            await self._healthz(send)
        elif path == "/metrics" and method in ("GET", "HEAD"):
            depth, lag = await asyncio.get_running_loop().run_in_executor(None, self.service.outbox_probe)
            await _answer(send, 200, self.metrics.render(depth, lag), CONTENT_TYPE)
        else:
            await _answer(send, 404, {"error": "not found"})

    async def _webhook(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        started = time.perf_counter()
        service = self.service
        intake = service.routes.get(name)
        label = intake.name if intake is not None else "-"
        status, payload = await self._take(scope, receive, intake, name)
        elapsed = time.perf_counter() - started
        self.metrics.request(label, status, elapsed if intake is not None else None)
        try:
            await _answer(send, status, payload)
        finally:
            if log.isEnabledFor(logging.INFO):
                detail = " ".join(f"{k}={v}" for k, v in payload.items())
                log.info("POST %s%s %d %s %.1f ms", PREFIX, name, status, redact(detail), elapsed * 1000)

    async def _take(
        self, scope: Scope, receive: Receive, intake: Any, name: str
    ) -> tuple[int, dict[str, Any]]:
        """Read, verify, parse, commit one request: its status and JSON answer."""
        service = self.service
        if intake is None:
            return 404, {"error": f"no provider {name!r} receives webhooks here"}
        if scope["method"] != "POST":
            return 405, {"error": "use POST"}
        if service.stopping or service.committer is None:
            return 503, {"error": "the receiver is stopping"}
        limit = service.settings.max_body
        try:
            body = await _read_body(scope, receive, limit)
        except _TooLarge:
            return 413, {"error": f"body over {limit} bytes (MSGEVENTS_SERVE_MAX_BODY)"}
        except _Gone:
            return 400, {"error": "the client went away"}
        request = WebhookRequest(
            method="POST",
            url=_url(scope, service.settings.public_url, name),
            headers=_headers(scope),
            body=body,
            received_at=datetime.now(UTC),
        )
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Taken] = loop.create_future()
        service.pool.submit(_authenticate, service.committer, intake, request, future, loop)
        try:
            taken = await future
        except WebhookRejected as exc:
            self.metrics.count(intake.name, "rejected_requests", 1)
            return 401, {"error": f"not authentic: {redact(str(exc))}"}
        except ConfigError as exc:
            log.error("webhook of %r refused: %s", intake.name, redact(str(exc)))
            return 500, {"error": redact(str(exc))}
        except StateUnavailable as exc:
            return 503, {"error": redact(str(exc))}
        except IncompleteError as exc:  # verification I/O that may pass (an SNS certificate host down)
            log.warning("webhook of %r not verified yet: %s", intake.name, redact(str(exc)))
            return 503, {"error": redact(str(exc))}
        except MsgEventsError as exc:
            log.error("webhook of %r: %s", intake.name, redact(str(exc)))
            return 500, {"error": redact(str(exc))}
        except _PluginFailed as exc:
            return 500, {"error": str(exc)}
        self.metrics.count(intake.name, "accepted", len(taken.events))
        self.metrics.count(intake.name, "quarantined", taken.quarantined)
        self.metrics.count(intake.name, "not_modelled", taken.not_modelled)
        return 200, taken.as_dict()

    async def _healthz(self, send: Send) -> None:
        service = self.service
        loop = asyncio.get_running_loop()
        state_ok, reason = True, None
        if service.stopping or service.committer is None:
            state_ok, reason = False, "stopping"
        else:
            try:  # a real write through the committer: proves the state writable now
                await asyncio.wait_for(service.committer.commit(None, ()), timeout=HEALTH_WRITE_TIMEOUT)
            except (StateUnavailable, TimeoutError) as exc:
                state_ok, reason = False, redact(str(exc)) or "state write timed out"
        try:
            depth, lag = await loop.run_in_executor(None, service.outbox_probe)
        except Exception as exc:
            depth, lag, state_ok = -1, 0.0, False
            reason = reason or redact(str(exc))
        status = service.delivery.status.as_dict() if service.delivery else {"sink": "starting"}
        body: dict[str, Any] = {
            "status": "ok" if state_ok else "unavailable",
            "outbox": depth,
            "delivery_lag_seconds": round(lag, 3),
            **status,
            "providers": sorted({intake.name for intake in service.routes.values()}),
        }
        if reason:
            body["reason"] = reason
        if service.unconfigured:
            body["unconfigured"] = service.unconfigured
        await _answer(send, 200 if state_ok else 503, body)


class _PluginFailed(Exception):
    """The plugin's verify or parse crashed (a bug): 500, the provider retries, nothing stored."""


def _authenticate(
    committer: Committer,
    intake: Intake,
    request: WebhookRequest,
    future: asyncio.Future[Taken],
    loop: asyncio.AbstractEventLoop,
) -> None:
    """In a worker thread: verify and parse, then hand the records straight to the committer."""
    try:
        records = intake.authenticate(request)
    except MsgEventsError as exc:  # WebhookRejected, ConfigError
        Committer.fail(future, loop, exc)
    except Exception as exc:
        log.exception("webhook of %r: the plugin failed", intake.name)
        Committer.fail(future, loop, _PluginFailed(f"plugin error: {type(exc).__name__}"))
    else:
        committer.enqueue(intake, records, future, loop)


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The body, read chunk by chunk; :class:`_TooLarge` as soon as it passes ``limit``."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                if int(value) > limit:
                    raise _TooLarge
            except ValueError:
                pass
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _headers(scope: Scope) -> dict[str, str]:
    """Header names lower-cased (ASGI gives them so), repeated headers joined by ``", "``."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _url(scope: Scope, public_url: str | None, name: str) -> str:
    """The URL the provider called: the public base URL when set, else as this server saw it."""
    query = scope.get("query_string", b"").decode("latin-1")
    suffix = f"?{query}" if query else ""
    if public_url:
        return f"{public_url}{PREFIX}{name}{suffix}"
    host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
    if not host and scope.get("server"):
        server_host, port = scope["server"]
        host = f"{server_host}:{port}"
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    return f"{scope.get('scheme', 'http')}://{host}{path}{suffix}"


async def _answer(
    send: Send, status: int, payload: dict[str, Any] | bytes, content_type: str = "application/json"
) -> None:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode("latin-1")),
                (b"content-length", str(len(body)).encode("latin-1")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
