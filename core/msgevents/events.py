"""The canonical outbound-message event: eight event types, one model.

Every provider maps its native records to :class:`Event`; every sink reads
only :class:`Event`. Event-type strings are spelled exactly as CrossEngage
names them.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from operator import itemgetter
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from msgevents.timestamps import TimestampError, parse_iso8601, to_epoch_millis

__all__ = ["Event", "EventType", "compute_event_id"]


class EventType(StrEnum):
    """The eight outbound event types, with CrossEngage's exact spelling."""

    SENT = "Message Sent"
    DELIVERED = "Message Delivered"
    VIEWED = "Message Viewed"
    CLICKED = "Message Clicked"
    UNSUBSCRIBED = "Message Unsubscribed"
    SOFT_BOUNCED = "Message soft_bounced"
    HARD_BOUNCED = "Message hard_bounced"
    MARKED_AS_SPAM = "Message marked_as_spam"


_OPTIONAL_TEXT = ("channel", "type", "url", "campaign_id", "message_id", "native_type")
_TEXT = ("user_id", "email", "phone", "provider", "account", "event_id", *_OPTIONAL_TEXT)


def _encodable(text: str) -> bool:
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


_texts = itemgetter(*_TEXT)
_HAS_SPACE = re.compile(r"\s").search
_E164 = re.compile(r"\+[1-9][0-9]{6,14}").fullmatch
_blake2b = hashlib.blake2b
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)


def compute_event_id(
    provider: str,
    account: str,
    event: str,
    identity: str,
    message_id: str | None,
    url: str | None,
    timestamp: datetime,
) -> str:
    """The deterministic id of an event without a provider-native identity.

    A hash of (provider, account, event, user_id or email, message_id, url,
    timestamp as integer epoch milliseconds) over normalised strings: stripped,
    e-mail addresses lower-cased. The same native event gives the same id
    whether it came from an API page or an export file.
    """
    identity = identity.strip()
    if "@" in identity:
        identity = identity.lower()
    # to_epoch_millis raises on a naive datetime; the subtraction is the fast path
    millis = to_epoch_millis(timestamp) if timestamp.tzinfo is None else (timestamp - _EPOCH) // _MILLISECOND
    text = (
        f"{provider.strip()}\x1f{account.strip()}\x1f{event!s}\x1f{identity}\x1f"
        f"{(message_id or '').strip()}\x1f{(url or '').strip()}\x1f{millis}"
    )
    return _blake2b(text.encode(), digest_size=16).hexdigest()


