"""A local CrossEngage events API: strict validation, fault injection, recorded deliveries.

In a test::

    from msgevents.testing.crossengage_emulator import CrossEngageEmulator

    with CrossEngageEmulator(api_key="test-key", faults=["503", "drop-after"]) as ce:
        ...  # point MSGEVENTS_CROSSENGAGE_BASE_URL at ce.base_url and deliver
        assert ce.violations == []
        assert ce.compare(expected_events).exact

As a process, for black-box CLI tests (the base URL is the first stdout line;
accepted events are appended to the state file as JSON Lines, flushed per
request, so they survive killing either process; on SIGTERM/SIGINT the last
stdout line is :meth:`~CrossEngageEmulator.summary` as JSON)::

    python -m msgevents.testing.crossengage_emulator --port 0 --api-key K \\
        --state-file accepted.jsonl [--activated "Message Sent" ...] \\
        [--fault 503 --fault 429:2 ...] [--fault-rate drop-after=0.1] [--latency 0.02]

Every request is checked against the contract in ``docs/crossengage.md``:
``POST /events`` with ``X-XNG-AuthToken`` (401 when wrong), ``X-XNG-ApiVersion: 1``
and ``Content-Type: application/json``; a JSON body with exactly one of ``id`` /
``email`` (non-empty string) and ``events`` (1..50); each event exactly
``event`` (one of the eight names), ``timestamp`` (UTC ISO 8601 with ``Z``,
milliseconds optional) and optional ``properties`` (``channel``, ``type``,
``url``, ``campaign_id``, ``message_id``, non-empty strings). A breach answers
``400 {"field": …, "type": …}`` (404/405/411 for a wrong path, method or
missing length) and is recorded in :attr:`CrossEngageEmulator.violations`. An
event type that is valid but not *activated* answers ``400
{"field":"event","type":"UNKNOWN_VALUE"}`` like a real tenant and is recorded in
:attr:`~CrossEngageEmulator.rejected`, not as a violation. The names are
written out in :mod:`msgevents.testing.crossengage_contract` rather than
imported, so the emulator checks the model instead of agreeing with it.

Faults (:class:`Fault`), given as a script consumed one per request in arrival
order, or as probabilities: ``500``/``503`` (any 5xx), ``429[:SECONDS]`` (with
``Retry-After``), ``drop-before`` (close the connection before reading the
body: nothing accepted), ``drop-after`` (accept the events, then close without
answering: the ambiguous case), ``delay:SECONDS`` (accept, then answer late:
client timeouts), ``ok``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import random
import re
import signal
import socket
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any, TextIO

from msgevents.testing.crossengage_contract import (
    EVENT_TYPES,
    Comparison,
    ContractViolation,
    Identity,
    compare,
    event_key,
    validate_body,
)

__all__ = [
    "EVENT_TYPES",
    "Comparison",
    "CrossEngageEmulator",
    "Fault",
    "compare",
    "event_key",
    "read_accepted",
]

log = logging.getLogger(__name__)

# -- faults --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """What the emulator does to one request.

    ``kind`` is ``ok``, a 5xx status (``"503"``), ``429``, ``drop-before``,
    ``drop-after`` or ``delay``; ``seconds`` is the ``Retry-After`` of a 429
    (default 1) or the delay of ``delay``.
    """

    kind: str
    seconds: float = 0.0

    @classmethod
    def parse(cls, spec: str | Fault) -> Fault:
        """``"503"``, ``"429:7"``, ``"drop-after"``, ``"delay:1.5"`` → :class:`Fault`."""
        if isinstance(spec, Fault):
            return spec
        kind, _, arg = spec.strip().partition(":")
        if kind in ("ok", "drop-before", "drop-after") and not arg:
            return cls(kind)
        if kind == "429":
            return cls(kind, _seconds(spec, arg or "1"))
        if kind == "delay" and arg:
            return cls(kind, _seconds(spec, arg))
        if re.fullmatch(r"5\d\d", kind) and not arg:
            return cls(kind)
        raise ValueError(
            f"unknown fault {spec!r}: use ok, 500, 503 (any 5xx), 429[:SECONDS], "
            "drop-before, drop-after or delay:SECONDS"
        )

    @property
    def status(self) -> int | None:
        """The HTTP status answered instead of processing, if any."""
        return int(self.kind) if self.kind.isdigit() else None


def _seconds(spec: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ValueError(f"fault {spec!r}: {text!r} is not a number of seconds")
    return value


def read_accepted(path: str | Path) -> list[tuple[Identity, dict[str, Any]]]:
    """The accepted events a (possibly killed) emulator process appended to ``path``."""
    accepted = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            if not line.endswith("\n"):
                break  # a line cut short by a kill
            record = json.loads(line)
            key = "id" if "id" in record else "email"
            accepted.append(((key, record.pop(key)), record))
    return accepted


# -- the server ------------------------------------------------------------------------


class _Server(ThreadingMixIn, HTTPServer):
    daemon_threads = False  # joined by server_close(), after stop() closed their sockets
    allow_reuse_address = True

    def __init__(self, emulator: CrossEngageEmulator, address: tuple[str, int]):
        self.emulator = emulator
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # peers hanging up are normal
            log.exception("crossengage emulator: error while handling a request")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can reuse connections
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.emulator._track(self.connection, opened=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.emulator._track(self.connection, opened=False)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except OSError:  # the client went away, or stop() closed the socket
            self.close_connection = True

    def do_POST(self) -> None:
        self.server.emulator._handle(self)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("crossengage emulator: " + format, *args)

    def answer(self, status: int, payload: Any = None, headers: Mapping[str, str] | None = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("X-Request-ID", uuid.uuid4().hex)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class CrossEngageEmulator:
    """A CrossEngage events API on ``127.0.0.1`` (random port), threaded, strict.

    Args:
        api_key: the only ``X-XNG-AuthToken`` accepted.
        activated: event types the tenant accepts (default: all eight).
        faults: a script of :class:`Fault` (or strings), one per request in
            arrival order; after it, requests are served normally.
        fault_rates: ``{fault: probability}`` for requests not covered by the script.
        latency: seconds added to every request that gets an answer.
        seed: seeds the fault probabilities.
        state_file: accepted events are appended here as JSON Lines.

    Read after (or during) a run: :attr:`accepted` ``[(identity, event dict)]``
    in arrival order, :attr:`batches` ``[(identity, n_events)]`` per accepted
    request, :attr:`requests`, :attr:`violations`, :attr:`rejected`,
    :attr:`max_concurrent`, :attr:`connections`.
    """

    def __init__(
        self,
        api_key: str = "test-key",
        *,
        activated: Iterable[str] | None = None,
        faults: Iterable[str | Fault] = (),
        fault_rates: Mapping[str, float] | None = None,
        latency: float = 0.0,
        seed: int | None = None,
        state_file: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.api_key = api_key
        self.activated = frozenset(EVENT_TYPES if activated is None else activated)
        unknown = self.activated - EVENT_TYPES
        if unknown:
            raise ValueError(f"unknown event types to activate: {sorted(unknown)}")
        self._script = [Fault.parse(f) for f in faults]
        self._rates = [(Fault.parse(f), p) for f, p in (fault_rates or {}).items()]
        if sum(p for _, p in self._rates) > 1 or any(p < 0 for _, p in self._rates):
            raise ValueError("fault probabilities must be >= 0 and add up to at most 1")
        self._random = random.Random(seed)
        self.latency = latency
        self.state_file = Path(state_file) if state_file else None
        self._address = (host, port)

        self.accepted: list[tuple[Identity, dict[str, Any]]] = []
        self.batches: list[tuple[Identity, int]] = []
        self.violations: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []
        self.requests = 0
        self.connections = 0
        self.in_flight = 0
        self.max_concurrent = 0

        self._lock = threading.Lock()
        self._open_sockets: set[socket.socket] = set()
        self._running = threading.Event()  # cleared by pause()
        self._running.set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._state: TextIO | None = None

    # -- lifecycle -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> CrossEngageEmulator:
        self._stopping.clear()
        if self.state_file is not None:
            self._state = open(self.state_file, "a", encoding="utf-8")  # noqa: SIM115
        self._server = _Server(self, self._address)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="crossengage-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake paused or delayed requests, close connections, join threads."""
        if self._server is None:
            return
        self._stopping.set()
        self._running.set()
        self._server.shutdown()
        with self._lock:
            sockets = list(self._open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        if self._state is not None:
            self._state.close()
        self._server = self._thread = self._state = None

    def __enter__(self) -> CrossEngageEmulator:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- controls and results -----------------------------------------------------------

    def add_faults(self, *faults: str | Fault) -> None:
        """Append to the fault script."""
        with self._lock:
            self._script.extend(Fault.parse(f) for f in faults)

    def pause(self) -> None:
        """Hold every request (after reading it) until :meth:`resume`."""
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def summary(self) -> dict[str, int]:
        """Counts for a report (the process prints this as its last stdout line)."""
        with self._lock:
            return {
                "requests": self.requests,
                "accepted": len(self.accepted),
                "violations": len(self.violations),
                "rejected": len(self.rejected),
                "max_concurrent": self.max_concurrent,
                "connections": self.connections,
            }

    def received(self) -> Counter[tuple[Any, ...]]:
        """The accepted events as a multiset of :func:`event_key` (duplicates counted)."""
        with self._lock:
            return Counter(event_key(identity, event) for identity, event in self.accepted)

    def compare(self, expected: Iterable[Any]) -> Comparison:
        """:func:`compare` the accepted events with ``expected``."""
        with self._lock:
            accepted = list(self.accepted)
        return compare(expected, accepted)

    # -- request handling ----------------------------------------------------------------

    def _track(self, sock: socket.socket, *, opened: bool) -> None:
        with self._lock:
            if not opened:
                self._open_sockets.discard(sock)
                return
            self._open_sockets.add(sock)
            self.connections += 1
        if self._stopping.is_set():  # accepted while stop() was closing the others
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _next_fault(self) -> Fault:
        if self._script:
            return self._script.pop(0)
        draw = self._random.random()
        for fault, probability in self._rates:
            if draw < probability:
                return fault
            draw -= probability
        return Fault("ok")

    def _handle(self, handler: _Handler) -> None:
        with self._lock:
            self.requests += 1
            number = self.requests
            self.in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self.in_flight)
            fault = self._next_fault()
        try:
            if fault.kind == "drop-before":
                handler.close_connection = True
                return
            length = handler.headers.get("Content-Length", "0" if handler.command != "POST" else None)
            if length is None or not length.isdigit():
                handler.close_connection = True  # where the body ends is unknown
                problem = ContractViolation(
                    "Content-Length", "MISSING", "chunked bodies are not accepted", 411
                )
                handler.answer(*self._violation(number, problem))
                return
            raw = handler.rfile.read(int(length))
            if self.latency:
                self._stopping.wait(self.latency)
            while not self._running.wait(0.05) and not self._stopping.is_set():
                pass
            if fault.status is not None:
                retry_after = {"Retry-After": f"{fault.seconds:g}"} if fault.kind == "429" else {}
                handler.answer(fault.status, {"type": "EMULATED_FAULT"}, retry_after)
                return
            status, payload = self._process(handler, number, raw)
            if fault.kind == "drop-after":
                handler.close_connection = True
                return
            if fault.kind == "delay":
                self._stopping.wait(fault.seconds)
            handler.answer(status, payload)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _process(self, handler: _Handler, number: int, raw: bytes) -> tuple[int, Any]:
        try:
            if handler.command != "POST":
                raise ContractViolation("method", "NOT_ALLOWED", handler.command, 405)
            if handler.path.split("?", 1)[0] != "/events":
                raise ContractViolation("path", "NOT_FOUND", handler.path, 404)
            if handler.headers.get("X-XNG-AuthToken") != self.api_key:
                raise ContractViolation("X-XNG-AuthToken", "UNAUTHORIZED", "wrong or missing key", 401)
            if handler.headers.get("X-XNG-ApiVersion") != "1":
                version = handler.headers.get("X-XNG-ApiVersion")
                raise ContractViolation("X-XNG-ApiVersion", "INVALID_VALUE", repr(version))
            content_type = handler.headers.get("Content-Type", "")
            if content_type.split(";")[0].strip().lower() != "application/json":
                raise ContractViolation("Content-Type", "INVALID_VALUE", repr(content_type))
            identity, events = validate_body(raw)
        except ContractViolation as problem:
            return self._violation(number, problem)
        inactive = [e["event"] for e in events if e["event"] not in self.activated]
        if inactive:
            with self._lock:
                self.rejected.append({"request": number, "identity": identity, "events": inactive})
            return 400, {"field": "event", "type": "UNKNOWN_VALUE"}
        self._accept(identity, events)
        return 202, None

    def _violation(self, number: int, problem: ContractViolation) -> tuple[int, Any]:
        record = {
            "request": number,
            "status": problem.status,
            "field": problem.field,
            "type": problem.kind,
            "detail": problem.detail,
        }
        with self._lock:
            self.violations.append(record)
        log.warning("crossengage emulator: contract violation %s", json.dumps(record))
        return problem.status, {"field": problem.field, "type": problem.kind}

    def _accept(self, identity: Identity, events: list[dict[str, Any]]) -> None:
        lines = "".join(json.dumps({identity[0]: identity[1], **e}) + "\n" for e in events)
        with self._lock:
            self.accepted.extend((identity, e) for e in events)
            self.batches.append((identity, len(events)))
            if self._state is not None:
                self._state.write(lines)
                self._state.flush()


