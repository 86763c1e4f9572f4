"""Mailgun event → canonical event: pure functions, no I/O.

One Mailgun event (an Events API item, the same object in a dump file, or the
``event-data`` of a webhook body) maps to one canonical event:

| Mailgun ``event`` | canonical |
|---|---|
| ``accepted`` | Message Sent |
| ``delivered`` | Message Delivered |
| ``opened`` | Message Viewed |
| ``clicked`` | Message Clicked (``url``) |
| ``unsubscribed`` | Message Unsubscribed |
| ``complained`` | Message marked_as_spam |
| ``failed`` + ``severity: temporary`` | Message soft_bounced |
| ``failed`` + ``severity: permanent`` | Message hard_bounced |

A permanent failure with ``reason`` ``suppress-bounce``, ``suppress-unsubscribe``
or ``suppress-complaint`` is a send Mailgun refused because of an earlier
bounce, unsubscribe or complaint: not a new bounce, so not modelled (counted as
``failed:suppress-…``). ``rejected``, ``stored``, ``list_*`` and any type Mailgun
adds later are not modelled either (counted by name).

The event id is Mailgun's ``id`` with the event's UTC day (Mailgun ids are
unique only within a day), so the same event has the same id from the API, a
file or a webhook.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgevents
from msgevents import EventType, MappingError, NotModelled
from msgevents.timestamps import TimestampError, parse_epoch_seconds

__all__ = ["EVENT_TYPES", "SUPPRESSED_REASONS", "Mapper", "event_data", "event_id_of"]

EVENT_TYPES: dict[str, EventType] = {
    "accepted": EventType.SENT,
    "delivered": EventType.DELIVERED,
    "opened": EventType.VIEWED,
    "clicked": EventType.CLICKED,
    "unsubscribed": EventType.UNSUBSCRIBED,
    "complained": EventType.MARKED_AS_SPAM,
}
SEVERITIES = {"temporary": EventType.SOFT_BOUNCED, "permanent": EventType.HARD_BOUNCED}
SUPPRESSED_REASONS = frozenset({"suppress-bounce", "suppress-unsubscribe", "suppress-complaint"})

_validate = msgevents.Event.model_validate


def event_data(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The Mailgun event in ``data``: the ``event-data`` of a webhook body, else ``data`` itself."""
    inner = data.get("event-data")
    if inner is not None and "event" not in data:
        if not isinstance(inner, dict):
            raise MappingError(f"webhook body: event-data is {type(inner).__name__}, not an object")
        return inner
    return data


def event_id_of(native_id: str, timestamp: datetime) -> str:
    """``<Mailgun id>/<UTC day>``: Mailgun ids are unique only within a day."""
    return f"{native_id}/{timestamp.date().isoformat()}"


_NUMBERS = (int, float)  # a tuple built once; `int | float` in the call built a union per call


def _text(value: Any) -> str | None:
    """A string, or a number as text; anything else (objects, lists, booleans) is absent."""
    if isinstance(value, str):
        return value
    if isinstance(value, _NUMBERS) and not isinstance(value, bool):
        return str(value)
    return None


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


class Mapper:
    """Maps Mailgun events of one account; ``user_id_variable`` names the user variable holding
    the customer id (``MSGEVENTS_MAILGUN_USER_ID_VARIABLE``)."""

    def __init__(self, provider: str, account: str, user_id_variable: str = "user_id") -> None:
        self.provider = provider
        self.account = account
        self.user_id_variable = user_id_variable

    def __call__(self, data: Mapping[str, Any]) -> list[msgevents.Event] | NotModelled:
        if not isinstance(data, dict):
            raise MappingError(f"a Mailgun event is a JSON object, not {type(data).__name__}")
        item = event_data(data)
        native = item.get("event")
        if not isinstance(native, str) or not native.strip():
            raise MappingError(f"field event: {native!r} is not a Mailgun event type")
        native = native.strip().lower()
        event_type = EVENT_TYPES.get(native)
        native_type = native
        if event_type is None:
            if native != "failed":
                return NotModelled(native)
            severity = item.get("severity")
            reason = item.get("reason")
            if isinstance(reason, str) and reason in SUPPRESSED_REASONS:
                return NotModelled(f"failed:{reason}")
            event_type = SEVERITIES.get(severity) if isinstance(severity, str) else None
            if event_type is None:
                raise MappingError(
                    f"failed event: severity {severity!r} is neither 'temporary' nor 'permanent'"
                )
            native_type = f"failed:{severity}"
        return [self._event(item, event_type, native_type)]

    def _event(self, item: Mapping[str, Any], event_type: EventType, native_type: str) -> msgevents.Event:
        raw_time = item.get("timestamp")
        if raw_time is None or isinstance(raw_time, bool):
            raise MappingError(f"field timestamp: {raw_time!r} is not epoch seconds")
        try:
            timestamp = parse_epoch_seconds(raw_time)
        except (TimestampError, TypeError, ValueError) as exc:
            raise MappingError(f"field timestamp: {exc}") from None
        variables = _dict(item.get("user-variables"))
        user_id = _text(variables.get(self.user_id_variable))
        recipient = _text(item.get("recipient"))
        if user_id is None and not (recipient and recipient.strip()):
            raise MappingError(
                f"no identity: user-variables[{self.user_id_variable!r}] and recipient are both empty"
            )
        message = _dict(item.get("message"))
        message_id = _text(_dict(message.get("headers")).get("message-id"))
        campaign_id = None
        campaigns = item.get("campaigns")
        if isinstance(campaigns, list) and campaigns:
            campaign_id = _text(_dict(campaigns[0]).get("id"))
        if campaign_id is None:
            campaign_id = _text(variables.get("campaign_id"))
        tags = item.get("tags")
        tag = _text(tags[0]) if isinstance(tags, list) and tags else None
        client_info = item.get("client-info")
        is_machine = None
        if isinstance(client_info, dict) and "bot" in client_info:
            is_machine = bool(client_info.get("bot"))
        native_id = _text(item.get("id"))
        return _validate(
            {
                "user_id": user_id,
                "email": recipient if user_id is None else None,
                "event": event_type,
                "timestamp": timestamp,
                "channel": "Email",
                "type": tag,
                "url": _text(item.get("url")) if event_type is EventType.CLICKED else None,
                "campaign_id": campaign_id,
                "message_id": message_id,
                "provider": self.provider,
                "account": self.account,
                "event_id": event_id_of(native_id.strip(), timestamp)
                if native_id and native_id.strip()
                else "",
                "native_type": native_type,
                "is_machine": is_machine,
            }
        )
