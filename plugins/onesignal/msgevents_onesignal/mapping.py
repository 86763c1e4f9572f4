"""Pure mapping of OneSignal Event Streams bodies to canonical events.

An Event Stream POSTs one JSON body per message event; the body is a template
the stream's owner writes with OneSignal's Liquid fields. A native record is one
such rendered body, in any of the shapes OneSignal's documentation shows, keyed
by the Liquid names:

- flat dotted keys: ``{"event.kind": …, "event.id": …, "message.id": …}``;
- grouped dotted keys: ``{"Event Data": {"event.kind": …}, "Message Data": {"message.id": …}}``;
- nested objects: ``{"event": {"kind": …, "id": …}, "message": {"id": …}, "user": {…}}``.

:func:`body_fields` reads all three into one flat ``{"event.kind": …}`` view.

- ``event.kind`` selects the event and the channel (``message.push.*`` → ``Push``,
  ``message.email.*`` → ``Email``, ``message.sms.*`` → ``SMS``); in-app, Live
  Activity and suppressed-email kinds, and kinds OneSignal adds later, are not
  modelled (counted by kind).
- A failed message is a hard bounce when its ``event.data.failure_reason``
  contains one of the hard-failure texts (a setting; by default the push
  services' words for a token that no longer exists), else a soft bounce;
  ``message.email.bounced`` (a permanent error, says OneSignal) is always hard.
- ``event_id`` = ``event.id``, OneSignal's UUID for the event: the same event
  from a webhook and from a dump is one event.
- Time: ``event.datetime`` (ISO 8601, milliseconds), else ``event.timestamp``
  (epoch seconds); neither is an error, never guessed.
- Identity: ``event.external_id`` (else ``user.external_id``) is the customer id;
  without it an e-mail event is keyed by its address and an SMS event by its phone
  number (``user.subscription.subscription_token``, through the core's identity
  step); a push event without it cannot be keyed and is an error.

Fields: https://documentation.onesignal.com/docs/en/event-streams-data
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from msgevents import Event, EventType, MappingError, NotModelled
from msgevents.identity import InvalidAddress, normalise_phone
from msgevents.timestamps import TimestampError, parse_epoch_seconds, parse_iso8601

__all__ = ["CHANNELS", "FAILED", "KINDS", "PROVIDER", "OneSignalMapper", "body_fields", "event_time"]

PROVIDER = "onesignal"
#: Stands for "soft or hard bounce, by the failure reason" in :data:`KINDS`.
FAILED = "failed"
CHANNELS = {"push": "Push", "email": "Email", "sms": "SMS"}
#: Modelled kinds: ``message.<channel>.<action>`` → canonical event (or :data:`FAILED`).
KINDS: dict[str, EventType | str] = {
    "message.push.sent": EventType.SENT,
    "message.push.received": EventType.DELIVERED,
    "message.push.clicked": EventType.CLICKED,
    "message.push.unsubscribed": EventType.UNSUBSCRIBED,
    "message.push.failed": FAILED,
    "message.email.sent": EventType.SENT,
    "message.email.received": EventType.DELIVERED,
    "message.email.opened": EventType.VIEWED,
    "message.email.clicked": EventType.CLICKED,
    "message.email.unsubscribed": EventType.UNSUBSCRIBED,
    "message.email.reported_as_spam": EventType.MARKED_AS_SPAM,
    "message.email.bounced": EventType.HARD_BOUNCED,
    "message.email.failed": FAILED,
    "message.sms.sent": EventType.SENT,
    "message.sms.delivered": EventType.DELIVERED,
    "message.sms.unsubscribed": EventType.UNSUBSCRIBED,
    "message.sms.failed": FAILED,
    "message.sms.undelivered": FAILED,
}
# subscription types whose click opens message.web_url rather than message.app_url
_BROWSERS = frozenset({"chrome", "chromeweb", "firefox", "safari", "safariweb", "edge", "opera", "web"})
_MAX_DEPTH = 6


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _flatten_into(out: dict[str, Any], value: Mapping[Any, Any], prefix: str, depth: int) -> None:
    for key, item in value.items():
        key = str(key)
        # a key with a dot is a full Liquid name ("event.kind" under "Event Data"); else a path part
        name = key if "." in key or not prefix else f"{prefix}.{key}"
        if isinstance(item, dict):
            if depth < _MAX_DEPTH:
                _flatten_into(out, item, name, depth + 1)
        elif name not in out or _blank(out[name]):
            out[name] = item


def body_fields(body: Mapping[str, Any]) -> Mapping[str, Any]:
    """The body's values by their Liquid names (``event.kind``…), whichever shape it has.

    When a name occurs twice, the first non-blank value wins.
    """
    for value in body.values():
        if type(value) is dict:
            break
    else:  # flat already (the template this plugin documents): nothing to merge
        return body
    out: dict[str, Any] = {}
    _flatten_into(out, body, "", 0)
    return out


def _text(fields: Mapping[str, Any], name: str) -> str | None:
    """The non-blank text of ``name`` (a string or an integer), else ``None``."""
    value = fields.get(name)
    if value.__class__ is str:  # what a rendered template mostly holds
        return value.strip() or None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str | int):
        return str(value).strip() or None
    raise MappingError(f"{name} is a JSON {type(value).__name__}, expected text")


def event_time(fields: Mapping[str, Any]) -> datetime:
    """The event's time: ``event.datetime``, else ``event.timestamp``; :class:`MappingError` if neither."""
    iso = fields.get("event.datetime")
    if not _blank(iso):
        if not isinstance(iso, str):
            raise MappingError(f"event.datetime {iso!r} is not an ISO 8601 text")
        try:
            return parse_iso8601(iso)
        except TimestampError as exc:
            raise MappingError(f"event.datetime: {exc}") from None
    epoch = fields.get("event.timestamp")
    if _blank(epoch):
        raise MappingError("no event time: event.datetime and event.timestamp are both missing or empty")
    try:
        return parse_epoch_seconds(epoch)
    except TimestampError as exc:
        raise MappingError(f"event.timestamp: {exc}") from None


