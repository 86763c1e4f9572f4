"""A local Optimizely Campaign (Episerver) API for tests: SOAP closed loop, REST, faults.

It serves, on ``127.0.0.1`` and a random port, strictly enough to catch client
mistakes: SOAP ``SessionWebservice`` (``login``/``logout``, sessions that
expire), ``ClosedLoopWebservice`` (``getCurrentTime``, ``getRecipients``,
``getOpens``, ``getClicks``, ``getResponses`` with ``since``/``until`` on the
rows' export-file time and real ``startRow`` paging, at most 1000 rows; the
row layout is the plugin README's, which Optimizely does not publish), and the
REST API as Optimizely's OpenAPI (https://api.campaign.episerver.net/rest/openapi.json)
describes it — unsubscribes per media type, the Smart Campaign, transactional
mail and confirmation lists with their message nodes, tracking links on each
kind's path with its own id (see ``emulator_rest.py``) — plus
``/users/authenticated``, HTTP Basic auth, and injected faults.
Standard library only, so it also runs as a plain script.

In-process (pytest, black-box CLI tests). ``tests/plugins/episerver`` is the
package ``episerver`` (pytest puts ``tests/plugins`` on ``sys.path`` when it
collects it; a test elsewhere adds it itself)::

    sys.path.insert(0, str(ROOT / "tests" / "plugins"))
    from episerver.emulator import Dataset, EpiserverEmulator, Fault

    dataset = Dataset.generate(seed=1, mailings=2, recipients=40, malformed=2)
    faults = [Fault.http("getOpens", 503, times=2), Fault.http("unsubscribes", 429, retry_after=1)]
    with EpiserverEmulator(dataset, faults) as emu:
        env = {**os.environ, **emu.env()}  # MSGEVENTS_EPISERVER_BASE_URL, _CLIENT_ID, _USERNAME…
        subprocess.run(["msgevents", "collect", "--provider", "episerver", ...], env=env)
        emu.calls()     # ["login", "getCurrentTime", "getRecipients", …, "GET /unsubscribes", "logout"]
        emu.requests    # ReceivedRequest: method, path, query, soap_method, params, user, status, fault
        emu.sessions    # session ids still valid (empty after a clean logout)
        emu.add_fault(Fault.drop("getClicks"))
        emu.expire_sessions()

Constructor options: ``client_id`` / ``username`` / ``password`` (defaults
``123456`` / ``api-user@example.com`` / ``test-password``), ``session_ttl``
seconds (20 minutes) on ``clock`` (injectable), ``now_ms`` (what
``getCurrentTime`` answers; default ``dataset.now_ms``, 2024-11-05T00:00Z for
generated datasets), ``return_style`` (``method`` = ``<getOpensReturn>``,
``return``, or Axis ``multiref``), ``detailed_lists`` (``False``: a server that
ignores ``resultView=DETAILED``, so list elements carry no message nodes) and ``port``.

``Dataset`` holds the rows each method serves (``ExportRow(file_time, cells)``,
``None`` cell = ``xsi:nil``), the REST unsubscribe elements and the tracking
links per mailing; ``Dataset.generate`` builds a deterministic, realistic one
(``numeric_share`` customer numbers instead of e-mails, ``foreign_emails``
outside example.com, ``malformed`` broken opens rows, half of the clicks
without ``link_url``, the last mailing a transactional mail, the others each in a
Smart Campaign, optionally an opt-in confirmation mail — each with an id that is
not the mailing id);
``dataset.expected(stream, since_ms, until_ms)`` lists what a window returns
and ``dataset.unsubscribes_between(since_ms, until_ms)`` the REST entries.

Faults (``Fault.<kind>(target, …, times=1, after=0)``): ``http`` (any status,
optional ``retry_after``), ``drop`` (close the connection without answering),
``session_expired`` (the caller's session ends just before the call),
``unauthorized`` (SOAP login fault / permission fault / REST 401),
``soap_fault`` (HTTP 500 with a SOAP fault: the given faultstring, ``code`` as
faultcode, default ``soapenv:Server``; ``rate=0.1`` hits a seeded tenth of the
matching calls) and ``garbage`` (a
200 that is neither XML nor JSON). The target is a SOAP method (``login``,
``getOpens``…), a REST route (``unsubscribes``, ``smartcampaigns``,
``transactionalmail``, ``confirmations`` (the lists), ``messages`` (a Smart Campaign's),
``mailing`` (one transactional or confirmation mail), ``tracking_links``, ``users``),
or ``soap`` / ``rest`` / ``*``; ``after`` matching requests pass first, then
``times`` of them are hit (0 = all that follow). Wrong credentials are refused
without any fault (SOAP login fault, REST 401).

Out of process::

    python tests/plugins/episerver/emulator.py --port 0 --seed 1 --recipients 40 \\
        --fault getOpens:status:503:2 --fault unsubscribes:status:429:1:retry_after=2

prints ``EMULATOR_BASE_URL=http://127.0.0.1:PORT`` and serves until killed
(``--fault target:kind[:status[:times]][:after=N][:retry_after=S][:message=…][:code=C][:rate=R][:seed=N]``
with kind ``status``, ``drop``, ``session_expired``, ``unauthorized``,
``fault`` or ``garbage``; ``code=Server.generalException`` means faultcode
``soapenv:Server.generalException``). Control endpoints (not logged as requests):
``GET /_emulator/requests`` (JSON list, with ``name``), ``POST
/_emulator/faults`` (JSON object of ``Fault`` fields: ``target``, ``kind``,
``status``, ``times``, ``after``, ``retry_after``, ``message``, ``code``, ``rate``,
``seed``), ``DELETE
/_emulator/faults``, ``POST /_emulator/expire-sessions``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import json
import random
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

try:
    from .emulator_rest import answer as rest_answer
    from .emulator_rest import route_of
except ImportError:  # run as a script: its folder is on sys.path
    from emulator_rest import answer as rest_answer  # type: ignore[no-redef]
    from emulator_rest import route_of  # type: ignore[no-redef]

__all__ = ["DAY_MS", "Dataset", "EpiserverEmulator", "ExportRow", "Fault", "ReceivedRequest"]

#: 2024-11-04T00:00:00Z: the generated datasets' day (like the example files).
DAY_MS = 1_730_678_400_000
HOUR_MS = 3_600_000
MAX_ROWS = 1000
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
EXPORT_METHODS = {
    "getRecipients": "recipients",
    "getOpens": "opens",
    "getClicks": "clicks",
    "getResponses": "responses",
}
_SERVICES = {
    "RpcSession": {"login": ("long", "string", "string"), "logout": ("string",)},
    "RpcClosedLoop": {
        "getCurrentTime": ("string",),
        **dict.fromkeys(EXPORT_METHODS, ("string", "long", "long", "int", "int")),
    },
}
_FIRST = ["anna", "ben", "clara", "david", "eva", "felix", "greta", "jonas", "lena", "paul"]
_LAST = ["schmidt", "meyer", "weber", "fischer", "wagner", "becker", "hoffmann", "koch"]


# -- data -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportRow:
    """One closed-loop row: the time of the export file it is in, and its cells."""

    file_time: int
    cells: tuple[str | None, ...]


@dataclass
class Dataset:
    """What the emulator serves. Rows per SOAP stream, REST elements, tracking links.

    ``links`` maps a mailing id to its tracking links (``{"id", "url", …}``);
    ``campaigns`` maps a mailing id to the id of the Smart Campaign holding it,
    ``transactional`` to its transactional mail's id and ``confirmations`` to its
    opt-in confirmation mail's id (each with its own id, as in Optimizely's
    OpenAPI: the mailing id is only in the message node). A mailing in none of
    them has no tracking links anywhere (404).
    """

    recipients: list[ExportRow] = field(default_factory=list)
    opens: list[ExportRow] = field(default_factory=list)
    clicks: list[ExportRow] = field(default_factory=list)
    responses: list[ExportRow] = field(default_factory=list)
    unsubscribes: list[dict] = field(default_factory=list)
    links: dict[str, list[dict]] = field(default_factory=dict)
    campaigns: dict[str, str] = field(default_factory=dict)
    transactional: dict[str, str] = field(default_factory=dict)
    confirmations: dict[str, str] = field(default_factory=dict)
    now_ms: int = DAY_MS + 24 * HOUR_MS

    def rows(self, stream: str) -> list[ExportRow]:
        """The rows of ``stream`` in serving order (by file time, then as given)."""
        rows: list[ExportRow] = getattr(self, stream)
        return sorted(rows, key=lambda row: row.file_time)

    def expected(self, stream: str, since_ms: int, until_ms: int) -> list[tuple[str | None, ...]]:
        """The cells a window ``[since, until)`` of ``stream`` returns, in order."""
        return [r.cells for r in self.rows(stream) if since_ms <= r.file_time < until_ms]

    def unsubscribes_between(self, since_ms: int, until_ms: int) -> list[dict]:
        """REST unsubscribes created in ``[since, until)``."""
        return [u for u in self.unsubscribes if since_ms <= _iso_to_ms(u["created"]) < until_ms]

    @classmethod
    def generate(
        cls,
        *,
        seed: int = 1,
        mailings: int = 2,
        recipients: int = 30,
        numeric_share: float = 0.25,
        foreign_emails: int = 0,
        malformed: int = 0,
        confirmation: bool = False,
        start_ms: int = DAY_MS,
    ) -> Dataset:
        """A deterministic campaign day: sends, opens, clicks, bounces, unsubscribes.

        ``numeric_share`` of the recipients have a numeric customer id instead
        of an e-mail; ``foreign_emails`` get addresses outside example.com (to
        prove cassette scrubbing); ``malformed`` opens rows are broken (bad
        timestamp, a missing cell, a nil recipient…). Half of the click rows
        carry no ``link_url``, so a client must resolve their ``link_id``.
        The last of several ``mailings`` is a transactional mail (id 700100 + n),
        the others are each in a Smart Campaign (500100 + n); ``confirmation`` adds
        one more mailing, an opt-in confirmation mail (800100 + n).
        """
        rng = random.Random(seed)
        people = []
        for n in range(recipients):
            if n < foreign_emails:
                people.append(f"{_FIRST[n % 10]}.{_LAST[n % 8]}{n}@corp-mail.de")
            elif rng.random() < numeric_share:
                people.append(str(100200 + n))
            else:
                people.append(f"{_FIRST[n % 10]}.{_LAST[(n * 3) % 8]}{n}@example.com")
        data = cls(now_ms=start_ms + 24 * HOUR_MS)
        list_id = "987654"
        for m in range(mailings + int(confirmation)):
            mailing = str(304405 + m)
            links = [
                {"id": 11 + m * 10 + k, "url": f"https://shop.example.com/{mailing}/offer-{k}",
                 "description": f"link {k}", "htmlTracking": "ENABLED", "textTracking": "ENABLED",
                 "htmlOccurrences": 1, "textOccurrences": 1}
                for k in range(3)
            ]  # fmt: skip
            data.links[mailing] = links
            if m == mailings:
                data.confirmations[mailing] = str(800100 + m)
            elif m == mailings - 1 and mailings > 1:
                data.transactional[mailing] = str(700100 + m)
            else:
                data.campaigns[mailing] = str(500100 + m)
            sent_base = start_ms + m * 4 * HOUR_MS
            for n, person in enumerate(people):
                sent = sent_base + n * 7_000
                data.recipients.append(_row(sent, mailing, list_id, person, sent))
                if rng.random() < 0.08:
                    category = rng.choice(["hardbounce", "softbounce", "autoresponder"])
                    at = sent + rng.randint(30_000, 600_000)
                    data.responses.append(_row(at, mailing, list_id, person, at, category))
                    continue
                if rng.random() >= 0.6:
                    continue
                opened = sent + rng.randint(60_000, 3 * HOUR_MS)
                data.opens.append(_row(opened, mailing, list_id, person, opened))
                if rng.random() < 0.5:
                    clicked = opened + rng.randint(10_000, 600_000)
                    link = rng.choice(links)
                    url = link["url"] if rng.random() < 0.5 else None
                    data.clicks.append(_row(clicked, mailing, list_id, person, clicked, str(link["id"]), url))
                if rng.random() < 0.12:
                    created = opened + rng.randint(60_000, HOUR_MS)
                    data.unsubscribes.append(_unsubscribe(person, mailing, list_id, created))
        if people:  # one global unsubscribe, without a mailing
            data.unsubscribes.append(_unsubscribe(people[-1], None, list_id, start_ms + 20 * HOUR_MS))
        data.unsubscribes.sort(key=lambda u: u["created"])
        bad = [
            ("304405", list_id, "ben.weber1@example.com", "not-a-time"),
            ("304405", list_id, "clara.becker2@example.com"),
            ("304405", list_id, None, str(start_ms + 5 * HOUR_MS)),
            ("jane@example.com", list_id, "304405", str(start_ms + 5 * HOUR_MS)),
        ]
        for n in range(malformed):
            data.opens.append(ExportRow(_file_time(start_ms + 5 * HOUR_MS), bad[n % len(bad)]))
        return data


def _file_time(event_ms: int) -> int:
    """The export file an event lands in: written at the next full hour."""
    return (event_ms // HOUR_MS + 1) * HOUR_MS


def _row(event_ms: int, *cells: str | int | None) -> ExportRow:
    return ExportRow(_file_time(event_ms), tuple(None if c is None else str(c) for c in cells))


def _ms_to_iso(ms: int) -> str:
    moment = datetime.fromtimestamp(ms / 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _iso_to_ms(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(moment.timestamp() * 1000)


def _unsubscribe(person: str, mailing: str | None, list_id: str, created_ms: int) -> dict:
    element = {
        "recipientListId": int(list_id),
        "recipientId": person,
        "reason": "unsubscribe link" if mailing else "preference center",
        "created": _ms_to_iso(created_ms),
        "mediaType": "EMAIL" if mailing else "GLOBAL",  # a global one: no channel, no mailing
    }
    if mailing is not None:
        element["mailingId"] = int(mailing)
    return element


# -- faults and the request log --------------------------------------------------------------


@dataclass
class Fault:
    """An injected failure: what it hits, how, how often. Build with the class methods."""

    target: str
    kind: str = "status"
    status: int = 503
    times: int = 1
    after: int = 0
    retry_after: str | None = None
    message: str = ""
    code: str = "soapenv:Server"
    rate: float = 1.0
    seed: int = 0
    seen: int = 0
    hits: int = 0
    _rng: random.Random | None = field(default=None, repr=False, compare=False)

    @classmethod
    def http(cls, target: str, status: int, *, retry_after: float | str | None = None,
               times: int = 1, after: int = 0) -> Fault:  # fmt: skip
        """Answer HTTP ``status`` (with ``Retry-After`` when given)."""
        header = None if retry_after is None else str(retry_after)
        return cls(target, "status", status, times, after, header)

    @classmethod
    def drop(cls, target: str, *, times: int = 1, after: int = 0) -> Fault:
        """Read the request, then close the connection without answering."""
        return cls(target, "drop", 0, times, after)

    @classmethod
    def session_expired(cls, target: str, *, times: int = 1, after: int = 0) -> Fault:
        """Expire the caller's SOAP session just before this call."""
        return cls(target, "session_expired", 500, times, after)

    @classmethod
    def unauthorized(cls, target: str, *, times: int = 0, after: int = 0) -> Fault:
        """Refuse the credentials: a SOAP login fault, or REST 401."""
        return cls(target, "unauthorized", 401, times, after)

    @classmethod
    def soap_fault(cls, target: str, message: str, *, code: str = "soapenv:Server", times: int = 1,
                   after: int = 0, rate: float = 1.0, seed: int = 0) -> Fault:  # fmt: skip
        """Answer HTTP 500 with a SOAP fault: ``code`` as faultcode, ``message`` as faultstring.

        ``rate`` < 1 hits only that share of the matching requests (drawn from a
        generator seeded with ``seed``, so a run is repeatable); ``times=0`` with a
        rate keeps hitting for as long as the emulator runs.
        """
        return cls(target, "fault", 500, times, after, None, message, code, rate, seed)

    @classmethod
    def garbage(cls, target: str, *, times: int = 1, after: int = 0) -> Fault:
        """Answer 200 with a body that is neither XML nor JSON."""
        return cls(target, "garbage", 200, times, after)

    def matches(self, names: Iterable[str]) -> bool:
        return self.target == "*" or self.target in names

    def fire(self) -> bool:
        """Count a matching request; True when the fault applies to it."""
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.times and self.hits >= self.times:
            return False
        if self.rate < 1.0:
            if self._rng is None:
                self._rng = random.Random(self.seed)
            if self._rng.random() >= self.rate:
                return False
        self.hits += 1
        return True


