"""SOAP 1.1 rpc/encoded for Optimizely Campaign: envelopes, results and the login session.

Envelopes are written and parsed with the standard library; no WSDL is read at
run time. The contract, as public rpc/encoded clients use it (see the plugin
README): the body element is the method name in namespace
``urn:api.broadmail.de/soap11/Rpc<Service>``,
parameters are positional ``in0, in1, …`` typed ``xsd:string|long|int``, the
result is the one element inside ``<{method}Response>`` (``<{method}Return>`` or
``<return>``), and a ``String[][]`` is read by position: the return element's
element children are rows, their element children cells, ``xsi:nil`` = empty.
"""

from __future__ import annotations

import contextlib
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from xml.sax.saxutils import escape

import requests

import msgevents
from msgevents.redact import add_secret, redact

__all__ = [
    "SESSION_RENEW_AFTER",
    "Result",
    "SoapClient",
    "SoapFault",
    "SoapFaultError",
    "build_envelope",
    "parse_response",
    "scalar",
    "table",
]

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSD = "http://www.w3.org/2001/XMLSchema"
_NIL = f"{{{XSI}}}nil"
#: Sessions expire after 20 minutes; renew well before.
SESSION_RENEW_AFTER = 15 * 60.0
#: (connect, read) seconds for logout: a courtesy, sent once; the session expires anyway.
LOGOUT_TIMEOUT = (5.0, 10.0)
#: HTTP statuses HttpClient retries for SOAP calls. 500 is not among them: SOAP 1.1 reports
#: faults with HTTP 500, which must be read first; only a Server fault is then repeated.
_SOAP_RETRY_STATUSES = frozenset({429, 502, 503, 504})

#: What a fault refusing the credentials says; words such as "user" or "invalid" alone also
#: appear in server failures ("user database unavailable") that a later run gets past.
_AUTH_WORDS = ("password", "credential", "authenticat", "unauthorized", "not authorized", "denied",
               "permission", "mandator", "login failed", "invalid user", "invalid login",
               "unknown user")  # fmt: skip
Param = tuple[str, object]  # (xsd type: "string" | "long" | "int", value)


