"""HTTP for providers and sinks: a ``requests`` session with timeouts and bounded retries.

:class:`HttpClient` retries connection failures, timeouts, 429 and 5xx with
exponential backoff and jitter, honours ``Retry-After`` (seconds or HTTP date,
parsed by urllib3), and tells apart failures where the request never left
(safe to repeat) from those where it may have been processed (*ambiguous*: a
connection lost after sending, a timeout, a gateway's 502/504; counted, because
repeating a ``POST /events`` may duplicate events). It logs
one line per attempt on the ``msgevents.http`` logger, without headers or
bodies, and never raises with credentials in the message.

The retry loop is tenacity's (:meth:`HttpClient.retry_calls`: stop after the
policy's attempts, wait the backoff or ``Retry-After``, count and sleep before
each retry), not urllib3's ``Retry`` mounted in the adapter, although that one is
already installed with requests: ``Retry`` runs inside the connection pool, where
(1) no response body can be read to decide — an Optimizely SOAP ``Server`` fault
arrives as HTTP 500 with the fault in the body, and only those are repeated;
(2) each attempt is not visible, so requests, throttled answers and whether a
failed attempt may have been processed (ambiguous) cannot be counted per attempt,
and a ``POST`` read error is either never retried or retried without telling;
(3) its sleep is ``time.sleep``, not the injectable one tests use. tenacity keeps
the attempt in our hands and provides the rest; urllib3 still parses
``Retry-After``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
import tenacity
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import Retry

from msgevents.errors import IncompleteError
from msgevents.redact import add_secret, redact

__all__ = ["HttpClient", "RetriesExhaustedError", "RetryPolicy", "StatsSink"]

log = logging.getLogger("msgevents.http")
T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Answers of a gateway in front of the service: the request may have reached it and been
#: processed (504: it answered too late; 502: the connection to it broke), so a retry is ambiguous.
AMBIGUOUS_STATUSES = frozenset({502, 504})


class StatsSink(Protocol):
    """Anything with ``add(requests=…, retries=…, throttled=…, ambiguous=…)``."""

    def add(self, **counts: int) -> None: ...


class _NoStats:
    def add(self, **counts: int) -> None:
        pass


class RetriesExhaustedError(IncompleteError):
    """Every attempt failed with a retryable error (5xx, 429, timeout, dropped connection)."""

    def __init__(self, message: str, *, status: int | None, ambiguous: bool):
        super().__init__(message)
        self.status = status
        self.ambiguous = ambiguous


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry.

    ``attempts`` counts every try (the first one included). The n-th retry waits
    ``min(backoff_max, backoff * 2**(n-1))`` with jitter (between half and all of
    it), or the server's ``Retry-After`` when given, capped at ``retry_after_max``.
    """

    attempts: int = 6
    backoff: float = 0.5
    backoff_max: float = 30.0
    retry_after_max: float = 300.0
    statuses: frozenset[int] = RETRY_STATUSES

    def delay(self, retry_number: int, response: requests.Response | None = None) -> float:
        if response is not None:
            header = response.headers.get("Retry-After")
            if header:
                try:
                    seconds = Retry().parse_retry_after(header)
                except Exception:  # malformed header: fall back to backoff
                    seconds = None
                if seconds is not None:
                    return max(0.0, min(float(seconds), self.retry_after_max))
        ceiling = min(self.backoff_max, self.backoff * 2 ** (retry_number - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request certainly did not reach the server (safe to repeat)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    inner = getattr(reason, "reason", reason)
    return isinstance(inner, NewConnectionError | ConnectTimeoutError)


class _Try(NamedTuple):
    """One attempt of :meth:`HttpClient.request`: the response (``None``: no answer) and
    whether the attempt failed in a way worth repeating."""

    response: requests.Response | None
    retry: bool

    def again(self) -> bool:
        return self.retry

    def response_of(self) -> requests.Response | None:
        return self.response


@dataclass
class _Seen:
    """What the attempts of one request have seen so far."""

    attempts: int = 0
    ambiguous: bool = False
    status: int | None = None
    problem: str = ""


@dataclass
class HttpClient:
    """A pooled ``requests`` session with the retry rules above.

    ``name`` appears in log lines and errors (``crossengage``, ``episerver-rest``).
    ``timeout`` is ``(connect, read)`` seconds. ``sleep`` is injectable for tests.
    """

    name: str
    timeout: tuple[float, float] = (10.0, 60.0)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    pool_size: int = 10
    stats: StatsSink = field(default_factory=_NoStats)
    headers: dict[str, str] = field(default_factory=dict)
    auth: Any = None
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)
    #: the requests need nothing from the session but its connections and settings (no cookies,
    #: no environment read per request): each is prepared once from the client's own headers
    #: and auth and sent as it is, without requests' merge of the session's settings into every
    #: request (``Session.request``), which is a third of its CPU per request
    stateless: bool = False
    _base_headers: dict[str, str] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=self.pool_size, max_retries=0)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.headers.update(self.headers)
        if self.auth is not None:
            self.session.auth = self.auth
        self._base_headers = dict(self.session.headers)
        _register_credentials(self.auth, self.headers)

    def request(
        self,
        method: str,
        url: str,
        *,
        retry_statuses: Collection[int] | None = None,
        attempts: int | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send with retries; return the first non-retryable response (2xx, 4xx…).

        ``attempts`` overrides the policy's for this call (``1``: no retry).
        Raises :class:`RetriesExhaustedError` when every attempt failed. The
        returned response has ``ambiguous`` set when an earlier attempt's
        outcome was unknown.
        """
        statuses = self.retry.statuses if retry_statuses is None else frozenset(retry_statuses)
        kwargs.setdefault("timeout", self.timeout)
        seen = _Seen()
        send = self._send(method, url, kwargs)

        def attempt() -> _Try:
            seen.attempts += 1
            started = time.monotonic()
            try:
                response = send()
            except requests.RequestException as exc:
                seen.ambiguous = seen.ambiguous or not _never_sent(exc)
                seen.problem = _describe(exc)
                self.stats.add(requests=1)
                log.debug(
                    "%s %s %s failed after %d ms (attempt %d): %s",
                    self.name,
                    method,
                    redact(url),
                    _ms(started),
                    seen.attempts,
                    seen.problem,
                )
                return _Try(None, retry=True)
            self.stats.add(requests=1, throttled=1 if response.status_code == 429 else 0)
            log.debug(
                "%s %s %s -> %d in %d ms (attempt %d)",
                self.name,
                method,
                redact(url),
                response.status_code,
                _ms(started),
                seen.attempts,
            )
            if response.status_code not in statuses:
                return _Try(response, retry=False)
            seen.status, seen.problem = response.status_code, f"HTTP {response.status_code}"
            seen.ambiguous = seen.ambiguous or response.status_code in AMBIGUOUS_STATUSES
            return _Try(response, retry=True)

        last = self.retry_calls(attempt, again=_Try.again, response_of=_Try.response_of, attempts=attempts)
        if seen.ambiguous:
            self.stats.add(ambiguous=1)  # once per request, however many attempts
        if last.response is not None and not last.retry:
            last.response.ambiguous = seen.ambiguous  # type: ignore[attr-defined]
            return last.response
        raise RetriesExhaustedError(
            f"{self.name}: {method} {redact(_strip_query(url))} failed "
            f"{seen.attempts} times; last: {seen.problem}",
            status=seen.status,
            ambiguous=seen.ambiguous,
        )

    def _send(self, method: str, url: str, kwargs: dict[str, Any]) -> Callable[[], requests.Response]:
        """What one attempt calls: ``Session.request``, or for a :attr:`stateless` client the
        request prepared here once, sent by ``Session.send`` with the session's settings."""
        session = self.session
        if not self.stateless:
            return lambda: session.request(method, url, **kwargs)
        options = {name: kwargs.pop(name) for name in _SEND_OPTIONS if name in kwargs}
        options.setdefault("allow_redirects", True)
        options.setdefault("proxies", session.proxies)
        options.setdefault("verify", session.verify)
        options.setdefault("cert", session.cert)
        options.setdefault("stream", session.stream)
        headers = {**self._base_headers, **(kwargs.pop("headers", None) or {})}
        auth = kwargs.pop("auth", self.auth)
        prepared = requests.Request(method, url, headers=headers, auth=auth, **kwargs).prepare()
        return lambda: session.send(prepared, **options)

    def retry_calls(
        self,
        call: Callable[[], T],
        *,
        again: Callable[[T], bool],
        response_of: Callable[[T], requests.Response | None] = lambda _result: None,
        attempts: int | None = None,
    ) -> T:
        """Call ``call()`` until ``again(result)`` is false or the attempts are used up; return
        the last result. Between attempts: the policy's backoff, or the ``Retry-After`` of
        ``response_of(result)``; each retry is counted in ``stats`` and slept with ``sleep``.

        Used by :meth:`request` and by plugins whose retry decision needs the response
        body (a SOAP ``Server`` fault comes as HTTP 500 with the fault inside).
        """
        policy = self.retry
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(policy.attempts if attempts is None else attempts),
            wait=lambda state: policy.delay(state.attempt_number, response_of(state.outcome.result())),
            retry=tenacity.retry_if_result(again),
            sleep=self.sleep,
            before_sleep=lambda _state: self.stats.add(retries=1),
            retry_error_callback=lambda state: state.outcome.result(),
        )
        return retrying(call)

    def close(self) -> None:
        self.session.close()


