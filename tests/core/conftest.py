"""Fixtures of the core tests: canonical events, an isolated secret registry, a scripted HTTP server.

- ``make_event``: builds valid :class:`msgevents.Event` objects from a few overrides;
- ``sample_events``: the events behind the hand-written files in ``fixtures/``;
- ``cheap_events``: many distinct events quickly (copies of one validated event);
- ``secrets``: an empty secret registry for one test (``msgevents.redact`` is process-wide);
- ``http_server``: a threaded ``http.server`` on 127.0.0.1 answering from a script of
  :class:`Reply` objects (the ``reply`` fixture) and recording every request it read;
- ``closed_port``: a local port nobody listens on.
"""

from __future__ import annotations

import copy
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from msgevents import redact
from msgevents.events import Event

T0 = datetime(2022, 1, 11, tzinfo=UTC)


@pytest.fixture
def make_event() -> Callable[..., Event]:
    """``make_event(**overrides)``: a Message Sent of user ABC12345 at 2022-01-11T00:00:00Z."""

    def make(**overrides: Any) -> Event:
        fields: dict[str, Any] = {
            "user_id": "ABC12345",
            "event": "Message Sent",
            "timestamp": T0,
            "provider": "test",
        }
        fields.update(overrides)
        return Event(**fields)

    return make


@pytest.fixture
def cheap_events(make_event: Callable[..., Event]) -> Callable[[int, int], Iterator[Event]]:
    """``cheap_events(start, stop)``: distinct event objects for user ``U<i>``, built lazily and fast.

    Each is a shallow copy of one validated template with its own user id and
    event id (no validation: the template is valid and only those two strings
    change). Built this way because the feed tests need hundreds of thousands.
    """
    template = make_event(channel="Email", type="Newsletter", campaign_id="123456", message_id="304405")

    def generate(start: int, stop: int) -> Iterator[Event]:
        for i in range(start, stop):
            event = copy.copy(template)
            fields = event.__dict__
            fields["user_id"] = f"U{i:08d}"
            fields["event_id"] = f"{i:032x}"
            yield event

    return generate


@pytest.fixture
def sample_events() -> list[Event]:
    """The events behind ``fixtures/feed_file.json`` and ``fixtures/api_bodies.jsonl``, in input order.

    Properties are passed in scrambled order on purpose: the output order is the format's, not the input's.
    """
    return [
        Event(
            message_id="304405",
            campaign_id="123456",
            type="Newsletter",
            channel="Email",
            user_id="ABC12345",
            event="Message Sent",
            timestamp="2022-01-11T00:00:00Z",
            provider="test",
        ),
        Event(
            email="jane@example.com",
            event="Message Viewed",
            timestamp=datetime(2022, 1, 11, 10, 0, 0, 250000, tzinfo=ZoneInfo("Europe/Berlin")),
            channel="Email",
            provider="test",
        ),
        Event(
            url="https://shop.example/p/1",
            user_id="ABC12345",
            event="Message Clicked",
            timestamp="2022-01-11T08:15:00Z",
            channel="Email",
            campaign_id=123456,
            message_id=304405,
            provider="test",
        ),
        Event(
            user_id="XYZ-9",
            event="Message Unsubscribed",
            timestamp=T0 + timedelta(days=1),
            type="Rückgewinnung",
            provider="test",
        ),
        Event(
            user_id="ABC12345",
            event="Message Delivered",
            timestamp=datetime(2022, 1, 11, 0, 0, 1, 500000, tzinfo=UTC),
            campaign_id="123456",
            type="",
            provider="test",
        ),
        Event(
            user_id="NOPROPS",
            event="Message hard_bounced",
            timestamp=datetime(2022, 1, 12, 23, 59, 59, 999999, tzinfo=UTC),
            channel="  ",
            provider="test",
        ),
    ]


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """A fresh, empty secret registry for this test; the process-wide one is restored afterwards."""
    registry = redact._Registry()
    monkeypatch.setattr(redact, "_registry", registry)
    return registry.secrets


# -- a scripted local HTTP server ------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer. ``drop``: read the request, then close the connection without answering."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    drop: bool = False


@dataclass
class Seen:
    """A request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ScriptedServer:
    """Answers requests with the scripted replies in order (``200`` once the script is used up)."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with server._lock:
                    server.requests.append(Seen(self.command, self.path, dict(self.headers), body))
                    reply = server.replies.popleft() if server.replies else Reply()
                if reply.drop:
                    self.close_connection = True
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = _answer

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), daemon=True)

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


@pytest.fixture
def http_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def reply() -> type[Reply]:
    """The :class:`Reply` class, to script ``http_server``: ``http_server.script(reply(503))``."""
    return Reply


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 with no listener (connections are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
