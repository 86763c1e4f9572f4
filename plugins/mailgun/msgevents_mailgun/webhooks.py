"""Mailgun webhooks (``msgevents serve``, ``POST /webhooks/mailgun``): verifying and parsing them.

Mailgun posts one JSON body per event::

    {"signature": {"timestamp": "1529692199", "token": "<50 chars>", "signature": "<hex>"},
     "event-data": {... an Events API item ...}}

It is authentic when ``signature.signature`` is the hex HMAC-SHA256 of ``timestamp + token``
(no separator) keyed with the domain's HTTP webhook signing key
(https://documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks).
The signature covers the timestamp and token only, not the event data: it proves the sender
knows the key. A replayed body is harmless (the ledger delivers its event once); a freshness
window applies only when ``MSGEVENTS_MAILGUN_WEBHOOK_MAX_AGE`` is set.

Parsing reuses :func:`msgevents_mailgun.files.records_of`, the reader of webhook-body files,
so an event gets one ``event_id`` whether it arrives by webhook, from the Events API or from a
file; the ``signature`` object never enters a record.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from msgevents import MappingError, Record, WebhookRejected, WebhookRequest
from msgevents.json_values import exact_loads
from msgevents_mailgun.files import records_of

__all__ = ["expected_signature", "parse_body", "verify_body"]


def expected_signature(key: str, timestamp: str, token: str) -> str:
    """Mailgun's signature of ``timestamp`` and ``token``: hex HMAC-SHA256 keyed with ``key``."""
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def _body(request: WebhookRequest) -> Any:
    try:
        return exact_loads(request.body)  # an integer beyond 64 bits stays exact, as in files
    except ValueError:
        return None


def _signature_fields(body: Any) -> tuple[str, str, str]:
    """``(timestamp, token, signature)`` of a webhook body, or :class:`WebhookRejected` saying
    which is missing (never what they are)."""
    if not isinstance(body, Mapping):
        raise WebhookRejected("body is not a JSON object with a Mailgun signature")
    signed = body.get("signature")
    if not isinstance(signed, Mapping):
        raise WebhookRejected("body has no signature object")
    values = []
    for name in ("timestamp", "token", "signature"):
        value = signed.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and name == "timestamp":
            value = str(value)
        if not isinstance(value, str) or not value:
            raise WebhookRejected(f"signature.{name} is missing or not a string")
        values.append(value)
    return values[0], values[1], values[2]


def verify_body(request: WebhookRequest, key: str, max_age: timedelta | None) -> None:
    """Raise :class:`WebhookRejected` unless the body's signature is Mailgun's with ``key``
    (and, with ``max_age``, its timestamp is no further than that from ``request.received_at``)."""
    timestamp, token, signature = _signature_fields(_body(request))
    expected = expected_signature(key, timestamp, token).encode()
    if not hmac.compare_digest(expected, signature.lower().encode("utf-8", "replace")):  # bytes: any text
        raise WebhookRejected("signature does not match (is MSGEVENTS_MAILGUN_WEBHOOK_SIGNING_KEY right?)")
    if max_age is not None:
        try:
            signed_at = datetime.fromtimestamp(float(timestamp), request.received_at.tzinfo)
        except (ValueError, OverflowError, OSError):
            raise WebhookRejected("signature.timestamp is not epoch seconds") from None
        age = request.received_at - signed_at
        if abs(age) > max_age:
            raise WebhookRejected(
                f"signature timestamp is {int(age.total_seconds())} s from now, "
                f"beyond MSGEVENTS_MAILGUN_WEBHOOK_MAX_AGE ({int(max_age.total_seconds())} s)"
            )


def parse_body(request: WebhookRequest) -> list[Record]:
    """The records of an authentic webhook body: its ``event-data`` (pure)."""
    body = _body(request)
    if not isinstance(body, Mapping) or "event-data" not in body:
        raise MappingError("not a Mailgun webhook body: a JSON object with event-data was expected")
    event_only = {"event-data": body["event-data"]}  # the signature stays behind
    return records_of(event_only, f"webhook received {request.received_at.isoformat()}")