@dataclass
class ReceivedRequest:
    """One request the emulator received (passwords are never kept)."""

    method: str
    path: str
    query: dict[str, list[str]]
    soap_method: str | None = None
    params: list[str] = field(default_factory=list)
    user: str | None = None
    status: int | None = None
    fault: str | None = None

    @property
    def name(self) -> str:
        """``getOpens`` for SOAP, ``GET /unsubscribes`` for REST (path after the client id)."""
        if self.soap_method:
            return self.soap_method
        parts = self.path.split("/", 3)
        return f"{self.method} /{parts[3]}" if len(parts) > 3 and parts[1] == "rest" else self.path


# -- the server ------------------------------------------------------------------------------


class EpiserverEmulator:
    """The emulator server; use it as a context manager (see the module docstring)."""

    def __init__(
        self,
        dataset: Dataset | None = None,
        faults: Iterable[Fault] = (),
        *,
        client_id: str = "123456",
        username: str = "api-user@example.com",
        password: str = "test-password",
        session_ttl: float = 20 * 60,
        now_ms: int | None = None,
        return_style: str = "method",
        detailed_lists: bool = True,
        clock: Callable[[], float] = time.monotonic,
        port: int = 0,
    ) -> None:
        if return_style not in ("method", "return", "multiref"):
            raise ValueError("return_style is 'method', 'return' or 'multiref'")
        self.dataset = dataset if dataset is not None else Dataset.generate()
        self.client_id = client_id
        self.username = username
        self._password = password
        self.session_ttl = session_ttl
        self.now_ms = now_ms
        self.return_style = return_style
        self.detailed_lists = detailed_lists
        self.clock = clock
        self._faults = list(faults)
        self._requests: list[ReceivedRequest] = []
        self._sessions: dict[str, float] = {}
        self._session_numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """What MSGEVENTS_EPISERVER_BASE_URL must be set to."""
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The MSGEVENTS_EPISERVER_* variables pointing msgevents at this emulator."""
        return {
            "MSGEVENTS_EPISERVER_BASE_URL": self.base_url,
            "MSGEVENTS_EPISERVER_CLIENT_ID": self.client_id,
            "MSGEVENTS_EPISERVER_USERNAME": self.username,
            "MSGEVENTS_EPISERVER_PASSWORD": self._password,
        }

    def start(self) -> EpiserverEmulator:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> EpiserverEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inspection and control ------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A copy of every request received so far, in order."""
        with self._lock:
            return list(self._requests)

    def calls(self) -> list[str]:
        """Short names of the requests so far: ``login``, ``getOpens``, ``GET /unsubscribes``…"""
        return [r.name for r in self.requests]

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def expire_sessions(self) -> None:
        """Every open session expires now (the next call with it gets a session fault)."""
        with self._lock:
            self._sessions.clear()

    @property
    def sessions(self) -> list[str]:
        """The session ids currently valid."""
        with self._lock:
            now = self.clock()
            return [s for s, at in self._sessions.items() if now - at < self.session_ttl]

    def current_time_ms(self) -> int:
        if self.now_ms is not None:
            return self.now_ms
        return self.dataset.now_ms if self.dataset.now_ms else int(time.time() * 1000)

    # -- used by the handler ---------------------------------------------------------------

    def _log(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    def _fault_for(self, names: Iterable[str]) -> Fault | None:
        names = set(names)
        with self._lock:
            for fault in self._faults:
                if fault.matches(names) and fault.fire():
                    return fault
        return None

    def _open_session(self) -> str:
        with self._lock:
            session_id = f"emu-session-{next(self._session_numbers):04d}"
            self._sessions[session_id] = self.clock()
            return session_id

    def _session_valid(self, session_id: str) -> bool:
        with self._lock:
            opened = self._sessions.get(session_id)
            return opened is not None and self.clock() - opened < self.session_ttl

    def _end_session(self, session_id: str) -> bool:
        with self._lock:
            return self._sessions.pop(session_id, None) is not None

    def _credentials_ok(self, client_id: str, user: str, password: str) -> bool:
        return (client_id, user, password) == (self.client_id, self.username, self._password)


# -- request handling ------------------------------------------------------------------------


def _handler_for(emulator: EpiserverEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        emu = emulator

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "EpiserverEmulator/1"
    emu: EpiserverEmulator

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    # -- plumbing --------------------------------------------------------------------------

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, obj: object) -> None:
        self._send(status, json.dumps(obj).encode(), "application/json")

    def _text(self, status: int, text: str, headers: dict | None = None) -> None:
        self._send(status, text.encode(), "text/plain; charset=utf-8", headers)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _apply(self, fault: Fault, record: ReceivedRequest, soap: bool) -> bool:
        """Answer for a generic fault; False when the caller must handle its kind."""
        record.fault = fault.kind
        if fault.kind == "drop":
            self._drop()
            return True
        if fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else None
            record.status = fault.status
            self._text(fault.status, f"emulated HTTP {fault.status}", headers)
            return True
        if fault.kind == "garbage":
            record.status = 200
            ctype = "text/xml; charset=utf-8" if soap else "application/json"
            self._send(200, b"<html><body>upstream proxy error", ctype)
            return True
        if fault.kind == "unauthorized" and not soap:
            record.status = 401
            self._text(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="api"'})
            return True
        return False

    # -- routing ---------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_DELETE(self) -> None:
        self._route("DELETE")

    def _route(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._body()
        if url.path.startswith("/_emulator/"):
            self._control(method, url.path, body)
        elif url.path.startswith("/soap11/") and method == "POST":
            self._soap(url.path, body)
        elif url.path.startswith("/rest/") and method == "GET":
            self._rest(url.path, parse_qs(url.query))
        else:
            self._log_and(ReceivedRequest(method, url.path, {}), 404, "no such endpoint")

    def _log_and(self, record: ReceivedRequest, status: int, text: str) -> None:
        record.status = status
        self.emu._log(record)
        self._text(status, text)

    def _control(self, method: str, path: str, body: bytes) -> None:
        emu = self.emu
        if path == "/_emulator/requests" and method == "GET":
            self._json(200, [{**asdict(r), "name": r.name} for r in emu.requests])
        elif path == "/_emulator/faults" and method == "POST":
            spec = json.loads(body or b"{}")
            allowed = {"target", "kind", "status", "times", "after", "retry_after", "message", "code",
                       "rate", "seed"}  # fmt: skip
            emu.add_fault(Fault(**{k: v for k, v in spec.items() if k in allowed}))
            self._json(201, {"ok": True})
        elif path == "/_emulator/faults" and method == "DELETE":
            emu.clear_faults()
            self._json(200, {"ok": True})
        elif path == "/_emulator/expire-sessions" and method == "POST":
            emu.expire_sessions()
            self._json(200, {"ok": True})
        else:
            self._text(404, "unknown control endpoint")

    # -- SOAP ------------------------------------------------------------------------------

    def _soap(self, path: str, body: bytes) -> None:
        record = ReceivedRequest("POST", path, {})
        try:
            service, method, params = _parse_soap_request(path, body, self.headers)
        except ValueError as exc:
            record.status = 500
            self.emu._log(record)
            self._soap_fault("soapenv:Client", str(exc))
            return
        record.soap_method = method
        record.params = ["********" if (method == "login" and i == 2) else p
                         for i, p in enumerate(params)]  # fmt: skip
        if method == "login":
            record.user = params[1]
        self.emu._log(record)
        fault = self.emu._fault_for([method, "soap"])
        if fault is not None and self._apply(fault, record, soap=True):
            return
        if fault is not None and fault.kind == "fault":
            record.status = 500
            self._soap_fault(fault.code, fault.message or "emulated server fault")
            return
        if fault is not None and fault.kind == "unauthorized":
            record.status = 500
            if method == "login":
                self._soap_fault("soapenv:Server", "Login failed: invalid user name or password")
            else:
                self._soap_fault("soapenv:Server", "Access denied: permission INTERFACE_WEBSERVICE")
            return
        if fault is not None and fault.kind == "session_expired" and params:
            self.emu._end_session(params[0])
        record.status = 500  # until proven otherwise
        if method == "login":
            if not self.emu._credentials_ok(*params):
                self._soap_fault("soapenv:Server", "Login failed: invalid user name or password")
                return
            record.status = 200
            self._soap_return(service, method, _scalar(method, self.emu._open_session(), "string"))
            return
        session_id = params[0]
        if method == "logout":
            self.emu._end_session(session_id)
            record.status = 200
            self._soap_return(service, method, "")
            return
        if not self.emu._session_valid(session_id):
            self._soap_fault("soapenv:Server", f"Session {session_id} is invalid or has expired")
            return
        if method == "getCurrentTime":
            record.status = 200
            now = str(self.emu.current_time_ms())
            self._soap_return(service, method, _scalar(method, now, "long"))
            return
        since, until, start, count = (int(p) for p in params[1:])
        if count > MAX_ROWS or count < 1 or start < 0:
            self._soap_fault("soapenv:Client", f"numberOfRows must be 1..{MAX_ROWS}, startRow >= 0")
            return
        rows = self.emu.dataset.expected(EXPORT_METHODS[method], since, until)[start : start + count]
        record.status = 200
        self._soap_return(service, method, _table(method, rows, self.emu.return_style))

    def _soap_return(self, service: str, method: str, inner: str | tuple[str, str]) -> None:
        body, refs = inner if isinstance(inner, tuple) else (inner, "")
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:xsd="{XSD}" xmlns:xsi="{XSI}">'
            f'<soapenv:Body><ns1:{method}Response soapenv:encodingStyle="{SOAP_ENC}" '
            f'xmlns:ns1="urn:api.broadmail.de/soap11/{service}">{body}</ns1:{method}Response>'
            f"{refs}</soapenv:Body></soapenv:Envelope>"
        )
        self._send(200, xml.encode(), "text/xml; charset=utf-8")

    def _soap_fault(self, code: str, message: str) -> None:
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body><soapenv:Fault>'
            f"<faultcode>{code}</faultcode><faultstring>{escape(message)}</faultstring>"
            "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
        )
        self._send(500, xml.encode(), "text/xml; charset=utf-8")

    # -- REST ------------------------------------------------------------------------------

    def _rest(self, path: str, query: dict[str, list[str]]) -> None:
        emu = self.emu
        record = ReceivedRequest("GET", path, query)
        parts = path.strip("/").split("/")
        route = route_of(parts[2:])
        record.user = _basic_user(self.headers.get("Authorization"))
        emu._log(record)
        fault = emu._fault_for([route, "rest"])
        if fault is not None and self._apply(fault, record, soap=False):
            return
        if not self._rest_authorized(parts):
            record.status = 401
            self._text(401, "Unauthorized", {"WWW-Authenticate": 'Basic realm="api"'})
            return
        if route == "users":
            status, payload = 200, {"id": 1, "name": emu.username, "clientId": int(emu.client_id)}
        else:
            status, payload = rest_answer(emu.dataset, parts[2:], query, detailed=emu.detailed_lists)
        record.status = status
        self._json(status, payload)

    def _rest_authorized(self, parts: list[str]) -> bool:
        header = self.headers.get("Authorization") or ""
        if len(parts) < 2 or parts[1] != self.emu.client_id or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        return self.emu._credentials_ok(parts[1], user, password)


def _parse_soap_request(path: str, body: bytes, headers: object) -> tuple[str, str, list[str]]:
    service = path.rsplit("/", 1)[-1]
    if service not in _SERVICES:
        raise ValueError(f"no service at {path}")
    ctype = headers.get("Content-Type") or ""  # type: ignore[attr-defined]
    if not ctype.startswith("text/xml"):
        raise ValueError(f"Content-Type must be text/xml, got {ctype!r}")
    if headers.get("SOAPAction") is None:  # type: ignore[attr-defined]
        raise ValueError("missing SOAPAction header")
    try:
        envelope = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ValueError(f"request is not XML: {exc}") from None
    body_el = envelope.find(f"{{{SOAP_ENV}}}Body")
    if envelope.tag != f"{{{SOAP_ENV}}}Envelope" or body_el is None or len(body_el) != 1:
        raise ValueError("not a SOAP 1.1 envelope with one body element")
    call = body_el[0]
    namespace, _, method = call.tag[1:].partition("}")
    if namespace != f"urn:api.broadmail.de/soap11/{service}":
        raise ValueError(f"wrong namespace {namespace!r} for {service}")
    signature = _SERVICES[service].get(method)
    if signature is None:
        raise ValueError(f"no operation {method} in {service}")
    params = list(call)
    if len(params) != len(signature):
        raise ValueError(f"{method} takes {len(signature)} parameters, got {len(params)}")
    values = []
    for index, (param, xsd_type) in enumerate(zip(params, signature, strict=True)):
        if param.tag != f"in{index}":
            raise ValueError(f"parameter {index} of {method} must be <in{index}>, got <{param.tag}>")
        if param.get(f"{{{XSI}}}type") != f"xsd:{xsd_type}":
            raise ValueError(f"in{index} of {method} must be xsi:type xsd:{xsd_type}")
        text = param.text or ""
        if xsd_type != "string" and not text.lstrip("-").isdigit():
            raise ValueError(f"in{index} of {method} must be an integer, got {text!r}")
        values.append(text)
    return service, method, values


def _scalar(method: str, value: str, xsd_type: str) -> str:
    return f'<{method}Return xsi:type="xsd:{xsd_type}">{escape(value)}</{method}Return>'


def _cell(tag: str, value: str | None) -> str:
    if value is None:
        return f'<{tag} xsi:nil="true"/>'
    return f'<{tag} xsi:type="xsd:string">{escape(value)}</{tag}>'


def _table(method: str, rows: list[tuple[str | None, ...]], style: str) -> str | tuple[str, str]:
    enc = f'xmlns:soapenc="{SOAP_ENC}"'
    outer = "return" if style == "return" else f"{method}Return"
    head = f'<{outer} xsi:type="soapenc:Array" soapenc:arrayType="xsd:string[][{len(rows)}]" {enc}>'
    if style == "multiref":
        refs = []
        items = []
        for n, cells in enumerate(rows):
            items.append(f'<item href="#id{n}"/>')
            inner = "".join(_cell("item", c) for c in cells)
            refs.append(
                f'<multiRef id="id{n}" soapenc:root="0" xsi:type="soapenc:Array" {enc} '
                f'soapenc:arrayType="xsd:string[{len(cells)}]">{inner}</multiRef>'
            )
        return head + "".join(items) + f"</{outer}>", "".join(refs)
    body = []
    for cells in rows:
        inner = "".join(_cell("item", c) for c in cells)
        body.append(
            f'<item xsi:type="soapenc:Array" soapenc:arrayType="xsd:string[{len(cells)}]">{inner}</item>'
        )
    return head + "".join(body) + f"</{outer}>"


def _basic_user(header: str | None) -> str | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        return base64.b64decode(header[6:]).decode().partition(":")[0]
    except (ValueError, UnicodeDecodeError):
        return None


# -- command line ----------------------------------------------------------------------------


def _parse_fault(text: str) -> Fault:
    """``target:kind[:status[:times]]`` with optional ``key=value`` parts (retry_after, after)."""
    parts = text.split(":")
    options = dict(p.split("=", 1) for p in parts if "=" in p)
    plain = [p for p in parts if "=" not in p]
    fault = Fault(plain[0], plain[1] if len(plain) > 1 else "status")
    if len(plain) > 2:
        fault.status = int(plain[2])
    if len(plain) > 3:
        fault.times = int(plain[3])
    fault.after = int(options.get("after", 0))
    fault.retry_after = options.get("retry_after")
    fault.message = options.get("message", "")
    if "code" in options:  # "Server.generalException": the soapenv: prefix is added (":" splits)
        fault.code = f"soapenv:{options['code']}"
    fault.rate = float(options.get("rate", 1.0))
    fault.seed = int(options.get("seed", 0))
    return fault


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Optimizely Campaign emulator.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mailings", type=int, default=2)
    parser.add_argument("--recipients", type=int, default=30)
    parser.add_argument("--malformed", type=int, default=0)
    parser.add_argument("--now-ms", type=int, default=None)
    parser.add_argument("--session-ttl", type=float, default=1200.0)
    parser.add_argument("--client-id", default="123456")
    parser.add_argument("--username", default="api-user@example.com")
    parser.add_argument("--password", default="test-password")
    parser.add_argument("--fault", action="append", default=[], help="target:kind[:status[:times]]")
    args = parser.parse_args(argv)
    dataset = Dataset.generate(
        seed=args.seed, mailings=args.mailings, recipients=args.recipients, malformed=args.malformed
    )
    emulator = EpiserverEmulator(
        dataset,
        [_parse_fault(f) for f in args.fault],
        client_id=args.client_id,
        username=args.username,
        password=args.password,
        session_ttl=args.session_ttl,
        now_ms=args.now_ms,
        port=args.port,
    )
    with emulator:
        print(f"EMULATOR_BASE_URL={emulator.base_url}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
