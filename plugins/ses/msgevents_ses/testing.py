"""A local SNS stand-in for tests: signs messages as SNS does and serves the signing certificate.

:class:`SnsEmulator` makes an RSA key and a self-signed certificate, serves the certificate
(``GET /SimpleNotificationService-test.pem``) and subscription confirmations
(``GET /?Action=ConfirmSubscription&TopicArn=…&Token=…``, remembered in :attr:`confirmed`) on
``http://127.0.0.1:<port>``, and builds messages signed the way SNS signs
(:mod:`msgevents_ses.sns`) whose ``SigningCertURL`` and ``SubscribeURL`` point at it. Its
:attr:`settings` let an :class:`~msgevents_ses.SesProvider` accept them (the loopback host over
plain http, which the allowlist permits for loopback hosts only)::

    with SnsEmulator() as sns:
        provider = SesProvider(load_settings(SesSettings, **sns.settings))
        provider.verify_webhook(sns.request(sns.notification({"eventType": "Send", ...})))

Used by this plugin's tests, the contract suite and the receiver's black-box tests.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from msgevents import WebhookRequest
from msgevents_ses.sns import HASHES, string_to_sign

__all__ = ["TOPIC", "SnsEmulator", "certificate_pem"]

TOPIC = "arn:aws:sns:eu-west-1:123456789012:ses-events"
CERT_PATH = "/SimpleNotificationService-test.pem"


def certificate_pem(key: rsa.RSAPrivateKey, *, valid_from: datetime, valid_for: timedelta) -> bytes:
    """A self-signed certificate of ``key`` (subject ``sns.amazonaws.com``), PEM."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(valid_from)
        .not_valid_after(valid_from + valid_for)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


class SnsEmulator:
    """See the module docstring. ``cert_valid_from``/``cert_valid_for`` shape the certificate."""

    def __init__(
        self,
        *,
        cert_valid_from: datetime | None = None,
        cert_valid_for: timedelta = timedelta(days=365),
    ) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        start = cert_valid_from or datetime.now(UTC) - timedelta(days=1)
        self.pem = certificate_pem(self.key, valid_from=start, valid_for=cert_valid_for)
        self.confirmed: list[dict[str, str]] = []
        self.certificate_fetches = 0
        self.confirm_status = 200
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- the server -------------------------------------------------------------------------

    def start(self) -> SnsEmulator:
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == CERT_PATH:
                    emulator.certificate_fetches += 1
                    self._answer(200, emulator.pem, "application/x-pem-file")
                elif parts.path == "/" and query.get("Action") == "ConfirmSubscription":
                    if emulator.confirm_status == 200:
                        emulator.confirmed.append(query)
                    body = b"<ConfirmSubscriptionResponse><ConfirmSubscriptionResult>"
                    self._answer(emulator.confirm_status, body, "text/xml")
                else:
                    self._answer(404, b"not found", "text/plain")

            def _answer(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> SnsEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the emulator first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def settings(self) -> dict[str, Any]:
        """Settings of an SES provider that accepts this emulator's messages."""
        return {"_env_file": None, "sns_certificate_hosts": self.base_url}

    # -- messages ---------------------------------------------------------------------------

    def sign(self, message: dict[str, Any], version: str = "1") -> dict[str, Any]:
        """``message`` with ``SignatureVersion``, ``SigningCertURL`` (this server, unless set)
        and the ``Signature`` SNS would give it."""
        signed = {**message, "SignatureVersion": version}
        if "SigningCertURL" not in signed:
            signed["SigningCertURL"] = self.base_url + CERT_PATH
        signature = self.key.sign(string_to_sign(signed), padding.PKCS1v15(), HASHES[version]())
        signed["Signature"] = base64.b64encode(signature).decode("ascii")
        return signed

    def notification(
        self, ses_record: dict[str, Any], *, topic: str = TOPIC, version: str = "1", **fields: Any
    ) -> dict[str, Any]:
        """A signed SNS Notification carrying ``ses_record`` as its Message."""
        message = {
            "Type": "Notification",
            "MessageId": str(uuid.uuid4()),
            "TopicArn": topic,
            "Subject": "Amazon SES Email Event Notification",
            "Message": json.dumps(ses_record),
            "Timestamp": _now(),
            "UnsubscribeURL": f"{self.base_url}/?Action=Unsubscribe&SubscriptionArn={topic}:x",
            **fields,
        }
        return self.sign(message, version)

    def confirmation(
        self, kind: str = "SubscriptionConfirmation", *, topic: str = TOPIC, version: str = "1"
    ) -> dict:
        """A signed SubscriptionConfirmation (or UnsubscribeConfirmation) whose SubscribeURL is here."""
        token = uuid.uuid4().hex * 2
        message = {
            "Type": kind,
            "MessageId": str(uuid.uuid4()),
            "Token": token,
            "TopicArn": topic,
            "Message": f"You have chosen to subscribe to the topic {topic}.",
            "SubscribeURL": f"{self.base_url}/?Action=ConfirmSubscription&TopicArn={topic}&Token={token}",
            "Timestamp": _now(),
        }
        return self.sign(message, version)

    @staticmethod
    def request(
        message: dict[str, Any] | bytes, url: str = "https://hooks.example.com/webhooks/ses"
    ) -> WebhookRequest:
        """The POST SNS makes with ``message`` (its headers as SNS sends them)."""
        body = message if isinstance(message, bytes) else json.dumps(message).encode()
        headers = {"content-type": "text/plain; charset=UTF-8"}
        if isinstance(message, dict):
            headers["x-amz-sns-message-type"] = str(message.get("Type", ""))
            headers["x-amz-sns-topic-arn"] = str(message.get("TopicArn", ""))
        return WebhookRequest("POST", url, headers, body, datetime.now(UTC))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
