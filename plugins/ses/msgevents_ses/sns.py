"""SES events received through an SNS HTTPS subscription (``msgevents serve``, ``POST /webhooks/ses``).

SNS signs every message it posts
(https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html):

- the string to sign is ``Name\\nvalue\\n`` for the message's fields in byte order of their
  names: ``Message``, ``MessageId``, ``Subject`` (when present), ``Timestamp``, ``TopicArn``,
  ``Type`` for a ``Notification``; ``Message``, ``MessageId``, ``SubscribeURL``, ``Timestamp``,
  ``Token``, ``TopicArn``, ``Type`` for a ``SubscriptionConfirmation`` or
  ``UnsubscribeConfirmation``;
- ``Signature`` is the base64 RSA PKCS#1 v1.5 signature of that string, with SHA-1
  (``SignatureVersion`` 1) or SHA-256 (``SignatureVersion`` 2);
- the public key is in the X.509 certificate at ``SigningCertURL``. That URL is part of the
  request, not of what is signed, so it is fetched only from an allowed host
  (:class:`HostAllowlist`; by default ``https://sns.<region>.amazonaws.com``), without following
  redirects, and each certificate is kept (:class:`Certificates`).

The RSA work is the ``cryptography`` package's (a dependency of this plugin for that reason:
no hand-written RSA or X.509 parsing).

The allowlist is the setting ``MSGEVENTS_SES_SNS_CERTIFICATE_HOSTS``: comma-separated host
patterns, ``*`` standing for one DNS label (``sns.*.amazonaws.com``), fetched over https
only. An entry may say ``http://`` — accepted only for a loopback host (``127.0.0.1``, ``::1``,
``localhost``), which lets tests serve their own certificate on this machine while no setting
can make the receiver fetch a certificate over plain http from anywhere else.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from msgevents import WebhookRejected

__all__ = [
    "DEFAULT_CERTIFICATE_HOSTS",
    "SIGNED_FIELDS",
    "Certificates",
    "HostAllowlist",
    "string_to_sign",
    "verify_signature",
]

DEFAULT_CERTIFICATE_HOSTS = "sns.*.amazonaws.com,sns.*.amazonaws.com.cn"
NOTIFICATION = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    "Notification": NOTIFICATION,
    "SubscriptionConfirmation": CONFIRMATION,
    "UnsubscribeConfirmation": CONFIRMATION,
}
OPTIONAL = frozenset({("Notification", "Subject")})
HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
_LABEL = "[A-Za-z0-9-]+"
_LOOPBACK_NAMES = frozenset({"localhost"})


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class _Entry:
    scheme: str
    host: re.Pattern[str]
    port: int | None


class HostAllowlist:
    """Where certificates and subscription confirmations may be fetched from (module docstring)."""

    def __init__(self, setting: str) -> None:
        self.entries: list[_Entry] = []
        for raw in (part.strip() for part in setting.split(",")):
            if raw:
                self.entries.append(self._entry(raw))
        if not self.entries:
            raise ValueError("name at least one host, e.g. sns.*.amazonaws.com")

    @staticmethod
    def _entry(raw: str) -> _Entry:
        scheme = "https"
        rest = raw
        if "://" in raw:
            scheme, rest = raw.split("://", 1)
            scheme = scheme.lower()
        if scheme not in ("https", "http") or not rest or "/" in rest or "@" in rest:
            raise ValueError(
                f"{raw!r}: expected a host pattern like sns.*.amazonaws.com (or http://127.0.0.1:PORT)"
            )
        parts = urlsplit(f"{scheme}://{rest}")
        try:
            host, port = parts.hostname, parts.port
        except ValueError:
            raise ValueError(f"{raw!r}: bad port") from None
        if not host:
            raise ValueError(f"{raw!r}: no host")
        if scheme == "http" and not _is_loopback(host):
            raise ValueError(
                f"{raw!r}: plain http is allowed only for a loopback host (127.0.0.1, ::1, localhost)"
            )
        labels = [_LABEL if label == "*" else re.escape(label) for label in host.split(".")]
        if any("*" in label for label in host.split(".") if label != "*"):
            raise ValueError(f"{raw!r}: '*' stands for a whole label (sns.*.amazonaws.com)")
        return _Entry(scheme, re.compile(r"\.".join(labels), re.IGNORECASE), port)

    def allows(self, url: str) -> bool:
        """Whether ``url`` is on an allowed host, with the entry's scheme (and port, if it names one)."""
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError:
            return False
        if not host or parts.username is not None or parts.password is not None:
            return False
        scheme = parts.scheme.lower()
        default = 443 if scheme == "https" else 80
        for entry in self.entries:
            if entry.scheme != scheme or not entry.host.fullmatch(host):
                continue
            if (port or default) == (entry.port or default):
                return True
        return False


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    """The string SNS signs for ``message`` (module docstring); :class:`WebhookRejected` when a
    field it needs is missing or not text."""
    kind = message.get("Type")
    fields = SIGNED_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise WebhookRejected(f"SNS message Type {kind!r} is not one SNS signs")
    lines = []
    for name in fields:
        value = message.get(name)
        if value is None and (kind, name) in OPTIONAL:
            continue
        if not isinstance(value, str):
            raise WebhookRejected(f"SNS {kind}: {name} is missing or not a string")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode("utf-8")