class SoapFault(Exception):
    """A SOAP Fault in a response (a protocol-level answer, not yet an msgevents error)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message

    @property
    def about_session(self) -> bool:
        """The fault says the session expired or is unknown: log in again."""
        return "session" in self.message.lower()

    @property
    def about_permission(self) -> bool:
        """The fault refuses the call to this user (a missing permission)."""
        text = self.message.lower()
        return any(w in text for w in ("permission", "denied", "not authorized", "unauthorized"))

    @property
    def about_credentials(self) -> bool:
        """A login fault that refuses the credentials (rather than a server failure)."""
        text = self.message.lower()
        return self.code.lower().endswith("client") or any(w in text for w in _AUTH_WORDS)

    @property
    def retryable(self) -> bool:
        """A ``Server`` fault (``soapenv:Server``, ``Server.generalException``…) that may succeed later.

        SOAP 1.1 §4.4.1: a Server fault is a processing failure, not a wrong message, so the
        same call may succeed when repeated. Faults about the session, a permission or the
        credentials are not among them: they have their own handling.
        """
        local = self.code.rpartition(":")[2].lower()
        server = local == "server" or local.startswith("server.")
        return server and not self.about_session and not self.about_credentials


class SoapFaultError(msgevents.ProviderUnavailableError):
    """Optimizely answered a SOAP call with a fault that repeating would not fix now (exit 4)."""


def build_envelope(service: str, method: str, params: Sequence[Param]) -> bytes:
    """The request body of ``method`` of ``Rpc<service>`` with positional parameters."""
    parts = [
        "<?xml version='1.0' encoding='utf-8'?>",
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:xsd="{XSD}" xmlns:xsi="{XSI}">',
        "<soapenv:Body>",
        f'<ns1:{method} soapenv:encodingStyle="{SOAP_ENC}" '
        f'xmlns:ns1="urn:api.broadmail.de/soap11/Rpc{service}">',
    ]
    for index, (xsd_type, value) in enumerate(params):
        parts.append(f'<in{index} xsi:type="xsd:{xsd_type}">{escape(str(value))}</in{index}>')
    parts.append(f"</ns1:{method}></soapenv:Body></soapenv:Envelope>")
    return "".join(parts).encode()


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _children(element: ET.Element) -> list[ET.Element]:
    return [child for child in element if isinstance(child.tag, str)]


@dataclass(frozen=True)
class Result:
    """The return element of a response and the ``multiRef`` elements it may point to."""

    element: ET.Element
    refs: dict[str, ET.Element]

    def resolve(self, element: ET.Element) -> ET.Element:
        """Follow an Axis-style ``href="#id"`` to its ``multiRef`` element."""
        href = element.get("href")
        if href is None or not href.startswith("#"):
            return element
        target = self.refs.get(href[1:])
        if target is None:
            raise msgevents.ProviderUnavailableError(
                f"Optimizely SOAP answer refers to {href!r}, which it does not contain (a damaged response)"
            )
        return target


def parse_response(content: bytes, method: str) -> Result:
    """The return element of a SOAP response of ``method``.

    Raises :class:`SoapFault` for a fault and ``ValueError`` for anything that
    is not a SOAP response.
    """
    if b"<!DOCTYPE" in content[:4096] or b"<!ENTITY" in content[:4096]:
        raise ValueError(f"refusing a {method} response with a DTD")
    try:
        envelope = ET.fromstring(content)
    except ET.ParseError as exc:
        raise ValueError(f"the {method} response is not XML ({exc})") from None
    body = next((el for el in envelope if _local(el.tag) == "Body"), None)
    if _local(envelope.tag) != "Envelope" or body is None:
        raise ValueError(f"the {method} response is not a SOAP envelope")
    first = next(iter(_children(body)), None)
    if first is None:
        raise ValueError(f"the {method} response has an empty SOAP body")
    if _local(first.tag) == "Fault":
        code = (first.findtext("faultcode") or "").strip()
        message = (first.findtext("faultstring") or "").strip() or "(no faultstring)"
        raise SoapFault(code, message)
    refs = {el.get("id", ""): el for el in body.iter() if el.get("id")}
    returns = _children(first)
    result = Result(first, refs)  # a void method (logout) has no return element
    if returns:
        result = Result(result.resolve(returns[0]), refs)
    return result


def scalar(result: Result) -> str:
    """The text of a scalar return (``string``, ``long``); nil → ``""``."""
    element = result.element
    if element.get(_NIL) in ("true", "1"):
        return ""
    return (element.text or "").strip()


def table(result: Result) -> list[list[str]]:
    """A ``String[][]`` read by position: rows of cells, nil → ``""``."""
    resolve = result.resolve if result.refs else None
    rows = []
    for row in _children(result.element):
        if resolve is not None:
            row = resolve(row)
        cells = []
        for cell in _children(row):
            if resolve is not None:
                cell = resolve(cell)
            cells.append("" if cell.get(_NIL) in ("true", "1") else (cell.text or ""))
        rows.append(cells)
    return rows


class _Answer(NamedTuple):
    """A SOAP call's HTTP answer: its result, or the server failure worth repeating."""

    response: requests.Response
    result: Result | None
    problem: str = ""

    def failed(self) -> bool:
        return self.result is None

    def response_of(self) -> requests.Response:
        return self.response


def _read_answer(response: requests.Response, method: str, once: bool) -> _Answer:
    """Parse a SOAP answer; raise what must not be repeated (refused credentials, a fault
    that is not a ``Server`` fault, an unreadable answer that is not a 5xx)."""
    if response.status_code in (401, 403):
        raise msgevents.AuthError(
            f"Optimizely refused the SOAP {method} call (HTTP {response.status_code}); "
            "check MSGEVENTS_EPISERVER_CLIENT_ID and the SOAP user's credentials"
        )
    try:
        return _Answer(response, parse_response(response.content, method))
    except ValueError as exc:
        problem = f"HTTP {response.status_code}, {exc}"
        if response.status_code < 500:
            raise msgevents.ProviderUnavailableError(f"Optimizely SOAP {method}: {problem}") from None
        return _Answer(response, None, problem)
    except SoapFault as fault:
        if not fault.retryable or once:
            raise
        return _Answer(response, None, f"HTTP {response.status_code}, SOAP fault {redact(str(fault))}")


