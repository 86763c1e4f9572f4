"""A Mailgun Events API emulator on 127.0.0.1, written from Mailgun's documented contract.

What it serves (https://documentation.mailgun.com/docs/mailgun/api-reference/openapi-final/events):

- ``GET /v3/{domain}/events?begin&end&ascending&limit`` with HTTP Basic ``api:<key>``:
  ``{"items": [...], "paging": {"first", "last", "next", "previous"}}``; ``begin``/``end`` in
  epoch seconds (both inclusive), ``limit`` ≤ 300 (else 400), items ordered by
  ``(timestamp, id)`` ascending (``ascending=yes``) or descending;
- ``GET /v3/{domain}/events/{cursor}``: the opaque paging URLs (a base64 cursor holding the query
  and the last item seen); Mailgun always answers a ``next`` URL, and the last page is empty;
- a wrong or missing key → ``401`` with the body ``Forbidden`` (as Mailgun answers); an unknown
  domain → ``404`` ``{"message": "Domain not found: …"}``;
- the ``Date`` header from the emulator's clock (:attr:`MailgunEmulator.now`, set by the test);
- **late indexing**: an event is visible only once the clock reaches its ``indexed_at`` (default:
  its timestamp), as Mailgun's storage receives events out of order;
- injected faults: :meth:`MailgunEmulator.fail` answers the next requests with a status (e.g.
  ``429`` with ``Retry-After``, ``503``).
"""

from __future__ import annotations

import base64
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["MailgunEmulator", "StoredEvent", "make_event"]

MAX_LIMIT = 300


@dataclass
class StoredEvent:
    item: dict[str, Any]
    indexed_at: float

    @property
    def key(self) -> tuple[float, str]:
        return (float(self.item["timestamp"]), str(self.item["id"]))


def make_event(
    n: int, timestamp: float, event: str = "delivered", user_id: str | None = None, **extra: Any
) -> dict[str, Any]:
    """An Events API item shaped like Mailgun's documented examples."""
    item: dict[str, Any] = {
        "event": event,
        "id": f"ev{n:06d}Q3sggHfFRA",
        "timestamp": timestamp,
        "recipient": f"person{n % 50}@example.com",
        "recipient-domain": "example.com",
        "tags": ["newsletter"],
        "user-variables": {"user_id": user_id} if user_id else {},
        "message": {"headers": {"message-id": f"20241104.{n}.48906CB188F1A454@mg.example.com"}},
        "log-level": "info",
    }
    if event == "failed":
        item.setdefault("severity", "permanent")
        item.setdefault("reason", "bounce")
    item.update(extra)
    return item


@dataclass
class _Fault:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class MailgunEmulator:
    domain: str
    api_key: str
    now: float = 1_730_707_200.0
    events: list[StoredEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._faults: deque[_Fault] = deque()
        self.requests: list[str] = []  # "GET /v3/...?..." per request received
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread: threading.Thread | None = None

    # -- control ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def env(self) -> dict[str, str]:
        return {
            "MSGEVENTS_MAILGUN_BASE_URL": self.base_url,
            "MSGEVENTS_MAILGUN_DOMAIN": self.domain,
            "MSGEVENTS_MAILGUN_API_KEY": self.api_key,
        }

    def start(self) -> MailgunEmulator:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> MailgunEmulator:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def add(self, item: dict[str, Any], indexed_at: float | None = None) -> None:
        """Store an event; it becomes visible when the clock reaches ``indexed_at``."""
        with self._lock:
            self.events.append(
                StoredEvent(item, float(item["timestamp"]) if indexed_at is None else indexed_at)
            )

    def fail(self, status: int, *, times: int = 1, retry_after: str | None = None, body: str = "") -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        for _ in range(times):
            self._faults.append(_Fault(status, headers, body.encode()))

    # -- answering -------------------------------------------------------------------------------

    def _page(self, query: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        ascending = query["ascending"]
        with self._lock:
            visible = [e for e in self.events if e.indexed_at <= self.now]
        begin, end = query.get("begin"), query.get("end")
        chosen = [
            e for e in visible if (begin is None or e.key[0] >= begin) and (end is None or e.key[0] <= end)
        ]
        chosen.sort(key=lambda e: e.key, reverse=not ascending)
        after = tuple(query["after"]) if query.get("after") else None
        if after is not None:
            chosen = [e for e in chosen if (e.key > after if ascending else e.key < after)]
        page = chosen[: query["limit"]]
        following = dict(query, after=list(page[-1].key) if page else query.get("after"))
        return [e.item for e in page], following


def _cursor(query: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(query, sort_keys=True).encode()).decode().rstrip("=")


def _uncursor(token: str) -> dict[str, Any]:
    return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))


def _handler_for(emulator: MailgunEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_args: Any) -> None:
            pass

        def date_time_string(self, timestamp: float | None = None) -> str:
            return formatdate(emulator.now if timestamp is None else timestamp, usegmt=True)

        def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            content_type = "application/json" if body.startswith(b"{") else "text/plain"
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, obj: Any) -> None:
            self._send(status, json.dumps(obj).encode())

        def do_GET(self) -> None:
            emulator.requests.append(f"GET {self.path}")
            if emulator._faults:
                fault = emulator._faults.popleft()
                self._send(fault.status, fault.body, fault.headers)
                return
            expected = "Basic " + base64.b64encode(f"api:{emulator.api_key}".encode()).decode()
            if self.headers.get("Authorization") != expected:
                self._send(401, b"Forbidden")
                return
            parts = urlsplit(self.path)
            segments = parts.path.strip("/").split("/")
            if len(segments) < 3 or segments[0] != "v3" or segments[2] != "events" or len(segments) > 4:
                self._json(404, {"message": "Not Found"})
                return
            if segments[1] != emulator.domain:
                self._json(404, {"message": f"Domain not found: {segments[1]}"})
                return
            if len(segments) == 4:
                try:
                    query = _uncursor(segments[3])
                except ValueError:
                    self._json(400, {"message": "Invalid page token"})
                    return
            else:
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                try:
                    query = {
                        "begin": float(params["begin"]) if "begin" in params else None,
                        "end": float(params["end"]) if "end" in params else None,
                        "ascending": params.get("ascending", "no") == "yes",
                        "limit": int(params.get("limit", "100")),
                        "after": None,
                    }
                except ValueError as exc:
                    self._json(400, {"message": f"Invalid parameter: {exc}"})
                    return
                if not 1 <= query["limit"] <= MAX_LIMIT:
                    self._json(400, {"message": f"Invalid parameter: limit must be 1..{MAX_LIMIT}"})
                    return
            items, following = emulator._page(query)
            root = f"{emulator.base_url}/v3/{emulator.domain}/events"
            backwards = not query["ascending"]
            self._json(
                200,
                {
                    "items": items,
                    "paging": {
                        "first": f"{root}/{_cursor(dict(query, after=None))}",
                        "last": f"{root}/{_cursor(dict(query, after=None, ascending=backwards))}",
                        "next": f"{root}/{_cursor(following)}",
                        "previous": f"{root}/{_cursor(dict(query, ascending=backwards))}",
                    },
                },
            )

    return Handler
