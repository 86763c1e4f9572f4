"""Native SES records, trimmed from the examples in the AWS documentation.

Event publishing (SNS and Firehose carry the same records):
https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-examples.html
Feedback notifications (``notificationType``):
https://docs.aws.amazon.com/ses/latest/dg/notification-examples.html
Tags ``user_id`` / ``campaign_id`` are illustrative additions where noted.
"""

from __future__ import annotations

import copy
import json
from typing import Any

MESSAGE_ID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
RECIPIENT = "recipient@example.com"


def mail(timestamp: str = "2017-08-05T00:40:02.012Z", **extra: Any) -> dict[str, Any]:
    return {
        "timestamp": timestamp,
        "source": "Sender Name <sender@example.com>",
        "sourceArn": "arn:aws:ses:us-east-1:123456789012:identity/sender@example.com",
        "sendingAccountId": "123456789012",
        "messageId": MESSAGE_ID,
        "destination": [RECIPIENT],
        "headersTruncated": False,
        "commonHeaders": {"from": ["Sender Name <sender@example.com>"], "to": [RECIPIENT]},
        "tags": {
            "ses:configuration-set": ["ConfigSet"],
            "ses:source-ip": ["192.0.2.0"],
            "ses:from-domain": ["example.com"],
            "ses:caller-identity": ["ses_user"],
        },
        **extra,
    }


BOUNCE_PERMANENT = {
    "eventType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [
            {
                "emailAddress": RECIPIENT,
                "action": "failed",
                "status": "5.1.1",
                "diagnosticCode": "smtp; 550 5.1.1 user unknown",
            }
        ],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "reportingMTA": "dsn; mta.example.com",
    },
    "mail": mail(),
}

BOUNCE_TRANSIENT = copy.deepcopy(BOUNCE_PERMANENT)
BOUNCE_TRANSIENT["bounce"].update(bounceType="Transient", bounceSubType="MailboxFull")
BOUNCE_TRANSIENT["bounce"]["bouncedRecipients"][0].update(status="4.2.2", diagnosticCode="smtp; 452 4.2.2")

COMPLAINT = {
    "eventType": "Complaint",
    "complaint": {
        "complainedRecipients": [{"emailAddress": RECIPIENT}],
        "timestamp": "2017-08-05T00:41:02.669Z",
        "feedbackId": "01000157c44f053b-61b59c11-9236-11e6-8f96-7be8aexample-000000",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2017-08-05T00:41:02.669Z",
    },
    "mail": mail("2017-08-05T00:40:01.123Z"),
}

DELIVERY = {
    "eventType": "Delivery",
    "mail": mail("2016-10-19T23:20:52.240Z"),
    "delivery": {
        "timestamp": "2016-10-19T23:21:04.133Z",
        "processingTimeMillis": 11893,
        "recipients": [RECIPIENT],
        "smtpResponse": "250 2.6.0 Message received",
        "reportingMTA": "mta.example.com",
    },
}

SEND = {"eventType": "Send", "mail": mail("2016-10-14T05:02:16.645Z"), "send": {}}

REJECT = {
    "eventType": "Reject",
    "mail": mail("2016-10-14T17:38:15.211Z"),
    "reject": {"reason": "Bad content"},
}

OPEN = {
    "eventType": "Open",
    "mail": mail("2017-08-09T21:59:49.927Z"),
    "open": {
        "ipAddress": "192.0.2.1",
        "timestamp": "2017-08-09T22:00:19.652Z",
        "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3 like Mac OS X)",
    },
}

CLICK = {
    "eventType": "Click",
    "click": {
        "ipAddress": "192.0.2.1",
        "link": "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
        "linkTags": {"samplekey0": ["samplevalue0"], "samplekey1": ["samplevalue1"]},
        "timestamp": "2017-08-09T23:51:25.570Z",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
    },
    "mail": mail("2017-08-09T23:50:05.795Z"),
}

RENDERING_FAILURE = {
    "eventType": "Rendering Failure",
    "mail": mail("2018-01-22T18:43:06.197Z"),
    "failure": {
        "errorMessage": "Attribute 'attributeName' is not present in the rendering data.",
        "templateName": "MyTemplate",
    },
}

DELIVERY_DELAY = {
    "eventType": "DeliveryDelay",
    "mail": mail("2020-06-16T00:15:40.641Z"),
    "deliveryDelay": {
        "timestamp": "2020-06-16T00:25:40.095Z",
        "delayType": "TransientCommunicationFailure",
        "expirationTime": "2020-06-16T00:25:40.914Z",
        "delayedRecipients": [
            {
                "emailAddress": RECIPIENT,
                "status": "4.4.1",
                "diagnosticCode": "smtp; 421 4.4.1 Unable to connect",
            }
        ],
    },
}

