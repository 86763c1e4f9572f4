"""Pure mapping of Twilio SMS status callbacks to canonical events.

A native record is one line of a status-callback dump: the callback's form
parameters (``MessageSid``, ``MessageStatus``, ``To``, ``ErrorCode``,
``RawDlrDoneDate``, …) plus ``received_at``, the time the callback was
received — or ``received_at`` plus ``body``, the raw form-encoded request body.

- ``sent`` → Sent, ``delivered`` → Delivered; ``undelivered`` / ``failed`` →
  hard_bounced when ``ErrorCode`` is one of the hard codes (a setting), else
  soft_bounced; every other status (queued, accepted, sending, scheduled,
  read, canceled…) is not modelled.
- The callback carries no event time: ``RawDlrDoneDate`` (``YYMMDDhhmm``, read
  as UTC) when present, else ``received_at``; a record with neither is an error.
- Identity: the ``To`` phone number, resolved to a user id by the core's
  identity step (lookup file); ``message_id`` = ``MessageSid``;
  ``campaign_id`` = ``MessagingServiceSid``; channel ``SMS``.
- ``event_id`` = ``MessageSid:status``, so a callback Twilio sends again is
  the same event, even within one run.

Parameters: https://www.twilio.com/docs/messaging/guides/track-outbound-message-status
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from msgevents import Event, EventType, MappingError, NotModelled
from msgevents.identity import InvalidAddress, normalise_phone
from msgevents.timestamps import TimestampError, parse_epoch_seconds, parse_iso8601, parse_with_format

__all__ = ["CHANNEL", "PROVIDER", "TwilioMapper", "callback_parameters"]

PROVIDER = "twilio"
CHANNEL = "SMS"
_DLR_DATE = re.compile(r"\d{10}")
_FAILED = frozenset({"undelivered", "failed"})


def callback_parameters(data: dict[str, Any]) -> dict[str, Any]:
    """The callback's parameters: the record itself, or its form-encoded ``body`` parsed."""
    body = data.get("body")
    if body is None:
        return data
    if not isinstance(body, str):
        raise MappingError(f"'body' is a {type(body).__name__}, expected the form-encoded callback body")
    try:
        pairs = parse_qsl(body, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise MappingError(f"'body' is not a form-encoded callback body ({exc})") from None
    return {**dict(pairs), "received_at": data.get("received_at")}


def _text(params: dict[str, Any], *names: str) -> str | None:
    """The first non-blank value of ``names`` as text."""
    for name in names:
        value = params.get(name)
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, str | int):
            text = str(value).strip()
            if text:
                return text
    return None


def _timestamp(params: dict[str, Any]) -> tuple[datetime, bool]:
    """The event time, and whether it is only the time the callback was received."""
    done = _text(params, "RawDlrDoneDate")
    if done is not None:
        if not _DLR_DATE.fullmatch(done):
            raise MappingError(f"RawDlrDoneDate {done!r} is not YYMMDDhhmm")
        try:
            return parse_with_format(done, "%y%m%d%H%M"), False
        except TimestampError as exc:
            raise MappingError(f"RawDlrDoneDate: {exc}") from None
    received = params.get("received_at")
    if received is None or received == "":
        raise MappingError(
            "no event time: the callback has no RawDlrDoneDate and the dump no 'received_at' "
            "(the time the callback was received)"
        )
    try:
        if isinstance(received, int | float) and not isinstance(received, bool):
            return parse_epoch_seconds(received), True
        return parse_iso8601(received), True
    except (TimestampError, TypeError) as exc:
        raise MappingError(f"received_at: {exc}") from None


def _error_code(params: dict[str, Any]) -> str | None:
    code = _text(params, "ErrorCode")
    if code is None:
        return None
    return str(int(code)) if code.isdigit() else code


class TwilioMapper:
    """Maps one status-callback record to its event; ``hard_codes`` are the hard-bounce error codes."""

    def __init__(self, hard_codes: frozenset[str], account: str = ""):
        self.hard_codes = hard_codes
        self.account = account

    def __call__(self, data: dict[str, Any]) -> list[Event] | NotModelled:
        params = callback_parameters(data)
        status = _text(params, "MessageStatus", "SmsStatus")
        if status is None:
            raise MappingError("no MessageStatus (nor SmsStatus): not a Twilio message status callback")
        status = status.lower()
        if status == "sent":
            event = EventType.SENT
        elif status == "delivered":
            event = EventType.DELIVERED
        elif status in _FAILED:
            code = _error_code(params)
            hard = code is not None and code in self.hard_codes
            event = EventType.HARD_BOUNCED if hard else EventType.SOFT_BOUNCED
        else:  # queued, accepted, scheduled, sending, read, receiving, received, canceled…
            return NotModelled(status)
        sid = _text(params, "MessageSid", "SmsSid")
        if sid is None:
            raise MappingError("no MessageSid (nor SmsSid)")
        to = _text(params, "To")
        if to is None:
            raise MappingError("no 'To': the recipient's phone number identifies the customer")
        try:
            phone = normalise_phone(to)
        except InvalidAddress as exc:
            raise MappingError(f"To: {exc}") from None
        timestamp, receipt_time = _timestamp(params)
        return [
            Event(
                phone=phone,
                event=event,
                timestamp=timestamp,
                receipt_time=receipt_time or None,
                channel=CHANNEL,
                message_id=sid,
                campaign_id=_text(params, "MessagingServiceSid"),
                provider=PROVIDER,
                account=self.account,
                event_id=f"{sid}:{status}",
                native_type=status,
            )
        ]
