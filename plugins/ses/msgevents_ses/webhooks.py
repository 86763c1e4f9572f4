"""The SES provider's webhook hooks: SNS messages posted to ``POST /webhooks/ses``.

Verifying (:class:`SnsReceiver`), in this order, each failure a :class:`WebhookRejected`
(``401``, nothing stored):

1. the body is one JSON SNS message of a Type SNS signs;
2. its ``TopicArn`` is one of ``MSGEVENTS_SES_SNS_TOPIC_ARNS`` (when set);
3. its signature is valid (:mod:`msgevents_ses.sns`: the certificate only from an allowed host);
4. its ``Timestamp`` is within ``MSGEVENTS_SES_WEBHOOK_MAX_AGE`` of the receipt (when set);
5. a ``SubscriptionConfirmation`` is then confirmed: ``GET SubscribeURL``, only on an allowed
   host, without following redirects. When that request fails
   :class:`~msgevents.errors.ProviderUnavailableError` is raised, so the receiver answers with
   an error and SNS posts the confirmation again.

Parsing is pure: a ``Notification`` is the record the file reader makes of the same envelope
(one ``event_id`` by webhook or from a dump of SNS notifications); the two confirmations are
control messages and give no records.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import requests

from msgevents import MappingError, ProviderUnavailableError, Record, WebhookRejected, WebhookRequest
from msgevents.http import HttpClient, RetriesExhaustedError
from msgevents.json_values import exact_loads
from msgevents.timestamps import TimestampError, parse_iso8601
from msgevents_ses.mapping import SNS_HOUSEKEEPING
from msgevents_ses.sns import Certificates, HostAllowlist, verify_signature

__all__ = ["SnsReceiver", "parse_message"]


def _message(body: bytes) -> Mapping[str, Any] | None:
    try:
        value = exact_loads(body)  # an integer beyond 64 bits stays exact, as in files
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class SnsReceiver:
    """Verifies SNS messages for one provider instance; keeps the certificates it fetched."""

    def __init__(
        self,
        http: HttpClient,
        allowed: HostAllowlist,
        topics: frozenset[str],
        max_age: timedelta | None,
        clock: Callable[[], datetime],
    ) -> None:
        self.http = http
        self.allowed = allowed
        self.topics = topics
        self.max_age = max_age
        self.certificates = Certificates(self._fetch_certificate, clock)

    def verify(self, request: WebhookRequest) -> None:
        message = _message(request.body)
        if message is None:
            raise WebhookRejected("body is not a JSON SNS message")
        if self.topics and message.get("TopicArn") not in self.topics:
            raise WebhookRejected("TopicArn is not one of MSGEVENTS_SES_SNS_TOPIC_ARNS")
        verify_signature(message, self.certificates, self.allowed)
        if self.max_age is not None:
            self._check_age(message, request.received_at)
        if message.get("Type") == "SubscriptionConfirmation":
            self._confirm(str(message["SubscribeURL"]))

    def _check_age(self, message: Mapping[str, Any], received_at: datetime) -> None:
        assert self.max_age is not None
        try:
            sent = parse_iso8601(message["Timestamp"])
        except TimestampError:
            raise WebhookRejected("SNS Timestamp is not ISO 8601") from None
        age = received_at - sent
        if abs(age) > self.max_age:
            raise WebhookRejected(
                f"SNS Timestamp is {int(age.total_seconds())} s from now, beyond "
                f"MSGEVENTS_SES_WEBHOOK_MAX_AGE ({int(self.max_age.total_seconds())} s)"
            )

    def _get(self, url: str, what: str) -> requests.Response:
        try:
            return self.http.request("GET", url, allow_redirects=False)
        except RetriesExhaustedError as exc:  # the host did not answer usably
            raise ProviderUnavailableError(f"SNS: could not {what}: {exc}") from None

    def _fetch_certificate(self, url: str) -> bytes:
        response = self._get(url, "fetch the signing certificate")
        if response.status_code != 200:
            raise WebhookRejected(f"SigningCertURL answered HTTP {response.status_code}, not a certificate")
        return response.content

    def _confirm(self, url: str) -> None:
        if not self.allowed.allows(url):
            raise WebhookRejected("SubscribeURL is not on a host of MSGEVENTS_SES_SNS_CERTIFICATE_HOSTS")
        response = self._get(url, "confirm the subscription")
        if not 200 <= response.status_code < 300:
            raise ProviderUnavailableError(
                f"SNS: confirming the subscription answered HTTP {response.status_code}; SNS will post the "
                "confirmation again"
            )


def parse_message(request: WebhookRequest, records_of: Callable[[Any, str], list[Record]]) -> list[Record]:
    """The records of an authentic SNS message (pure): a Notification → the file reader's record
    of the envelope; a subscription or unsubscribe confirmation → none."""
    message = _message(request.body)
    if message is None:
        raise MappingError("not an SNS message: a JSON object was expected")
    kind = message.get("Type")
    if isinstance(kind, str) and kind in SNS_HOUSEKEEPING:
        return []
    return records_of(dict(message), f"SNS message received {request.received_at.isoformat()}")
