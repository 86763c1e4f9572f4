"""Keeping secrets out of every output: a process-wide set of values to mask.

Settings register their ``SecretStr`` values here when loaded (the CLI does it
for every provider and sink; :class:`msgevents.HttpClient` registers the
credentials it is given); the CLI installs :class:`RedactingFilter` on its log
handler and passes every message it prints through :func:`redact`, the report,
the state's runs table and quarantine files through :func:`redact_value`.
Masking is by value, so a secret is hidden wherever it ends up: a URL, an
exception message, a response body echoed in an error.

Registering a secret also registers the forms a server may echo it in:

- URL-encoded (``%40``/``%2F``, ``+`` for a space, lower-case hex), JSON-escaped and
  XML/HTML-escaped (``&amp;``);
- base64, standard and URL-safe alphabet: the base64 of *any* text holding the
  secret (``user:password`` of HTTP Basic auth, ``api:<key>``…) contains one of
  three fixed runs of characters, one per alignment of the secret; where one is
  found the whole base64 word around it is masked (so no edge character of the
  secret is left either). Secrets under 8 characters are too short for this and
  are masked in base64 only where the exact text was registered (an HttpClient's
  ``user:password``);
- the value of an ``Authorization`` header quoted anywhere (``Authorization:
  Basic …``, ``"authorization": "Bearer …"``) is masked whatever it holds.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import threading
from typing import Any
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "RedactingFilter", "add_secret", "excerpt", "redact", "redact_value", "secrets_known"]

MASK = "********"
_MIN_LENGTH = 4  # shorter values would mask ordinary text
_MIN_CORE = 8  # base64 runs shorter than this would match unrelated base64 (ids, hashes)
_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_")
#: An Authorization header (or one like it) quoted in text: its value up to the end of the quote/line.
_AUTH_HEADER = re.compile(
    r"""((?:proxy-)?authorization["']?\s*[:=]\s*["']?)"""
    r"""((?:basic|bearer|digest|token|negotiate|hmac|aws4-hmac-sha256)\s+[^\s"',;}\]\\]+)""",
    re.IGNORECASE,
)


class _Registry:
    """The secrets and every form derived from them, with the patterns built from those."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self.literals: list[str] = []  # longest first
        self.cores: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        self.secrets.add(value)
        literals = set(self.literals) | _text_forms(value)
        for text in (value, *_text_forms(value)):
            if len(text) < _MIN_CORE:  # exact base64 of a short registered text (user:pw)
                literals.update(_b64_whole(text))
        self.literals = sorted(literals, key=len, reverse=True)
        cores = {core for secret in self.secrets for core in _b64_cores(secret)}
        ordered = sorted(cores, key=len, reverse=True)
        self.cores = re.compile("|".join(map(re.escape, ordered))) if ordered else None


_registry = _Registry()
_lock = threading.Lock()


def _text_forms(value: str) -> set[str]:
    """``value`` as text may carry it: itself, URL-encoded, JSON-escaped."""
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value), quote_plus(value, safe="/")}
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), form) for form in forms}
    forms |= {html.escape(value), html.escape(value, quote=False)}  # echoed in XML/HTML (a SOAP fault)
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    return {form for form in forms if len(form) >= _MIN_LENGTH}


def _b64_cores(secret: str) -> set[str]:
    """The base64 runs found in the encoding of every text holding ``secret``, one per alignment."""
    data = secret.encode("utf-8")
    cores = set()
    for skip in range(3):
        body = data[skip:]
        body = body[: len(body) - len(body) % 3]
        if len(body) * 4 // 3 >= _MIN_CORE:
            cores.add(base64.b64encode(body).decode())
            cores.add(base64.urlsafe_b64encode(body).decode())
    return cores


def _b64_whole(text: str) -> set[str]:
    data = text.encode("utf-8")
    encoded = {base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()}
    return encoded | {e.rstrip("=") for e in encoded if len(e.rstrip("=")) >= _MIN_LENGTH}


def add_secret(value: str | None) -> None:
    """Mask ``value`` and its derived forms in everything :func:`redact` sees from now on."""
    if value and len(value) >= _MIN_LENGTH:
        with _lock:
            if value not in _registry.secrets:
                _registry.add(value)


def secrets_known() -> frozenset[str]:
    """The registered secrets themselves (not their derived forms)."""
    with _lock:
        return frozenset(_registry.secrets)


def redact(text: str) -> str:
    """``text`` with every registered secret, and every derived form of one, replaced by ``********``."""
    if not text:
        return text
    registry = _registry
    if registry.cores is not None:
        text = _mask_base64_words(text, registry.cores)
    for literal in registry.literals:
        if literal in text:
            text = text.replace(literal, MASK)
    if "uthorization" in text or "UTHORIZATION" in text:
        text = _AUTH_HEADER.sub(lambda m: m.group(1) + MASK, text)
    return text


def excerpt(text: str, limit: int) -> str:
    """At most ``limit`` characters of ``text`` (a response body for an error), secrets masked.

    Masks first, then cuts: cutting first could leave the beginning of a secret
    (or of its base64) that no longer matches anything registered.
    """
    return redact(text.strip())[:limit]


def _mask_base64_words(text: str, cores: re.Pattern[str]) -> str:
    """Mask each whole base64 word holding one of ``cores`` (padding included)."""
    spans: list[tuple[int, int]] = []
    for match in cores.finditer(text):
        start, end = match.span()
        if spans and start < spans[-1][1]:
            continue
        while start > 0 and text[start - 1] in _B64_CHARS:
            start -= 1
        while end < len(text) and text[end] in _B64_CHARS:
            end += 1
        padding = end
        while end < len(text) and text[end] == "=" and end - padding < 2:
            end += 1
        spans.append((start, end))
    if not spans:
        return text
    parts, last = [], 0
    for start, end in spans:
        if start < last:  # merged into the previous word
            continue
        parts += [text[last:start], MASK]
        last = end
    parts.append(text[last:])
    return "".join(parts)


def redact_value(value: Any) -> Any:
    """``value`` with :func:`redact` applied to every string in it, dict keys included.

    For JSON-like data about to be written: masking the values, not the serialised
    text, since JSON escaping (quotes, backslashes, non-ASCII) hides a secret from
    a search in the text, and masking inside a number would break the JSON. A
    number holding a secret (a numeric client id) becomes the masked string.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        text = str(value)
        masked = redact(text)
        return value if masked == text else masked
    if isinstance(value, dict):
        return {redact_value(k) if isinstance(k, str) else k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value


class RedactingFilter(logging.Filter):
    """A logging filter that renders each record and masks secrets in the result."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