#: Arguments of ``Session.request`` that are options of sending, not parts of the request.
_SEND_OPTIONS = ("timeout", "allow_redirects", "proxies", "stream", "verify", "cert")

#: Headers whose values are credentials (matched in lower case).
_SECRET_HEADERS = ("authorization", "proxy-authorization", "x-api-key", "api-key", "x-auth-token")


def _register_credentials(auth: Any, headers: dict[str, str]) -> None:
    """Mask the credentials this client sends, in every form (see :mod:`msgevents.redact`).

    Settings register their secrets already; this catches a plugin that passes a
    credential it did not declare secret, and registers ``user:password`` whole
    (its exact base64 is what a server echoing ``Authorization`` shows).
    """
    user, password = None, None
    if isinstance(auth, tuple) and len(auth) == 2:
        user, password = auth
    elif isinstance(auth, requests.auth.HTTPBasicAuth):
        user, password = auth.username, auth.password
    if isinstance(password, str) and password:
        add_secret(password)
        add_secret(f"{user or ''}:{password}")
    for name, value in headers.items():
        lowered = name.lower()
        secret = lowered in _SECRET_HEADERS or "token" in lowered or "secret" in lowered
        if isinstance(value, str) and secret:
            add_secret(value)
            add_secret(value.partition(" ")[2] if " " in value else None)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _strip_query(url: str) -> str:
    """``url`` without query string, fragment and ``user:password@`` (all may hold credentials)."""
    parts = urlsplit(url.split("?", 1)[0].split("#", 1)[0])
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _describe(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.ConnectTimeout):
        return "connect timeout"
    if isinstance(exc, requests.ReadTimeout):
        return "read timeout (the request may have been processed)"
    if _never_sent(exc):
        return "connection refused"
    return f"connection lost ({type(exc).__name__})"
