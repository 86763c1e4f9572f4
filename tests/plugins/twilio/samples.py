"""Twilio SMS status callbacks as a dump holds them: the form parameters Twilio POSTs (trimmed
from the examples in Twilio's "Track the Message Status of Outbound Messages" guide and the
RawDlrDoneDate changelog) plus ``received_at``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

SID = "SM0000000000000000000000000000001"
ACCOUNT = "AC00000000000000000000000000000000"
SERVICE = "MG00000000000000000000000000000000"
TO = "+15558675310"
RECEIVED = "2025-02-14T15:30:07.412Z"

#: Every MessageStatus value of the Message resource (twilio-openapi ``message_enum_status``).
STATUSES = (
    "queued",
    "sending",
    "sent",
    "failed",
    "delivered",
    "undelivered",
    "receiving",
    "received",
    "accepted",
    "scheduled",
    "read",
    "partially_delivered",
    "canceled",
)


def callback(status: str, *, received_at: Any = RECEIVED, **extra: Any) -> dict[str, Any]:
    """A status callback of message ``SID`` with ``status``, as one dump line."""
    params = {
        "MessageSid": SID,
        "SmsSid": SID,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": ACCOUNT,
        "MessagingServiceSid": SERVICE,
        "From": "+15017122661",
        "To": TO,
        "ApiVersion": "2010-04-01",
        **extra,
    }
    if received_at is not None:
        params["received_at"] = received_at
    return params


def as_body(record: dict[str, Any]) -> dict[str, Any]:
    """The same callback stored as its raw form-encoded body."""
    params = {k: v for k, v in record.items() if k != "received_at"}
    line = {"body": urlencode(params)}
    if "received_at" in record:
        line["received_at"] = record["received_at"]
    return line
