"""Signed webhook requests of every provider that receives webhooks, built from its examples.

``webhook_samples(name)`` is a context manager giving ``(settings, samples)``: the provider's
settings holding test secrets, and :class:`~msgevents.testing.contract.WebhookSample` s (an
authentic request each, its forgeries and the body-borne strings that must stay hidden). The
bodies are the provider's sample inputs in ``examples/<name>/``, so a webhook and the file
give the same events. SES needs a certificate server: the context runs an
:class:`~msgevents_ses.testing.SnsEmulator` on 127.0.0.1 while it is open.

Importable as ``webhook_samples`` (the tests folder is on the path): the contract suite uses
it, and black-box tests of the receiver can POST the same requests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from support import ROOT

from msgevents import WebhookRequest
from msgevents.testing.contract import WebhookSample

__all__ = ["PUBLIC_URL", "SAMPLES", "webhook_samples"]

PUBLIC_URL = "https://hooks.example.com/msgevents"
RECEIVED = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"  # the key of Mailgun's SDK known-answer test
TWILIO_TOKEN = "12345"  # the auth token of Twilio's documented example
ONESIGNAL_TOKEN = "onesignal-stream-secret"


def _lines(name: str, pattern: str) -> list[dict[str, Any]]:
    values = []
    for path in sorted((ROOT / "examples" / name).glob(pattern)):
        for line in path.read_text().splitlines():
            try:
                value = json.loads(line)
            except ValueError:
                continue  # the samples' deliberately broken lines
            if isinstance(value, dict):
                values.append(value)
    return values


def _url(name: str) -> str:
    return f"{PUBLIC_URL}/webhooks/{name}"


def _post(name: str, body: bytes, **headers: str) -> WebhookRequest:
    return WebhookRequest(
        "POST", _url(name), {k.replace("_", "-"): v for k, v in headers.items()}, body, RECEIVED
    )


@contextmanager
def _mailgun() -> Iterator[tuple[dict[str, Any], list[WebhookSample]]]:
    from msgevents_mailgun.webhooks import expected_signature

    samples = []
    for number, item in enumerate(_lines("mailgun", "events.jsonl")):
        timestamp, token = str(1741600000 + number), f"{number:02d}" + "c0ffee" * 8
        signature = {
            "timestamp": timestamp,
            "token": token,
            "signature": expected_signature(MAILGUN_KEY, timestamp, token),
        }
        body = {"signature": signature, "event-data": item}
        forged = {"signature": {**signature, "token": token[::-1]}, "event-data": item}
        samples.append(
            WebhookSample(
                _post("mailgun", json.dumps(body).encode(), content_type="application/json"),
                forgeries=(_post("mailgun", json.dumps(forged).encode(), content_type="application/json"),),
                hidden=(token, signature["signature"]),
                label=f"mailgun events.jsonl line {number + 1}",
            )
        )
    yield {"webhook_signing_key": MAILGUN_KEY}, samples


def _twilio_request(
    pairs: list[tuple[str, str]], signed_pairs: list[tuple[str, str]], url: str = _url("twilio")
) -> WebhookRequest:
    """A callback with form ``pairs`` to ``url``, signed as Twilio signs ``signed_pairs`` to the
    receiver's URL."""
    from msgevents_twilio.webhooks import signature

    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": signature(TWILIO_TOKEN, _url("twilio"), signed_pairs),
    }
    return WebhookRequest("POST", url, headers, urlencode(pairs).encode(), RECEIVED)


@contextmanager
def _twilio() -> Iterator[tuple[dict[str, Any], list[WebhookSample]]]:
    samples = []
    for number, line in enumerate(_lines("twilio", "*.jsonl")):
        if "body" in line or "received_at" not in line:
            continue
        params = [(k, str(v)) for k, v in line.items() if k != "received_at"]

        altered = [(k, v + "0") if k == "To" else (k, v) for k, v in params]
        samples.append(
            WebhookSample(
                _twilio_request(params, params),
                forgeries=(
                    _twilio_request(altered, params),
                    _twilio_request(params, params, url=_url("twilio") + "?x=1"),
                ),
                label=f"twilio callback {number + 1}",
            )
        )
    yield {"auth_token": TWILIO_TOKEN}, samples


@contextmanager
def _ses() -> Iterator[tuple[dict[str, Any], list[WebhookSample]]]:
    from msgevents_ses.testing import SnsEmulator

    with SnsEmulator() as sns:
        samples = [
            WebhookSample(sns.request(sns.confirmation(), _url("ses")), label="SubscriptionConfirmation")
        ]
        unsigned = ("Signature", "SigningCertURL", "SignatureVersion")
        for number, line in enumerate(_lines("ses", "sns-*.jsonl")):
            if line.get("Type") != "Notification":
                continue
            message = sns.sign(
                {k: v for k, v in line.items() if k not in unsigned}, version=str(1 + number % 2)
            )
            altered = {**message, "Message": message["Message"].replace("example", "exampel", 1)}
            elsewhere = {
                **message,
                "SigningCertURL": "https://evil.example.com/SimpleNotificationService-x.pem",
            }
            samples.append(
                WebhookSample(
                    sns.request(message, _url("ses")),
                    forgeries=(sns.request(altered, _url("ses")), sns.request(elsewhere, _url("ses"))),
                    label=f"SNS notification {number + 1}",
                )
            )
        yield {k: v for k, v in sns.settings.items() if k != "_env_file"}, samples


@contextmanager
def _onesignal() -> Iterator[tuple[dict[str, Any], list[WebhookSample]]]:
    samples = []
    for number, body in enumerate(_lines("onesignal", "*.jsonl")):
        raw = json.dumps(body).encode()
        samples.append(
            WebhookSample(
                _post(
                    "onesignal",
                    raw,
                    content_type="application/json",
                    authorization=f"Bearer {ONESIGNAL_TOKEN}",
                ),
                forgeries=(
                    _post(
                        "onesignal",
                        raw,
                        content_type="application/json",
                        authorization="Bearer guessed-token",
                    ),
                    _post("onesignal", raw, content_type="application/json", authorization=ONESIGNAL_TOKEN),
                ),
                label=f"onesignal line {number + 1}",
            )
        )
    yield {"webhook_token": ONESIGNAL_TOKEN}, samples


SAMPLES: dict[str, Callable[[], Any]] = {
    "mailgun": _mailgun,
    "twilio": _twilio,
    "ses": _ses,
    "onesignal": _onesignal,
}


def webhook_samples(name: str) -> Any:
    """The context manager of ``name``'s samples (KeyError: the provider has none here)."""
    return SAMPLES[name]()
