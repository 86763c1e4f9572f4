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

import re
from typing import Any

from cassette_scrub import EMAIL, LOCAL_ORIGIN, PLACEHOLDER_AUTH, Scrubber, allowed_email, pseudonymise_emails

__all__ = [
    "EMAIL",
    "PLACEHOLDER",
    "PLACEHOLDER_AUTH",
    "REAL_BASE_URL",
    "RECORDING",
    "allowed_email",
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

_CLIENT_ID = re.compile(rf"\b{RECORDING['client_id']}\b")


def scrub_text(text: str) -> str:
    """Origin, recording credentials and foreign e-mail addresses replaced."""
    text = LOCAL_ORIGIN.sub(REAL_BASE_URL, text)
    text = _CLIENT_ID.sub(PLACEHOLDER["client_id"], text)
    for key in ("username", "password"):
        text = text.replace(RECORDING[key], PLACEHOLDER[key])
    return pseudonymise_emails(text)


_SCRUB = Scrubber(
    scrub_text,
    keep_request_headers={"content-type", "soapaction", "accept"},
    drop_response_headers={"date", "server"},
)
scrub_request = _SCRUB.request
scrub_response = _SCRUB.response


def vcr_config() -> dict[str, Any]:
    """SOAP calls share one URL: match on the body too."""
    return {
        "match_on": ["method", "scheme", "host", "port", "path", "query", "body"],
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "decode_compressed_response": True,
    }
