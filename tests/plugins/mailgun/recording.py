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

REAL_BASE_URL = "https://api.mailgun.net"
#: What the emulator and the provider use while recording (scrubbed from every cassette).
RECORDING = {"domain": "mg.acme-recording.test", "api_key": "key-3f9c1b7e5d2a48c6b0e1f7a9d4c2b8e6"}
#: What replay uses and the cassettes contain instead.
PLACEHOLDER = {"domain": "mg.example.com", "api_key": "key-placeholder"}


def scrub_text(text: str) -> str:
    text = LOCAL_ORIGIN.sub(REAL_BASE_URL, text)
    for key in ("domain", "api_key"):
        text = text.replace(RECORDING[key], PLACEHOLDER[key])
    return pseudonymise_emails(text)


# the Date header stays: it is Mailgun's clock, which the provider reads
_SCRUB = Scrubber(scrub_text, drop_response_headers={"server"})
scrub_request = _SCRUB.request
scrub_response = _SCRUB.response


def vcr_config() -> dict[str, Any]:
    return {
        "match_on": ["method", "scheme", "host", "port", "path", "query"],
        "before_record_request": scrub_request,
        "before_record_response": scrub_response,
        "decode_compressed_response": True,
    }
