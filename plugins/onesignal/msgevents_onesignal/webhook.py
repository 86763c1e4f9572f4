"""OneSignal Event Streams requests to ``msgevents serve``: the shared-secret check and the body.

OneSignal signs nothing. An Event Stream authenticates itself with a header set on
the stream in the OneSignal dashboard ("Configure the Event Stream": method, URL,
headers), e.g. ``Authorization: Bearer <token>`` or ``X-Msgevents-Token: <token>``;
the receiver compares it in constant time with ``MSGEVENTS_ONESIGNAL_WEBHOOK_TOKEN``.
A stream POSTs one JSON body per event (the body template, see
:mod:`msgevents_onesignal.mapping`); a JSON array of such bodies is accepted too,
so a batch written by another relay reads the same way. The records are exactly
those ``--input`` reads from a dump of the same bodies, so both share event ids.

https://documentation.onesignal.com/docs/en/event-streams
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from msgevents import ConfigError, MappingError, Record, WebhookRejected, WebhookRequest
from msgevents.inputs import object_records
from msgevents_onesignal.mapping import body_fields, event_time
from msgevents_onesignal.settings import OneSignalSettings

__all__ = ["STREAM", "parse_body", "records_of", "verify"]

STREAM = "events"
_bodies = object_records(STREAM, "a OneSignal Event Streams body")


def records_of(value: Any, location: str) -> list[Record]:
    """The records of one JSON value of a dump or of a webhook body (the same for both).

    A value is a rendered body, or a stored request holding the raw body as text under
    ``body`` (what a receiver that keeps requests verbatim writes): then the body is read
    and everything else of the request (its headers, with the stream's secret) is dropped.
    """
    if isinstance(value, dict) and isinstance(value.get("body"), str) and not _is_body(value):
        return _stored_request(value["body"], location)
    return _bodies(value, location)


def _is_body(value: dict[str, Any]) -> bool:
    return "event.kind" in value or "event" in value or "Event Data" in value


def _stored_request(text: str, location: str) -> list[Record]:
    try:
        value = json.loads(text, parse_constant=_not_json)
    except ValueError as exc:
        return [Record(STREAM, {"body": text}, location, f"body is not JSON: {exc}")]
    if isinstance(value, list):
        return [record for i, item in enumerate(value) for record in _bodies(item, f"{location} body[{i}]")]
    return _bodies(value, f"{location} body")


def parse_body(body: bytes, source: str = "webhook") -> list[Record]:
    """The records of a request body: one JSON object, or a JSON array of them.

    Raises :class:`MappingError` when the body as a whole is not such JSON.
    """
    if not body.strip():
        raise MappingError("empty body: an Event Stream POSTs one JSON object per event")
    try:
        value = json.loads(body, parse_constant=_not_json)
    except UnicodeDecodeError as exc:
        raise MappingError(f"body is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except ValueError as exc:
        raise MappingError(f"body is not JSON: {exc}") from None
    if isinstance(value, list):
        return [record for i, item in enumerate(value) for record in records_of(item, f"{source}[{i}]")]
    if isinstance(value, dict):
        return records_of(value, source)
    raise MappingError(f"body is a JSON {type(value).__name__}, not an Event Streams body (a JSON object)")


def _not_json(name: str) -> None:
    """NaN and Infinity are no JSON (the dump reader refuses them too)."""
    raise ValueError(f"{name} is not a JSON value")


def _presented(settings: OneSignalSettings, request: WebhookRequest) -> str:
    """The token the request presents in the configured header; ``""`` when it presents none."""
    value = request.header(settings.webhook_header).strip()
    if settings.webhook_header.lower() != "authorization":
        return value
    scheme, _, credentials = value.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else ""


def verify(settings: OneSignalSettings, request: WebhookRequest) -> None:
    """Return when ``request`` carries the shared secret; raise :class:`WebhookRejected` if not.

    Raises :class:`ConfigError` naming ``MSGEVENTS_ONESIGNAL_WEBHOOK_TOKEN`` when no secret is
    set. With ``webhook_max_age`` set, an event older than that (by its event time, against
    the time the request was received) is refused as well. Messages never hold a token.
    """
    token = settings.webhook_token
    if token is None or not token.get_secret_value():
        raise ConfigError(
            f"{settings.env_name('webhook_token')} is not set: the shared secret of the OneSignal "
            "Event Stream (its authentication header) is needed to accept its requests"
        )
    header = settings.webhook_header
    presented = _presented(settings, request)
    if not presented:
        expected = "Bearer <token>" if header.lower() == "authorization" else "the token"
        raise WebhookRejected(f"no {header} header with {expected}")
    if not hmac.compare_digest(presented.encode(), token.get_secret_value().encode()):
        raise WebhookRejected(f"the {header} header does not hold the webhook token")
    if settings.webhook_max_age is not None:
        _check_age(request, settings.webhook_max_age, settings.env_name("webhook_max_age"))


def _check_age(request: WebhookRequest, max_age: timedelta, variable: str) -> None:
    try:
        records = parse_body(request.body)
    except MappingError:
        return  # authentic but unreadable: parse_webhook quarantines it whole
    for record in records:
        when = _time_of(record.data) if record.error is None else None
        if when is not None and request.received_at - when > max_age:
            age = int((request.received_at - when).total_seconds())
            raise WebhookRejected(f"event {age} s old, over {variable}")


def _time_of(data: Mapping[str, Any]) -> datetime | None:
    try:
        return event_time(body_fields(data))
    except MappingError:
        return None  # no usable time: mapping quarantines the record with the reason
