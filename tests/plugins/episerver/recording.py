"""Cassette recording and scrubbing for the Episerver tests.

Cassettes are recorded against the local emulator (``emulator.py``) with the
*recording* credentials below and scrubbed on the way to disk:

- the emulator origin ``http://127.0.0.1:PORT`` becomes ``https://api.campaign.episerver.net``;
- the recording client id (REST paths, the SOAP login body, response bodies),
  user name and password (SOAP login body) become the *placeholders*;
- ``Authorization`` becomes ``Basic REDACTED``; other request headers except
  ``Content-Type``, ``SOAPAction`` and ``Accept`` are dropped, as are volatile
  response headers (``Date``, ``Server``);
- every e-mail address not at example.com/.org/.net becomes
  ``user-<hash>@example.com`` (stable, so a recipient stays one recipient).

Replay runs with the default base URL and the placeholder credentials, so the
requests it builds equal the scrubbed ones byte for byte (SOAP bodies are
matched) and the suite is offline.
"""

from __future__ import annotations

import copy
import hashlib
import re
from typing import Any

__all__ = [
    "ALLOWED_EMAIL_DOMAINS",
    "PLACEHOLDER",
    "REAL_BASE_URL",
    "RECORDING",
    "scrub_request",
    "scrub_response",
    "scrub_text",
    "vcr_config",
]

REAL_BASE_URL = "https://api.campaign.episerver.net"
#: What the emulator and the provider use while recording (scrubbed from every cassette).
RECORDING = {"client_id": "70931864", "username": "recorder@acme-mail.test",
             "password": "Rec0rding-Secret-7781"}  # fmt: skip
#: What replay uses and the cassettes contain instead.
PLACEHOLDER = {"client_id": "123456", "username": "api-user@example.com", "password": "test-password"}
PLACEHOLDER_AUTH = "Basic REDACTED"
ALLOWED_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_ORIGIN = re.compile(r"http://(?:127\.0\.0\.1|localhost):\d+")
_CLIENT_ID = re.compile(rf"\b{RECORDING['client_id']}\b")
_KEEP_REQUEST_HEADERS = {"content-type", "soapaction", "accept"}
_DROP_RESPONSE_HEADERS = {"date", "server"}


def allowed_email(address_domain: str) -> bool:
    domain = address_domain.lower()
    return any(domain == d or domain.endswith("." + d) for d in ALLOWED_EMAIL_DOMAINS)


def _pseudonym(match: re.Match[str]) -> str:
    if allowed_email(match.group(1)):
        return match.group(0)
    digest = hashlib.sha256(match.group(0).lower().encode()).hexdigest()[:8]
    return f"user-{digest}@example.com"


def scrub_text(text: str) -> str:
    """Origin, recording credentials and foreign e-mail addresses replaced."""
    text = _ORIGIN.sub(REAL_BASE_URL, text)
    text = _CLIENT_ID.sub(PLACEHOLDER["client_id"], text)
    for key in ("username", "password"):
        text = text.replace(RECORDING[key], PLACEHOLDER[key])
    return EMAIL.sub(_pseudonym, text)


def scrub_request(request: Any) -> Any:
    """``before_record_request``: a scrubbed copy (vcrpy also matches on it)."""
    request = copy.deepcopy(request)
    request.uri = scrub_text(request.uri)
    body = request.body
    if isinstance(body, bytes):
        request.body = scrub_text(body.decode("utf-8"))
    elif isinstance(body, str):
        request.body = scrub_text(body)
    headers = {k: v for k, v in request.headers.items() if k.lower() in _KEEP_REQUEST_HEADERS}
    if any(k.lower() == "authorization" for k in request.headers):
        headers["Authorization"] = PLACEHOLDER_AUTH
    request.headers = headers
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """``before_record_response``: scrubbed body, volatile headers dropped, length fixed."""
    response = copy.deepcopy(response)
    headers = {k: v for k, v in response["headers"].items() if k.lower() not in _DROP_RESPONSE_HEADERS}
    body = response["body"].get("string", b"")
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    body = scrub_text(body)
    response["body"]["string"] = body.encode("utf-8")
    for name in list(headers):
        if name.lower() == "content-length":
            headers[name] = [str(len(response["body"]["string"]))]
    response["headers"] = headers
    return response


def vcr_config() -> dict[str, Any]:
    """SOAP calls share one URL: match on the body too."""
    return {
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "decode_compressed_response": True,
    }