class Event(BaseModel):
    """One outbound-message event.

    Fields sent to CrossEngage: ``user_id`` (or ``email`` when no user id can be
    resolved), ``event``, ``timestamp`` and the optional properties ``channel``,
    ``type``, ``url``, ``campaign_id``, ``message_id``.

    Internal fields, never sent: ``phone`` (E.164, for the identity step:
    CrossEngage cannot key a customer by phone), ``provider`` (canonical name),
    ``account`` (provider account, empty when unknown), ``event_id``
    (deterministic; computed when not given), ``native_type``, ``is_machine``
    (machine opens, scanner clicks) and ``receipt_time`` (the provider gave no event
    time, so ``timestamp`` is when the record was received: two receipts of one event
    differ in it, so it is no part of the event's identity — e.g. a Twilio status
    callback without ``RawDlrDoneDate``).

    An event has ``user_id``, ``email`` or ``phone``; the identity step
    (:mod:`msgevents.identity`) makes sure every event reaching a sink has
    ``user_id`` or ``email``.

    Blank strings count as absent. ``timestamp`` must be timezone-aware (or an
    ISO 8601 string with an offset) and is stored in UTC.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)
    # Not a field: msgevents.sink.ledger_key caches the event's ledger key here (the event is
    # frozen). Copies and unpickled events start without it and compute it again.
    __slots__ = ("_ledger_key",)

    user_id: str | None = None
    email: str | None = None
    event: EventType
    timestamp: datetime
    channel: str | None = None
    type: str | None = None
    url: str | None = None
    campaign_id: str | None = None
    message_id: str | None = None

    phone: str | None = None
    provider: str
    account: str = ""
    event_id: str = ""
    native_type: str | None = None
    is_machine: bool | None = None
    receipt_time: bool | None = None

    #: Properties CrossEngage receives beside the identity, event and timestamp, in output order.
    PROPERTIES: ClassVar[tuple[str, ...]] = ("channel", "type", "url", "campaign_id", "message_id")

    @field_validator("timestamp", mode="before")
    @classmethod
    def _aware_utc(cls, value: Any) -> datetime:
        if value.__class__ is datetime and value.tzinfo is UTC:  # what mappings mostly pass
            return value
        if isinstance(value, datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(
                    f"naive datetime {value.isoformat()!r} has no timezone; "
                    "times are never guessed: attach the provider's zone"
                )
            return value if value.tzinfo is UTC else value.astimezone(UTC)
        if isinstance(value, str):
            try:
                return parse_iso8601(value)
            except TimestampError as exc:
                raise ValueError(str(exc)) from None
        raise ValueError(
            f"expected an aware datetime or ISO 8601 string, got {value!r} "
            f"({type(value).__name__}); epoch numbers go through "
            "msgevents.timestamps.parse_epoch_seconds / parse_epoch_millis"
        )

    @model_validator(mode="after")
    def _normalise(self) -> Event:
        fields = self.__dict__
        for name in _OPTIONAL_TEXT:
            value = fields[name]
            if value is not None:
                stripped = value.strip()  # the same object when there is nothing to strip
                if stripped is not value or not stripped:
                    fields[name] = stripped or None
        user_id = fields["user_id"]
        if user_id is not None:
            user_id = fields["user_id"] = user_id.strip() or None
        email = fields["email"]
        if email is not None:
            email = fields["email"] = email.strip() or None
            if email is not None:
                local, _at, domain = email.rpartition("@")
                if not local or not domain or _HAS_SPACE(email):
                    raise ValueError(f"email {email!r} is not an e-mail address")
        phone = fields["phone"]
        if phone is not None:
            phone = fields["phone"] = phone.strip() or None
            if phone is not None and not _E164(phone):
                raise ValueError(
                    f"phone {phone!r} is not in E.164 form (+ and 7 to 15 digits); "
                    "normalise it with msgevents.identity.normalise_phone"
                )
        if user_id is None and email is None and phone is None:
            raise ValueError(
                "event has no identity: user_id, email and phone are all empty (set one of them)"
            )
        provider = fields["provider"]
        if not provider.strip():
            raise ValueError("provider must not be empty")
        try:  # every text must be sendable: JSON writers refuse lone surrogates ("\ud800"); ask one
            orjson.dumps(_texts(fields))
        except orjson.JSONEncodeError:
            bad = next(n for n in _TEXT if fields[n] is not None and not _encodable(fields[n]))
            raise ValueError(
                f"{bad} {fields[bad]!r} holds a character that is not valid Unicode text"
            ) from None
        if not fields["event_id"].strip():
            fields["event_id"] = compute_event_id(
                provider,
                fields["account"],
                fields["event"],
                user_id or email or phone or "",
                fields["message_id"],
                fields["url"],
                fields["timestamp"],
            )
        _SET_LEDGER_KEY(self, None)
        return self

    @property
    def identity(self) -> tuple[str, str]:
        """``("id", user_id)`` or ``("email", email)``: the CrossEngage user key."""
        if self.user_id is not None:
            return ("id", self.user_id)
        return ("email", self.email or "")


_LEDGER_KEY_SLOT = Event.__dict__["_ledger_key"]
_SET_LEDGER_KEY = _LEDGER_KEY_SLOT.__set__