class Certificates:
    """Signing certificates' public keys by URL, fetched with ``fetch(url) -> bytes`` (PEM) on
    first use; at most ``limit`` kept (SNS uses a handful)."""

    def __init__(self, fetch: Callable[[str], bytes], clock: Callable[[], datetime], limit: int = 64) -> None:
        self._fetch = fetch
        self._clock = clock
        self._limit = limit
        self._keys: dict[str, tuple[rsa.RSAPublicKey, datetime, datetime]] = {}
        self._lock = threading.Lock()

    def public_key(self, url: str) -> rsa.RSAPublicKey:
        with self._lock:
            cached = self._keys.get(url)
        if cached is None:
            cached = self._load(url)
            with self._lock:
                if len(self._keys) >= self._limit:
                    self._keys.pop(next(iter(self._keys)))
                self._keys[url] = cached
        key, not_before, not_after = cached
        now = self._clock()
        if not not_before <= now <= not_after:
            raise WebhookRejected("the SNS signing certificate is not valid now (expired or not yet valid)")
        return key

    def _load(self, url: str) -> tuple[rsa.RSAPublicKey, datetime, datetime]:
        pem = self._fetch(url)
        try:
            certificate = x509.load_pem_x509_certificate(pem)
        except ValueError:
            raise WebhookRejected("SigningCertURL did not give a PEM X.509 certificate") from None
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise WebhookRejected("the SNS signing certificate has no RSA key")
        return key, certificate.not_valid_before_utc, certificate.not_valid_after_utc


def verify_signature(message: Mapping[str, Any], certificates: Certificates, allowed: HostAllowlist) -> None:
    """Raise :class:`WebhookRejected` unless ``message`` carries a valid SNS signature."""
    version = message.get("SignatureVersion")
    algorithm = HASHES.get(version) if isinstance(version, str) else None
    if algorithm is None:
        raise WebhookRejected(f"SNS SignatureVersion {version!r} is not 1 or 2")
    signed = string_to_sign(message)
    url = message.get("SigningCertURL")
    if not isinstance(url, str) or not allowed.allows(url):
        raise WebhookRejected(
            "SigningCertURL is not on a host of MSGEVENTS_SES_SNS_CERTIFICATE_HOSTS: "
            + (_host_of(url) if isinstance(url, str) else "missing")
        )
    try:
        signature = base64.b64decode(str(message.get("Signature") or ""), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookRejected("SNS Signature is not base64") from None
    if not signature:
        raise WebhookRejected("SNS message has no Signature")
    key = certificates.public_key(url)
    try:
        key.verify(signature, signed, padding.PKCS1v15(), algorithm())
    except InvalidSignature:
        raise WebhookRejected("SNS signature does not match the message") from None


def _host_of(url: str) -> str:
    """The scheme and host of ``url`` for a message (no path or query: those may carry tokens)."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname or '?'}"
    except ValueError:
        return "an unreadable URL"