def _click_url(fields: Mapping[str, Any]) -> str | None:
    """The launch URL a push click opened: ``message.url``, else the web or app URL by device."""
    url = _text(fields, "message.url")
    if url is not None:
        return url
    app, web = _text(fields, "message.app_url"), _text(fields, "message.web_url")
    device = (_text(fields, "event.subscription_device_type") or "").casefold()
    if device:
        return web if device in _BROWSERS else app
    return web if app is None else app if web is None else None  # only one of them: that one


class OneSignalMapper:
    """Maps one Event Streams body to its event; ``hard_reasons`` are case-folded texts of
    failure reasons that make a failed message a hard bounce."""

    def __init__(self, hard_reasons: tuple[str, ...], account: str = ""):
        self.hard_reasons = hard_reasons
        self.account = account

    def _failure(self, fields: Mapping[str, Any]) -> EventType:
        reason = (_text(fields, "event.data.failure_reason") or "").casefold()
        hard = bool(reason) and any(text in reason for text in self.hard_reasons)
        return EventType.HARD_BOUNCED if hard else EventType.SOFT_BOUNCED

    def __call__(self, data: Mapping[str, Any]) -> list[Event] | NotModelled:
        fields = body_fields(data)
        kind = _text(fields, "event.kind")
        if kind is None:
            raise MappingError("no event.kind: not a OneSignal Event Streams body (see the plugin README)")
        kind = kind.lower()
        mapped = KINDS.get(kind)
        if mapped is None:  # in-app, Live Activity, email suppressed, kinds added later
            return NotModelled(kind)
        channel = CHANNELS[kind.split(".")[1]]
        event_type = self._failure(fields) if mapped == FAILED else mapped
        event_id = _text(fields, "event.id")
        if event_id is None:
            raise MappingError("no event.id: OneSignal's id of the event is its identity here")
        identity = self._identity(fields, channel)
        timestamp = event_time(fields)
        url = _click_url(fields) if event_type is EventType.CLICKED and channel == "Push" else None
        try:
            event = Event(
                **identity,
                event=event_type,
                timestamp=timestamp,
                channel=channel,
                url=url,
                message_id=_text(fields, "message.id"),
                campaign_id=_text(fields, "message.template_id"),
                provider=PROVIDER,
                account=self.account,
                event_id=event_id.lower(),
                native_type=kind,
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in exc.errors()
            )
            raise MappingError(f"invalid event: {problems}") from None
        return [event]

    def _identity(self, fields: Mapping[str, Any], channel: str) -> dict[str, str]:
        user_id = _text(fields, "event.external_id") or _text(fields, "user.external_id")
        if user_id is not None:
            return {"user_id": user_id}
        token = _text(fields, "user.subscription.subscription_token")
        if channel == "Email" and token is not None:
            return {"email": token}
        if channel == "SMS" and token is not None:
            try:
                return {"phone": normalise_phone(token)}
            except InvalidAddress as exc:
                raise MappingError(f"user.subscription.subscription_token: {exc}") from None
        where = "" if channel == "Push" else " nor user.subscription.subscription_token"
        raise MappingError(
            f"no event.external_id (nor user.external_id{where}): a {channel} event needs the "
            "customer's External ID to reach CrossEngage"
        )
