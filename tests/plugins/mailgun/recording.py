"""Cassette recording and scrubbing for the Mailgun tests.

Cassettes are recorded against the local emulator (``emulator.py``) with the *recording*
domain and API key below and scrubbed on the way to disk:

- the emulator origin ``http://127.0.0.1:PORT`` becomes ``https://api.mailgun.net`` (also inside
  the ``paging`` URLs of response bodies);
- the recording domain and key become the placeholders;
- ``Authorization`` becomes ``Basic REDACTED``; other request headers are dropped, as is the
  response's ``Server`` header (the ``Date`` header stays: it is Mailgun's clock, which the
  provider reads);
- every e-mail address not at example.com/.org/.net becomes ``user-<hash>@example.com``.

Replay runs with the default base URL and the placeholder domain and key, so the requests it
builds equal the scrubbed ones (method, host, path and query are matched) and the suite is offline.
"""

from __future__ import annotations

import copy
import hashlib
import re
from typing import Any

__all__ = ["PLACEHOLDER", "REAL_BASE_URL", "RECORDING", "scrub_request", "scrub_response", "vcr_config"]

REAL_BASE_URL = "https://api.mailgun.net"
#: What the emulator and the provider use while recording (scrubbed from every cassette).
RECORDING = {"domain": "mg.acme-recording.test", "api_key": "key-3f9c1b7e5d2a48c6b0e1f7a9d4c2b8e6"}
#: What replay uses and the cassettes contain instead.
PLACEHOLDER = {"domain": "mg.example.com", "api_key": "key-placeholder"}
PLACEHOLDER_AUTH = "Basic REDACTED"
ALLOWED_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_ORIGIN = re.compile(r"http://(?:127\.0\.0\.1|localhost):\d+")
_DROP_RESPONSE_HEADERS = {"server"}


def allowed_email(domain: str) -> bool:
    domain = domain.lower()
    return any(domain == d or domain.endswith("." + d) for d in ALLOWED_EMAIL_DOMAINS)


def _pseudonym(match: re.Match[str]) -> str:
    if allowed_email(match.group(1)):
        return match.group(0)
    return f"user-{hashlib.sha256(match.group(0).lower().encode()).hexdigest()[:8]}@example.com"


def scrub_text(text: str) -> str:
    text = _ORIGIN.sub(REAL_BASE_URL, text)
    for key in ("domain", "api_key"):
        text = text.replace(RECORDING[key], PLACEHOLDER[key])
    return EMAIL.sub(_pseudonym, text)


def scrub_request(request: Any) -> Any:
    request = copy.deepcopy(request)
    request.uri = scrub_text(request.uri)
    headers = {}
    if any(k.lower() == "authorization" for k in request.headers):
        headers["Authorization"] = PLACEHOLDER_AUTH
    request.headers = headers
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    response = copy.deepcopy(response)
    headers = {k: v for k, v in response["headers"].items() if k.lower() not in _DROP_RESPONSE_HEADERS}
    body = response["body"].get("string", b"")
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    response["body"]["string"] = scrub_text(body).encode("utf-8")
    for name in list(headers):
        if name.lower() == "content-length":
            headers[name] = [str(len(response["body"]["string"]))]
    response["headers"] = headers
    return response


def vcr_config() -> dict[str, Any]:
    return {
        "match_on": ["method", "scheme", "host", "port", "path", "query"],
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "decode_compressed_response": True,
    }
