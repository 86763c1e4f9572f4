"""Twilio status callbacks received live (``msgevents serve``, ``POST /webhooks/twilio``).

Twilio posts each status change as an ``application/x-www-form-urlencoded`` body and signs it
in the ``X-Twilio-Signature`` header: base64 of the HMAC-SHA1, keyed with the account's auth
token, of the URL Twilio called (with its query string) followed by every form parameter as
name + value, sorted by name (https://www.twilio.com/docs/usage/webhooks/webhooks-security).
``request.url`` is that URL as the receiver rebuilt it from its public base URL; like Twilio's
own validators, the URL is also tried with the scheme's default port added or removed,
because Twilio may sign either form.

Twilio signs no time, so there is no freshness window: a replayed callback is the same event
(``MessageSid:status``) and the ledger delivers it once.

Parsing gives the record a status-callback dump line ``{"received_at": …, "body": "<form>"}``
gives (the dump reader's own function), so a callback has one ``event_id`` whether it was
received live or read from a dump; ``received_at`` is when the receiver read the request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from msgevents import MappingError, Record, WebhookRejected, WebhookRequest

__all__ = ["SIGNATURE_HEADER", "parse_request", "signature", "url_variants", "verify_request"]

SIGNATURE_HEADER = "X-Twilio-Signature"
_DEFAULT_PORTS = {"https": 443, "http": 80}


def signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """Twilio's signature of a request to ``url`` with form ``params``."""
    signed = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def url_variants(url: str) -> list[str]:
    """``url`` as given, and with the scheme's default port removed or added (Twilio signs either)."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme)
    if default is None or parts.hostname is None:
        return [url]
    try:
        port = parts.port
    except ValueError:
        return [url]
    if port is None:
        other = f"{parts.netloc}:{default}"
    elif port == default:
        other = parts.netloc.rsplit(":", 1)[0]
    else:
        return [url]
    return [url, urlunsplit(parts._replace(netloc=other))]


def verify_request(request: WebhookRequest, auth_token: str) -> None:
    """Raise :class:`WebhookRejected` unless ``X-Twilio-Signature`` is Twilio's with ``auth_token``."""
    given = request.header(SIGNATURE_HEADER).strip()
    if not given:
        raise WebhookRejected(f"no {SIGNATURE_HEADER} header")
    try:
        params = request.form()
    except ValueError:
        raise WebhookRejected("body is not a form-encoded Twilio callback") from None
    matches = [
        hmac.compare_digest(signature(auth_token, url, params).encode(), given.encode("utf-8", "replace"))
        for url in url_variants(request.url)
    ]
    if not any(matches):
        raise WebhookRejected(
            f"{SIGNATURE_HEADER} does not match the URL and parameters (is MSGEVENTS_TWILIO_AUTH_TOKEN "
            f"right, and MSGEVENTS_SERVE_PUBLIC_URL the URL Twilio calls?)"
        )


def parse_request(request: WebhookRequest, records_of: Callable[[Any, str], list[Record]]) -> list[Record]:
    """The callback as the dump line ``{"received_at", "body"}``, read by the dump reader's
    ``records_of`` (pure)."""
    try:
        body = request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MappingError(f"the callback body is not UTF-8 ({exc.reason} at byte {exc.start})") from None
    value = {"received_at": request.received_at.isoformat(), "body": body}
    return records_of(value, f"callback received {request.received_at.isoformat()}")
