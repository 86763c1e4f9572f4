"""Scrubbing recorded HTTP on its way into a cassette: what every provider's recording shares.

A provider's ``recording.py`` supplies ``scrub_text`` (its emulator origin → the real base URL,
its recording credentials → placeholders, then :func:`pseudonymise_emails`) and which headers
to keep or drop; :class:`Scrubber` applies it to vcrpy's requests and responses:

- the URI and a text body are scrubbed;
- ``Authorization`` becomes ``Basic REDACTED``; other request headers are dropped unless kept;
- the response body is scrubbed (``Content-Length`` fixed), volatile headers are dropped;
- every e-mail address not at example.com/.org/.net becomes ``user-<hash>@example.com``
  (stable, so a recipient stays one recipient).
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable, Iterable
from typing import Any

__all__ = [
    "ALLOWED_EMAIL_DOMAINS",
    "EMAIL",
    "LOCAL_ORIGIN",
    "PLACEHOLDER_AUTH",
    "Scrubber",
    "allowed_email",
    "pseudonymise_emails",
]

PLACEHOLDER_AUTH = "Basic REDACTED"
ALLOWED_EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
#: The origin of an emulator on this machine, as recorded requests and bodies carry it.
LOCAL_ORIGIN = re.compile(r"http://(?:127\.0\.0\.1|localhost):\d+")


def allowed_email(domain: str) -> bool:
    """Whether an address at ``domain`` may stay in a cassette (a reserved example domain)."""
    domain = domain.lower()
    return any(domain == d or domain.endswith("." + d) for d in ALLOWED_EMAIL_DOMAINS)


def _pseudonym(match: re.Match[str]) -> str:
    if allowed_email(match.group(1)):
        return match.group(0)
    return f"user-{hashlib.sha256(match.group(0).lower().encode()).hexdigest()[:8]}@example.com"


def pseudonymise_emails(text: str) -> str:
    """``text`` with every address outside the example domains replaced by a stable pseudonym."""
    return EMAIL.sub(_pseudonym, text)


class Scrubber:
    """vcrpy's ``before_record_request`` / ``before_record_response`` for one provider."""

    def __init__(
        self,
        scrub_text: Callable[[str], str],
        *,
        keep_request_headers: Iterable[str] = (),
        drop_response_headers: Iterable[str] = ("server",),
    ) -> None:
        self.scrub_text = scrub_text
        self.keep = {name.lower() for name in keep_request_headers}
        self.drop = {name.lower() for name in drop_response_headers}

    def request(self, request: Any) -> Any:
        """A scrubbed copy (vcrpy also matches replayed requests on it)."""
        request = copy.deepcopy(request)
        request.uri = self.scrub_text(request.uri)
        body = request.body
        if isinstance(body, bytes):
            request.body = self.scrub_text(body.decode("utf-8"))
        elif isinstance(body, str):
            request.body = self.scrub_text(body)
        headers = {k: v for k, v in request.headers.items() if k.lower() in self.keep}
        if any(k.lower() == "authorization" for k in request.headers):
            headers["Authorization"] = PLACEHOLDER_AUTH
        request.headers = headers
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        """A scrubbed copy: body scrubbed, volatile headers dropped, ``Content-Length`` fixed."""
        response = copy.deepcopy(response)
        headers = {k: v for k, v in response["headers"].items() if k.lower() not in self.drop}
        body = response["body"].get("string", b"")
        if isinstance(body, bytes):
            body = body.decode("utf-8", errors="replace")
        response["body"]["string"] = self.scrub_text(body).encode("utf-8")
        for name in list(headers):
            if name.lower() == "content-length":
                headers[name] = [str(len(response["body"]["string"]))]
        response["headers"] = headers
        return response
