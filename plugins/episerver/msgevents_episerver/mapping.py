"""Pure mapping of Optimizely records to canonical events (the row layout: the plugin README).

Closed-loop rows (SOAP pages and export files) arrive as dicts of column name →
string; REST unsubscribes as the JSON element. Everything that depends on the
settings (event type per stream, identity rule, timestamp parser, channel,
type) is decided once in :class:`Mapper`, so mapping a record is a few dict
look-ups and one :class:`msgevents.Event`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgevents
from msgevents import EventType, MappingError, NotModelled
from msgevents.events import compute_event_id
from msgevents.timestamps import (
    TimestampError,
    parse_epoch_millis,
    parse_epoch_seconds,
    parse_iso8601,
    parse_with_format,
)
from msgevents_episerver.settings import COLUMN_NAMES, EpiserverSettings

__all__ = ["CAMPAIGN_KEY", "LINK_ID_PREFIX", "PROVIDER", "RESPONSE_CATEGORIES", "STREAM_EVENTS", "Mapper"]

PROVIDER = "episerver"
#: The record entry holding the Smart Campaign id the provider looked up before mapping
#: (``CAMPAIGN_ID=smart_campaign``). No export-file header or column setting can produce
#: it: header names lose leading underscores, column settings refuse unknown names.
CAMPAIGN_KEY = "_smart_campaign_id"
#: What stands in the url's place in the event id of a click without url: its link id, so
#: clicks of one recipient on two links at one millisecond stay two events.
LINK_ID_PREFIX = "optimizely-link-id:"
#: The event of every closed-loop stream but ``responses``.
STREAM_EVENTS = {
    "recipients": EventType.SENT,
    "opens": EventType.VIEWED,
    "clicks": EventType.CLICKED,
    "unsubscribes": EventType.UNSUBSCRIBED,
}
#: Response categories we model; others (autoresponder, unknown, custom) are not modelled.
RESPONSE_CATEGORIES = {
    "hardbounce": EventType.HARD_BOUNCED,
    "softbounce": EventType.SOFT_BOUNCED,
}

Identity = Callable[[str], tuple[str | None, str | None]]


def _auto(recipient: str) -> tuple[str | None, str | None]:
    return (None, recipient) if "@" in recipient else (recipient, None)


def _user_id(recipient: str) -> tuple[str | None, str | None]:
    return recipient, None


def _email(recipient: str) -> tuple[str | None, str | None]:
    if "@" not in recipient:
        raise MappingError(
            f"column recipient_id: {recipient!r} is not an e-mail address "
            "(MSGEVENTS_EPISERVER_IDENTITY=email)"
        )
    return None, recipient


_IDENTITIES: dict[str, Identity] = {"auto": _auto, "user_id": _user_id, "email": _email}
_validate_event = msgevents.Event.model_validate


def _epoch_millis(value: str) -> datetime:
    # the fast path for plain digits; anything else (a 10,000-digit cell, "²") the core parses
    if len(value) < 19 and value.isascii() and value.isdigit():
        return parse_epoch_millis(int(value))
    return parse_epoch_millis(value)


def timestamp_parser(fmt: str) -> Callable[[str], datetime]:
    """The parser of the ``timestamp`` column for setting ``TIMESTAMP_FORMAT=fmt``."""
    if fmt == "epoch_millis":
        return _epoch_millis
    if fmt == "epoch_seconds":
        return parse_epoch_seconds
    if fmt == "iso8601":
        return parse_iso8601
    return lambda value: parse_with_format(value, fmt)


class Mapper:
    """Maps records of one account with one set of settings; call it with a record."""

    def __init__(self, settings: EpiserverSettings, account: str) -> None:
        self.account = account
        self._identity = _IDENTITIES[settings.identity]
        self._auto_identity = settings.identity == "auto"
        self._parse_time = timestamp_parser(settings.timestamp_format)
        self._channel = settings.channel
        self._type = settings.message_type
        # CAMPAIGN_ID=smart_campaign: the provider put the Smart Campaign id into CAMPAIGN_KEY
        self._smart_campaigns = settings.campaign_id == "smart_campaign"
        self._handlers: dict[str, Callable[[msgevents.Record], list[msgevents.Event] | NotModelled]]
        self._handlers = {
            "recipients": self._row,
            "opens": self._row,
            "clicks": self._row,
            "responses": self._response,
            "unsubscribes": self._unsubscribe,
        }

    def __call__(self, record: msgevents.Record) -> list[msgevents.Event] | NotModelled:
        handler = self._handlers.get(record.stream)
        if handler is None:
            raise MappingError(f"unknown Optimizely stream {record.stream!r}")
        try:
            return handler(record)
        except (AttributeError, TypeError):  # free on the fast path: rows are text
            problem = _not_text(record.data)
            if problem:  # a row holding numbers or lists (a hand-edited quarantine file, a processor)
                raise MappingError(problem) from None
            raise

    # -- closed-loop rows ------------------------------------------------------------------

    def _row(
        self,
        record: msgevents.Record,
        event: EventType | None = None,
        native_type: str | None = None,
    ) -> list[msgevents.Event]:
        data = record.data
        stream = record.stream
        recipient = (data.get("recipient_id") or "").strip()
        if not recipient:
            raise MappingError("column recipient_id is empty")
        if self._auto_identity:  # the default, inline: "@" makes it an e-mail address
            user_id, email = (None, recipient) if "@" in recipient else (recipient, None)
        else:
            user_id, email = self._identity(recipient)
        raw_time = (data.get("timestamp") or "").strip()
        if not raw_time:
            raise MappingError("column timestamp is empty")
        try:
            timestamp = self._parse_time(raw_time)
        except TimestampError as exc:
            raise MappingError(f"column timestamp: {exc}") from None
        mailing = (data.get("mailing_id") or "").strip()
        if mailing and not (mailing.isascii() and mailing.isdigit()):
            raise MappingError(
                f"column mailing_id: {mailing!r} is not a mailing id (a number); "
                f"check MSGEVENTS_EPISERVER_COLUMNS_{stream.upper()}"
            )
        if stream == "unsubscribes" and mailing == "0":
            mailing = ""  # a global unsubscribe
        url = ((data.get("link_url") or "").strip() or None) if stream == "clicks" else None
        mailing_id = mailing or None
        campaign_id = (self._smart_campaigns and mailing_id and data.get(CAMPAIGN_KEY)) or mailing_id
        event = event or STREAM_EVENTS[stream]
        event_id = ""  # the core's hash of the event's fields
        link_id = (data.get("link_id") or "").strip() if url is None and stream == "clicks" else ""
        if link_id:  # two URL-less clicks on two links are two events: the link id takes the url's place
            event_id = compute_event_id(
                PROVIDER, self.account, event, user_id or email or "", mailing_id, LINK_ID_PREFIX + link_id,
                timestamp,
            )  # fmt: skip
        # model_validate with a dict: the same validation as Event(**fields), minus a call layer
        return [
            _validate_event(
                {
                    "user_id": user_id,
                    "email": email,
                    "event": event,
                    "timestamp": timestamp,
                    "channel": self._channel,
                    "type": self._type,
                    "url": url,
                    "campaign_id": campaign_id,
                    "message_id": mailing_id,
                    "provider": PROVIDER,
                    "account": self.account,
                    "native_type": native_type or stream,
                    "event_id": event_id,
                }
            )
        ]

    def _response(self, record: msgevents.Record) -> list[msgevents.Event] | NotModelled:
        category = (record.data.get("category") or "").strip().lower()
        if not category:
            raise MappingError("column category is empty")
        event = RESPONSE_CATEGORIES.get(category)
        if event is None:
            return NotModelled(category)
        return self._row(record, event, category)

    # -- REST unsubscribes -----------------------------------------------------------------

    def _unsubscribe(self, record: msgevents.Record) -> list[msgevents.Event]:
        data = record.data
        if "recipientId" not in data:  # an export-file row
            return self._row(record)
        recipient = str(data.get("recipientId") or "").strip()
        if not recipient:
            raise MappingError("field recipientId is empty")
        user_id, email = self._identity(recipient)
        try:
            timestamp = parse_iso8601(data.get("created"))  # type: ignore[arg-type]
        except TimestampError as exc:
            raise MappingError(f"field created: {exc}") from None
        mailing = _rest_id(data.get("mailingId"))
        campaign = (self._smart_campaigns and mailing and data.get(CAMPAIGN_KEY)) or mailing
        return [
            msgevents.Event(
                user_id=user_id,
                email=email,
                event=EventType.UNSUBSCRIBED,
                timestamp=timestamp,
                channel=self._channel,
                type=self._type,
                campaign_id=campaign,
                message_id=mailing,
                provider=PROVIDER,
                account=self.account,
                native_type="unsubscribes",
            )
        ]


def _not_text(data: Any) -> str:
    """Why ``data`` is not a row of text cells, or ``""`` when it is one."""
    if not isinstance(data, dict):
        return f"the record is a {type(data).__name__}, not a row of columns"
    wrong = [
        f"{name} ({type(value).__name__} {value!r:.40})"
        for name, value in data.items()
        if name in COLUMN_NAMES and value is not None and not isinstance(value, str)
    ]
    return f"column(s) {', '.join(wrong)}: not text" if wrong else ""


def _rest_id(value: Any) -> str | None:
    """A REST mailing id as a string; absent or 0 (a global unsubscribe) → None."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text or text == "0":
        return None
    if not (text.isascii() and text.isdigit()):
        raise MappingError(f"field mailingId: {value!r} is not a mailing id (a number)")
    return text
