"""OneSignal Event Streams bodies as a stream renders them, in the three shapes OneSignal's pages
show: flat dotted Liquid names (the "Example event object" of the Event Stream data reference),
the same names grouped under "Event Data" / "Message Data" (the Event Streams page's example
body), and nested objects. Values follow the reference's rendered example (a push click).
"""

from __future__ import annotations

from typing import Any

EVENT_ID = "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
MESSAGE_ID = "f3c9cd09-10d7-4f59-b9bc-66e16607f1d5"
TEMPLATE_ID = "b2c3d4e5-f6a7-8901-bcde-f12345678901"
APP_ID = "5eb5a37e-b458-11e3-ac11-000c2940e62c"
DATETIME = "2024-02-21T23:45:15.228Z"
TIMESTAMP = 1708559115

KINDS = (
    "message.push.sent",
    "message.push.received",
    "message.push.clicked",
    "message.push.failed",
    "message.push.unsubscribed",
    "message.iam.impression",
    "message.iam.clicked",
    "message.iam.page_displayed",
    "message.email.sent",
    "message.email.received",
    "message.email.opened",
    "message.email.clicked",
    "message.email.unsubscribed",
    "message.email.reported_as_spam",
    "message.email.bounced",
    "message.email.failed",
    "message.email.suppressed",
    "message.sms.sent",
    "message.sms.failed",
    "message.sms.delivered",
    "message.sms.undelivered",
    "message.live_activity.sent",
    "message.live_activity.delivered",
    "message.live_activity.unsubscribed",
    "message.live_activity.failed",
    "message.live_activity.clicked",
)


def body(kind: str = "message.push.clicked", **overrides: Any) -> dict[str, Any]:
    """A flat rendered body (dotted names at the top level); ``overrides`` by Liquid name."""
    fields: dict[str, Any] = {
        "event.kind": kind,
        "event.id": EVENT_ID,
        "event.timestamp": TIMESTAMP,
        "event.datetime": DATETIME,
        "event.app_id": APP_ID,
        "event.subscription_device_type": "iOS",
        "event.subscription_id": "b2c3d4e5-f6a7-8901-bcde-f12345678901",
        "event.onesignal_id": "c3d4e5f6-a7b8-9012-cdef-123456789012",
        "event.external_id": "user_12345",
        "event.data.page_name": "",
        "event.data.page_id": "",
        "event.data.target_name": "",
        "event.data.target_id": "",
        "event.data.failure_reason": "",
        "message.id": MESSAGE_ID,
        "message.name": "weekly-promo-push",
        "message.template_id": TEMPLATE_ID,
        "message.url": "https://example.com/sale",
        "message.app_url": "",
        "message.web_url": "",
    }
    fields.update(overrides)
    return fields


def grouped(flat: dict[str, Any]) -> dict[str, Any]:
    """The same body grouped as the Event Streams page's example: {"Event Data": …, "Message Data": …}."""
    return {
        "Event Data": {k: v for k, v in flat.items() if not k.startswith("message.")},
        "Message Data": {k: v for k, v in flat.items() if k.startswith("message.")},
    }


def nested(flat: dict[str, Any]) -> dict[str, Any]:
    """The same body as nested objects: {"event": {"kind": …, "data": {…}}, "message": {…}}."""
    out: dict[str, Any] = {}
    for name, value in flat.items():
        *path, last = name.split(".")
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return out
