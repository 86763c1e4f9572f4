"""Pure mapping of Amazon SES events to canonical events.

One native record is one of:

- an **event-publishing record** (configuration-set event destination; what
  Firehose writes to S3 and SNS carries): ``{"eventType": "Bounce", "mail": {…},
  "bounce": {…}}``;
- a **feedback notification** of an identity (no configuration set): the same
  shape with ``notificationType`` instead of ``eventType`` (Bounce, Complaint,
  Delivery; no tags);
- an **SNS envelope** of either: ``{"Type": "Notification", "Message": "<the SES
  record as a JSON string>", …}``. The envelope is unwrapped here, so a record
  gives the same events (and event ids) wrapped or not.

One record fans out to one event per affected recipient: the event object's
recipient list (``delivery.recipients``, ``bounce.bouncedRecipients``,
``complaint.complainedRecipients``), else ``mail.destination`` (Send, Open,
Click, Subscription). The event time is the event object's ``timestamp``;
Send has none and uses ``mail.timestamp``.

Public documentation of the format:
https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html
https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from msgevents import Event, EventType, MappingError, NotModelled
from msgevents.timestamps import TimestampError, parse_iso8601

__all__ = ["CHANNEL", "PROVIDER", "SUPPRESSED", "SesMapper", "unwrap_sns"]
_validate = Event.model_validate

PROVIDER = "ses"
CHANNEL = "Email"
#: Permanent bounce subtypes that are a send refused because of an earlier event
#: (the address is on a suppression list): counting them would repeat that event.
SUPPRESSED = frozenset({"Suppressed", "OnAccountSuppressionList"})
#: SNS envelope types that carry no SES event.
SNS_HOUSEKEEPING = frozenset({"SubscriptionConfirmation", "UnsubscribeConfirmation"})


def unwrap_sns(data: dict[str, Any]) -> dict[str, Any] | NotModelled:
    """The SES record inside an SNS envelope (``Type`` present), or ``data`` itself."""
    kind = data.get("Type")
    if kind is None:
        return data
    if isinstance(kind, str) and kind in SNS_HOUSEKEEPING:  # a JSON list or object is unhashable
        return NotModelled(f"SNS {kind}")
    if kind != "Notification":
        raise MappingError(f"SNS envelope of Type {kind!r}: expected 'Notification'")
    message = data.get("Message")
    if not isinstance(message, str):
        raise MappingError(f"SNS Notification: 'Message' is {type(message).__name__}, expected a JSON string")
    try:
        inner = json.loads(message)
    except ValueError as exc:
        raise MappingError(f"SNS Notification: 'Message' is not JSON ({exc})") from None
    if not isinstance(inner, dict):
        raise MappingError(f"SNS Notification: 'Message' holds a {type(inner).__name__}, not an SES event")
    return inner


def _object(record: dict[str, Any], name: str) -> dict[str, Any]:
    value = record.get(name)
    if not isinstance(value, dict):
        shown = "missing" if value is None else f"a {type(value).__name__}"
        raise MappingError(f"'{name}' is {shown}, expected an object")
    return value


def _timestamp(obj: dict[str, Any], where: str) -> datetime:
    value = obj.get("timestamp")
    if value is None:
        raise MappingError(f"no {where}.timestamp")
    try:
        return parse_iso8601(value)
    except (TimestampError, TypeError) as exc:
        raise MappingError(f"{where}.timestamp: {exc}") from None


def _address(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{where}: {value!r} is not an e-mail address")
    value = value.strip()
    if "<" in value:  # "Name <addr@example.com>"
        value = parseaddr(value)[1] or value
    return value


def _addresses(values: Any, where: str, key: str | None = None) -> list[str]:
    """The addresses of a recipient list (strings, or objects with ``key``), in order, once each."""
    if values.__class__ is list and len(values) == 1:  # the common case: one plain address
        item = values[0]
        if key is not None:
            item = item.get(key) if item.__class__ is dict else None
        if item.__class__ is str and item and "<" not in item and item.strip() is item:
            return [item]
    if not isinstance(values, list) or not values:
        raise MappingError(f"no recipients in {where}")
    seen: set[str] = set()
    result = []
    for index, item in enumerate(values):
        if key is not None:
            if not isinstance(item, dict):
                raise MappingError(f"{where}[{index}] is not an object")
            item = item.get(key)
        address = _address(item, f"{where}[{index}]" + (f".{key}" if key else ""))
        folded = address.casefold()
        if folded not in seen:
            seen.add(folded)
            result.append(address)
    return result


def _first_tag(tags: Any, name: str) -> str | None:
    """The first value of message tag ``name`` in ``mail.tags`` (tag values are lists of strings)."""
    if not isinstance(tags, dict):
        return None
    values = tags.get(name)
    if isinstance(values, list):
        values = values[0] if values else None
    if isinstance(values, str | int) and not isinstance(values, bool):
        return str(values).strip() or None
    return None


@dataclass(frozen=True, slots=True)
class _Occurrence:
    """What a record says happened: one event type, when, to whom."""

    event: EventType
    timestamp: datetime
    recipients: list[str]
    url: str | None = None


def _send(record: dict[str, Any], mail: dict[str, Any]) -> _Occurrence:
    return _Occurrence(EventType.SENT, _timestamp(mail, "mail"), _destination(mail))


def _destination(mail: dict[str, Any]) -> list[str]:
    return _addresses(mail.get("destination"), "mail.destination")


def _delivery(record: dict[str, Any], mail: dict[str, Any]) -> _Occurrence:
    delivery = _object(record, "delivery")
    recipients = _addresses(delivery.get("recipients"), "delivery.recipients")
    return _Occurrence(EventType.DELIVERED, _timestamp(delivery, "delivery"), recipients)


def _open(record: dict[str, Any], mail: dict[str, Any]) -> _Occurrence:
    opened = _object(record, "open")
    return _Occurrence(EventType.VIEWED, _timestamp(opened, "open"), _destination(mail))


def _click(record: dict[str, Any], mail: dict[str, Any]) -> _Occurrence:
    click = _object(record, "click")
    link = click.get("link")
    if not isinstance(link, str) or not link.strip():
        raise MappingError(f"click.link is {link!r}, expected the clicked URL")
    return _Occurrence(EventType.CLICKED, _timestamp(click, "click"), _destination(mail), url=link)


def _subscription(record: dict[str, Any], mail: dict[str, Any]) -> _Occurrence | NotModelled:
    subscription = _object(record, "subscription")
    preferences = subscription.get("newTopicPreferences")
    if not isinstance(preferences, dict):
        preferences = {}
    topics = preferences.get("topicSubscriptionStatus")
    opted_out = preferences.get("unsubscribeAll") is True or (
        isinstance(topics, list)
        and any(isinstance(t, dict) and t.get("subscriptionStatus") == "OptOut" for t in topics)
    )
    if not opted_out:
        return NotModelled("Subscription opt-in")
    timestamp = _timestamp(subscription, "subscription")
    return _Occurrence(EventType.UNSUBSCRIBED, timestamp, _destination(mail))


def _bounce(record: dict[str, Any], mail: dict[str, Any]) -> _Occurrence | NotModelled:
    bounce = _object(record, "bounce")
    kind = bounce.get("bounceType")
    subtype = bounce.get("bounceSubType")
    if kind == "Undetermined":
        return NotModelled("Bounce Undetermined")
    if kind == "Transient":
        event = EventType.SOFT_BOUNCED
    elif kind == "Permanent":
        if subtype in SUPPRESSED:
            return NotModelled(f"Bounce Permanent {subtype}")
        event = EventType.HARD_BOUNCED
    else:
        raise MappingError(f"bounce.bounceType is {kind!r}, expected Transient, Permanent or Undetermined")
    recipients = _addresses(bounce.get("bouncedRecipients"), "bounce.bouncedRecipients", "emailAddress")
    return _Occurrence(event, _timestamp(bounce, "bounce"), recipients)


def _complaint(record: dict[str, Any], mail: dict[str, Any]) -> _Occurrence | NotModelled:
    complaint = _object(record, "complaint")
    if complaint.get("complaintFeedbackType") == "not-spam":
        return NotModelled("Complaint not-spam")
    if complaint.get("complaintSubType") in SUPPRESSED:
        return NotModelled(f"Complaint {complaint['complaintSubType']}")
    recipients = _addresses(
        complaint.get("complainedRecipients"), "complaint.complainedRecipients", "emailAddress"
    )
    return _Occurrence(EventType.MARKED_AS_SPAM, _timestamp(complaint, "complaint"), recipients)


_Reader = Callable[[dict[str, Any], dict[str, Any]], "_Occurrence | NotModelled"]
_READERS: dict[str, _Reader] = {
    "Send": _send,
    "Delivery": _delivery,
    "Open": _open,
    "Click": _click,
    "Subscription": _subscription,
    "Bounce": _bounce,
    "Complaint": _complaint,
}


class SesMapper:
    """Maps one native SES record (any of the three shapes) to its events.

    ``user_id_tag`` and ``campaign_id_tag`` name the message tags carrying the
    CrossEngage user id and the campaign id; ``account`` is the provider's account.
    """

    def __init__(self, user_id_tag: str = "user_id", campaign_id_tag: str = "campaign_id", account: str = ""):
        self.user_id_tag = user_id_tag
        self.campaign_id_tag = campaign_id_tag
        self.account = account

    def __call__(self, data: dict[str, Any]) -> list[Event] | NotModelled:
        record = unwrap_sns(data)
        if isinstance(record, NotModelled):
            return record
        kind = record.get("eventType", record.get("notificationType"))
        if not isinstance(kind, str) or not kind.strip():
            raise MappingError(f"no eventType or notificationType (got {kind!r}): not an SES event")
        reader = _READERS.get(kind)
        if reader is None:  # Reject, Rendering Failure, DeliveryDelay, Received, types SES may add
            return NotModelled(kind)
        mail = _object(record, "mail")
        occurrence = reader(record, mail)
        if isinstance(occurrence, NotModelled):
            return occurrence
        return self._events(kind, mail, occurrence)

    def _events(self, kind: str, mail: dict[str, Any], occurrence: _Occurrence) -> list[Event]:
        tags = mail.get("tags")
        user_id = _first_tag(tags, self.user_id_tag)
        message_id = mail.get("messageId")
        fields = {
            "user_id": user_id,
            "email": None,
            "event": occurrence.event,
            "timestamp": occurrence.timestamp,
            "channel": CHANNEL,
            "url": occurrence.url,
            "campaign_id": _first_tag(tags, self.campaign_id_tag),
            "message_id": message_id if isinstance(message_id, str | int) else None,
            "provider": PROVIDER,
            "account": self.account,
            "native_type": kind,
        }
        if user_id is not None:  # the tag names the customer: one event, whoever received it
            return [_validate(fields)]
        events = []
        for address in occurrence.recipients:
            fields["email"] = address
            events.append(_validate(fields))
        return events