SUBSCRIPTION = {
    "eventType": "Subscription",
    "mail": mail("2022-01-12T01:00:14.340Z"),
    "subscription": {
        "contactList": "ContactListName",
        "timestamp": "2022-01-12T01:00:17.910Z",
        "source": "UnsubscribeHeader",
        "newTopicPreferences": {
            "unsubscribeAll": True,
            "topicSubscriptionStatus": [{"topicName": "ExampleTopicName", "subscriptionStatus": "OptOut"}],
        },
        "oldTopicPreferences": {
            "unsubscribeAll": False,
            "topicSubscriptionStatus": [{"topicName": "ExampleTopicName", "subscriptionStatus": "OptOut"}],
        },
    },
}

#: Feedback notifications of an identity (no configuration set, no tags).
LEGACY_BOUNCE = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "reportingMTA": "dns; email.example.com",
        "bouncedRecipients": [
            {
                "emailAddress": "jane@example.com",
                "status": "5.1.1",
                "action": "failed",
                "diagnosticCode": "smtp; 550 5.1.1 <jane@example.com>... User",
            }
        ],
        "bounceSubType": "General",
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
        "remoteMtaIp": "127.0.2.0",
    },
    "mail": {
        "timestamp": "2016-01-27T14:59:38.237Z",
        "source": "john@example.com",
        "sendingAccountId": "123456789012",
        "messageId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
        "destination": ["jane@example.com", "mary@example.com", "richard@example.com"],
    },
}

LEGACY_BOUNCE_NO_DSN = {
    "notificationType": "Bounce",
    "bounce": {
        "bounceType": "Permanent",
        "bounceSubType": "General",
        "bouncedRecipients": [{"emailAddress": "jane@example.com"}, {"emailAddress": "richard@example.com"}],
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "00000137860315fd-869464a4-8680-4114-98d3-716fe35851f9-000000",
    },
    "mail": LEGACY_BOUNCE["mail"],
}

LEGACY_COMPLAINT = {
    "notificationType": "Complaint",
    "complaint": {
        "userAgent": "AnyCompany Feedback Loop (V0.01)",
        "complainedRecipients": [{"emailAddress": "richard@example.com"}],
        "complaintFeedbackType": "abuse",
        "arrivalDate": "2016-01-27T14:59:38.237Z",
        "timestamp": "2016-01-27T14:59:38.237Z",
        "feedbackId": "000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000",
    },
    "mail": LEGACY_BOUNCE["mail"],
}

LEGACY_DELIVERY = {
    "notificationType": "Delivery",
    "mail": {
        "timestamp": "2016-01-27T14:59:38.237Z",
        "messageId": "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000",
        "source": "john@example.com",
        "destination": ["jane@example.com"],
    },
    "delivery": {
        "timestamp": "2016-01-27T14:59:38.237Z",
        "recipients": ["jane@example.com"],
        "processingTimeMillis": 546,
        "reportingMTA": "a8-70.smtp-out.amazonses.com",
        "smtpResponse": "250 ok:  Message 64111812 accepted",
        "remoteMtaIp": "127.0.2.0",
    },
}

#: Every documented record, by a name used in test ids.
ALL = {
    "send": SEND,
    "delivery": DELIVERY,
    "open": OPEN,
    "click": CLICK,
    "subscription": SUBSCRIPTION,
    "bounce-transient": BOUNCE_TRANSIENT,
    "bounce-permanent": BOUNCE_PERMANENT,
    "complaint": COMPLAINT,
    "reject": REJECT,
    "rendering-failure": RENDERING_FAILURE,
    "delivery-delay": DELIVERY_DELAY,
    "legacy-bounce": LEGACY_BOUNCE,
    "legacy-bounce-no-dsn": LEGACY_BOUNCE_NO_DSN,
    "legacy-complaint": LEGACY_COMPLAINT,
    "legacy-delivery": LEGACY_DELIVERY,
}


def sns(record: dict[str, Any], message_id: str = "f6a7a2b4-1c3e-5a0c-9a4f-0123456789ab") -> dict[str, Any]:
    """``record`` as SNS delivers it to an HTTPS subscription (signature fields trimmed)."""
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
        "Subject": "Amazon SES Email Event Notification",
        "Message": json.dumps(record),
        "Timestamp": "2017-08-05T00:41:03.000Z",
        "SignatureVersion": "1",
        "Signature": "EXAMPLE",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }


def tagged(record: dict[str, Any], **tags: str) -> dict[str, Any]:
    """A copy of ``record`` whose ``mail.tags`` also hold ``tags`` (one value each)."""
    result = copy.deepcopy(record)
    result["mail"].setdefault("tags", {}).update({name: [value] for name, value in tags.items()})
    return result
