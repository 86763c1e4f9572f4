"""Keeping secrets out of every output: a process-wide set of values to mask.

Settings register their ``SecretStr`` values here when loaded; the CLI installs
:class:`RedactingFilter` on its log handler and passes every message it prints
through :func:`redact`. Masking is by value, so a secret is hidden wherever it
ends up: a URL, an exception message, a response body echoed in an error.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["MASK", "RedactingFilter", "add_secret", "redact", "secrets_known"]

MASK = "********"
_MIN_LENGTH = 4  # shorter values would mask ordinary text
_secrets: set[str] = set()
_lock = threading.Lock()


def add_secret(value: str | None) -> None:
    """Mask ``value`` in everything :func:`redact` sees from now on."""
    if value and len(value) >= _MIN_LENGTH:
        with _lock:
            _secrets.add(value)


def secrets_known() -> frozenset[str]:
    with _lock:
        return frozenset(_secrets)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``********``."""
    if not _secrets or not text:
        return text
    for secret in sorted(secrets_known(), key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that renders each record and masks secrets in the result."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            message = record.getMessage()
            cleaned = redact(message)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True
