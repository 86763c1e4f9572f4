"""Normalising the addresses an event can be keyed by: e-mail addresses (case-folded)
and phone numbers (E.164). Used by provider mappers and by the identity lookup."""

from __future__ import annotations

import re

__all__ = ["InvalidAddress", "normalise_email", "normalise_phone"]


class InvalidAddress(ValueError):
    """An e-mail address or phone number that cannot be normalised; the message says why."""


_PHONE_SEPARATORS = re.compile(r"[\s\-./()\u00a0]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_HAS_SPACE = re.compile(r"\s").search


def normalise_phone(text: str) -> str:
    """The E.164 form of an international phone number: ``+`` and 7 to 15 digits.

    Spaces, dashes, dots, slashes and parentheses are dropped and a ``00``
    international prefix becomes ``+`` (``0049 151 2345-6789`` →
    ``+4915123456789``). A number without a country code (``0151 …``) is
    refused rather than guessed: the country would be a guess.
    Raises :class:`InvalidAddress`.
    """
    if not isinstance(text, str):
        raise InvalidAddress(f"phone number {text!r} is not text")
    compact = _PHONE_SEPARATORS.sub("", text)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if _E164.fullmatch(compact) and compact.isascii():
        return compact
    if compact and not compact.startswith("+") and compact.isdigit():
        raise InvalidAddress(
            f"phone number {text!r} has no country code: write it in international form "
            "(E.164, e.g. +4915123456789)"
        )
    raise InvalidAddress(
        f"{text!r} is not an international phone number (E.164: '+', country code, "
        "7 to 15 digits in all, e.g. +4915123456789)"
    )


def normalise_email(text: str) -> str:
    """An e-mail address stripped and case-folded (``Ann@Example.COM`` → ``ann@example.com``).

    Raises :class:`InvalidAddress` when there is no ``@`` with text on both sides, or when
    the address holds whitespace.
    """
    if not isinstance(text, str):
        raise InvalidAddress(f"e-mail address {text!r} is not text")
    address = text.strip()
    local, _at, domain = address.rpartition("@")
    if not local or not domain or _HAS_SPACE(address):
        raise InvalidAddress(f"{text!r} is not an e-mail address")
    return address.casefold()