class SoapClient:
    """The SessionWebservice login and calls to the other services with that session.

    The session is renewed after :data:`SESSION_RENEW_AFTER` seconds (read from
    ``clock``, injectable for tests) and, once, when a call fails with a fault
    about the session; the call is then repeated.
    """

    def __init__(
        self,
        http: msgevents.HttpClient,
        base_url: str,
        client_id: str,
        username: str,
        password: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._username = username
        self._password = password
        self.clock = clock
        self.session_id: str | None = None
        self._logged_in_at = 0.0

    # -- transport -----------------------------------------------------------------------

    def _post(self, service: str, method: str, params: Sequence[Param], *, once: bool = False) -> Result:
        """POST one call; ``once``: a single attempt with a short timeout (a courtesy call).

        HttpClient repeats 429/502/503/504 itself; a 500 is read first (SOAP 1.1 sends
        faults with it) and repeated here, with the same policy, when it holds a ``Server``
        fault or no readable SOAP at all (a server failure).
        """
        url = f"{self.base_url}/soap11/Rpc{service}"
        body = build_envelope(service, method, params)
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": f'"{method}"'}
        extra: dict[str, Any] = {"attempts": 1, "timeout": LOGOUT_TIMEOUT} if once else {}
        tries: list[_Answer] = []

        def attempt() -> _Answer:
            response = self.http.request(
                "POST", url, data=body, headers=headers, retry_statuses=_SOAP_RETRY_STATUSES, **extra
            )
            tries.append(answer := _read_answer(response, method, once))
            return answer

        last = self.http.retry_calls(
            attempt, again=_Answer.failed, response_of=_Answer.response_of, attempts=1 if once else None
        )
        if last.result is not None:
            return last.result
        raise msgevents.RetriesExhaustedError(
            f"{self.http.name}: SOAP {method} failed {len(tries)} times; last: {last.problem}",
            status=last.response.status_code,
            ambiguous=False,
        )

    # -- session ---------------------------------------------------------------------------

    def login(self) -> str:
        """Open a session (SessionWebservice.login); refused credentials → AuthError."""
        params = [("long", self.client_id), ("string", self._username), ("string", self._password)]
        try:
            result = self._post("Session", "login", params)
        except SoapFault as fault:
            if not fault.about_credentials:
                raise SoapFaultError(f"Optimizely SOAP login failed: {redact(str(fault))}") from None
            raise msgevents.AuthError(
                f"Optimizely refused the SOAP login: {redact(fault.message)} (check "
                "MSGEVENTS_EPISERVER_CLIENT_ID, MSGEVENTS_EPISERVER_SOAP_USERNAME or _USERNAME, "
                "MSGEVENTS_EPISERVER_SOAP_PASSWORD or _PASSWORD)"
            ) from None
        session_id = scalar(result)
        if not session_id:
            raise msgevents.ProviderUnavailableError("Optimizely SOAP login returned no session id")
        add_secret(session_id)  # a live session is a credential: faults may quote it ("Session … is invalid")
        self.session_id = session_id
        self._logged_in_at = self.clock()
        return session_id

    def logout(self) -> None:
        """End the session (SessionWebservice.logout); a failure here is ignored."""
        session_id, self.session_id = self.session_id, None
        if session_id is None:
            return
        with contextlib.suppress(SoapFault, msgevents.MsgEventsError):
            self._post("Session", "logout", [("string", session_id)], once=True)

    def _session(self) -> str:
        if self.session_id is not None and self.clock() - self._logged_in_at >= SESSION_RENEW_AFTER:
            self.logout()
        if self.session_id is None:
            return self.login()
        return self.session_id

    def call(self, service: str, method: str, params: Sequence[Param]) -> Result:
        """Call ``method`` with the session id as ``in0`` and ``params`` after it."""
        for attempt in (1, 2):
            session_id = self._session()
            try:
                return self._post(service, method, [("string", session_id), *params])
            except SoapFault as fault:
                if fault.about_session and attempt == 1:
                    self.session_id = None  # expired: log in again and repeat once
                    continue
                if fault.about_permission:
                    raise msgevents.AuthError(
                        f"Optimizely refused SOAP {method}: {redact(fault.message)} (the API user "
                        "needs the INTERFACE_WEBSERVICE permission and the closed-loop interface)"
                    ) from None
                raise SoapFaultError(f"Optimizely SOAP {method} failed: {redact(str(fault))}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    # -- ClosedLoopWebservice --------------------------------------------------------------

    def current_time_ms(self) -> int:
        """``getCurrentTime``: the server clock in epoch milliseconds."""
        text = scalar(self.call("ClosedLoop", "getCurrentTime", []))
        try:
            return int(text)
        except ValueError:
            raise msgevents.ProviderUnavailableError(
                f"Optimizely getCurrentTime returned {text!r}, not epoch milliseconds"
            ) from None

    def export_rows(
        self, method: str, since_ms: int, until_ms: int, start_row: int, rows: int
    ) -> list[list[str]]:
        """One page of ``getRecipients|getOpens|getClicks|getResponses``."""
        params = [("long", since_ms), ("long", until_ms), ("int", start_row), ("int", rows)]
        return table(self.call("ClosedLoop", method, params))