# -- as a process -----------------------------------------------------------------------


def _rate(text: str) -> tuple[str, float]:
    fault, _, probability = text.partition("=")
    try:
        Fault.parse(fault)
        return fault, float(probability)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected FAULT=PROBABILITY ({exc})") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m msgevents.testing.crossengage_emulator",
        description="A local CrossEngage events API for tests. Prints its base URL, "
        "then serves until SIGTERM/SIGINT.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = a free port (default)")
    parser.add_argument("--api-key", required=True, help="the X-XNG-AuthToken to accept")
    parser.add_argument("--state-file", help="append accepted events here (JSON Lines)")
    parser.add_argument(
        "--activated",
        action="append",
        metavar="EVENT",
        help="an activated event type (repeat; default: all eight)",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="FAULT",
        help="scripted fault for the next request (repeat, in order)",
    )
    parser.add_argument(
        "--fault-rate",
        action="append",
        default=[],
        type=_rate,
        metavar="FAULT=P",
        help="fault with probability P per request",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    parser.add_argument("--seed", type=int, help="seed for --fault-rate")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    try:
        emulator = CrossEngageEmulator(
            args.api_key,
            activated=args.activated,
            faults=args.fault,
            fault_rates=dict(args.fault_rate),
            latency=args.latency,
            seed=args.seed,
            state_file=args.state_file,
            host=args.host,
            port=args.port,
        )
    except ValueError as exc:
        parser.error(str(exc))
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with emulator:
        print(emulator.base_url, flush=True)
        while not done.wait(0.5):
            pass
    print(json.dumps(emulator.summary()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
