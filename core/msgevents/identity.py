"""Identity resolution: the core step that gives every event a CrossEngage key.

CrossEngage keys a customer by ``user_id`` (its ``id``) or, for e-mail, by the
address. Providers know the customer id only when the sender passed it through
(Mailgun ``user-variables``, SES tags…); otherwise they know an e-mail address
or a phone number. This step runs after mapping, for every provider:

1. an event with ``user_id`` passes unchanged;
2. an event without one gets it from the **lookup file** (CSV with a header
   row naming ``user_id`` and ``email`` and/or ``phone``), matched by the
   case-folded e-mail address or the E.164 phone number;
3. else an event with an e-mail address goes out keyed by ``email``;
4. else (a phone-only event: SMS, push) it is returned as *unresolved*, with a
   reason starting ``unresolved identity:``, and the pipeline quarantines it
   (CrossEngage cannot key a customer by phone).

The step never changes ``event_id``: it is computed at mapping time from what
the provider sent, so adding or changing a lookup file never makes an event
look new to the ledger.

The lookup file is read once per run, when the first event without a user id
arrives (a run whose events all carry one never pays for it; the file's header
is checked at the start of every run), into a compact open-addressing table
(:class:`IdentityLookup`): 64-bit hashes of the keys in one array, offsets into
one byte string of user ids in another, about 30 bytes per row instead of two
Python strings and a dict entry (about 200 bytes per row).
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import re
from array import array
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO

from msgevents.errors import ConfigError
from msgevents.events import Event
from msgevents.processing import replace

__all__ = [
    "IdentityLookup",
    "IdentityStep",
    "InvalidAddress",
    "normalise_email",
    "normalise_phone",
]

GLOBAL_SETTING = "MSGEVENTS_IDENTITY_FILE"
UNRESOLVED = "unresolved identity"


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


_MASK64 = (1 << 64) - 1
#: The table is kept at most this many tenths full (linear probing stays short up to ~0.7).
LOAD_TENTHS = 7


def _hash(key: str) -> int:
    """A 64-bit hash of a normalised key, never 0 (0 marks an empty slot).

    Python's own string hash: computed in C and cached on the string. It is salted per
    process, which is fine: the table lives for one run.
    """
    return hash(key) & _MASK64 or 1


class IdentityLookup:
    """Normalised e-mail address or phone number → user id, read from a CSV file.

    An open-addressing table in two arrays: 64-bit key hashes and offsets into one
    byte string holding the user ids. Two different addresses share a hash with a
    chance of about 3 in 100 million for a million rows; both are then treated as
    ambiguous, never mixed up silently. An address listed twice with different user
    ids is ambiguous too: it resolves to nothing and :meth:`get` says why.
    """

    _AMBIGUOUS = 0xFFFFFFFF

    def __init__(self, capacity: int = 1 << 10) -> None:
        self._capacity = capacity = max(capacity, 8)
        self._keys = array("Q", [0]) * capacity  # built in place: no temporary copy
        self._values = array("I", [0]) * capacity
        self._blob = bytearray(b"\n")  # offset 0 is never a value
        self.size = 0
        self.path: Path | None = None
        self.skipped = 0
        self.first_skipped = ""

    # -- building ------------------------------------------------------------------------------

    def add(self, key: str, user_id: str) -> None:
        """Map an already-normalised ``key`` to ``user_id`` (which holds no line break)."""
        offset = len(self._blob)
        self._blob += user_id.encode() + b"\n"
        self._insert(_hash(key), offset)

    def _insert(self, hashed: int, offset: int) -> None:
        if (self.size + 1) * 10 > self._capacity * LOAD_TENTHS:
            self._grow()
        keys, values, capacity = self._keys, self._values, self._capacity
        slot = hashed % capacity
        while True:
            present = keys[slot]
            if present == 0:
                keys[slot] = hashed
                values[slot] = offset
                self.size += 1
                return
            if present == hashed:
                old = values[slot]
                if old != self._AMBIGUOUS and self._value_at(old) != self._value_at(offset):
                    values[slot] = self._AMBIGUOUS
                return
            slot += 1
            if slot == capacity:
                slot = 0

    def _grow(self) -> None:
        old_keys, old_values = self._keys, self._values
        self._capacity = capacity = self._capacity * 2
        self._keys = array("Q", [0]) * capacity
        self._values = array("I", [0]) * capacity
        self.size = 0
        insert = self._insert
        for hashed, offset in zip(old_keys, old_values, strict=True):
            if hashed:
                insert(hashed, offset)

    def _value_at(self, offset: int) -> bytes:
        end = self._blob.index(b"\n", offset)
        return bytes(self._blob[offset:end])

    # -- looking up --------------------------------------------------------------------------------

    def get(self, key: str) -> str | None:
        """The user id of a normalised key; ``None`` when absent. Raises ``LookupError`` when
        the key is listed with several user ids."""
        hashed = _hash(key)
        keys, capacity = self._keys, self._capacity
        slot = hashed % capacity
        while True:
            present = keys[slot]
            if present == 0:
                return None
            if present == hashed:
                offset = self._values[slot]
                if offset == self._AMBIGUOUS:
                    raise LookupError(f"{key!r} is listed with several user ids")
                return self._value_at(offset).decode()
            slot += 1
            if slot == capacity:
                slot = 0

    def __len__(self) -> int:
        return self.size

    # -- loading a file ------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, setting: str) -> IdentityLookup:
        """Read a lookup CSV: a header row naming ``user_id`` and ``email`` and/or ``phone``.

        Rows with an empty user id or an address that cannot be normalised are skipped and
        counted (:attr:`skipped`, :attr:`first_skipped`); a file that cannot be opened or has
        no such header raises :class:`ConfigError` naming ``setting`` and the file.
        """
        try:
            with _open_binary(path) as raw:  # count the lines first (fast, in C): no regrowth
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: raw.read(1 << 20), b""))
            lookup = cls(capacity=max(lines * 10 // LOAD_TENTHS + 1, 1 << 10))
            lookup.path = path
            with _open_text(path) as handle:
                rows = csv.reader(handle)
                columns = _columns(next(rows, None), path, setting)
                lookup._read_rows(rows, columns)
        except OSError as exc:
            raise ConfigError(
                f"{setting}: cannot read identity file {str(path)!r}: {exc.strerror or exc}"
            ) from None
        except (UnicodeDecodeError, EOFError, csv.Error) as exc:
            raise ConfigError(
                f"{setting}: identity file {str(path)!r} is not a readable CSV file: {exc}"
            ) from None
        return lookup

    def _read_rows(self, rows: Iterator[list[str]], columns: dict[str, int]) -> None:
        user_column = columns["user_id"]
        key_columns = [
            (column, normalise)
            for column, normalise in (
                (columns.get("email"), normalise_email),
                (columns.get("phone"), normalise_phone),
            )
            if column is not None
        ]
        width = max(columns.values()) + 1
        blob = self._blob
        insert = self._insert
        for row in rows:
            if len(row) < width:
                if any(cell.strip() for cell in row):
                    self._skip(rows, f"{len(row)} columns, expected {width}")
                continue  # else a blank line
            user_id = row[user_column].strip()
            if not user_id or "\n" in user_id:
                self._skip(rows, "user_id is empty" if not user_id else "user_id holds a line break")
                continue
            offset = -1
            for column, normalise in key_columns:
                cell = row[column]
                if not cell or cell.isspace():
                    continue
                try:
                    key = normalise(cell)
                except InvalidAddress as exc:
                    self._skip(rows, str(exc))
                    continue
                if offset < 0:  # one copy per row, shared by its e-mail address and phone number
                    offset = len(blob)
                    blob += user_id.encode() + b"\n"
                insert(hash(key) & _MASK64 or 1, offset)

    def _skip(self, rows: Iterator[list[str]], why: str) -> None:
        self.skipped += 1
        if not self.first_skipped:
            self.first_skipped = f"line {getattr(rows, 'line_num', '?')}: {why}"


def _open_binary(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _open_text(path: Path) -> IO[str]:
    return io.TextIOWrapper(_open_binary(path), encoding="utf-8-sig", newline="")


def _columns(header: list[str] | None, path: Path, setting: str) -> dict[str, int]:
    names = [cell.strip().lower() for cell in header or []]
    columns = {name: names.index(name) for name in ("user_id", "email", "phone") if name in names}
    if "user_id" not in columns or len(columns) < 2:
        raise ConfigError(
            f"{setting}: identity file {str(path)!r} needs a header row naming user_id and "
            f"email and/or phone (e.g. 'email,user_id' or 'phone,user_id'); found {header or 'nothing'!r}"
        )
    return columns


class IdentityStep:
    """The identity step of one run: resolve events, report those that cannot be keyed.

    ``identity_file`` and ``setting`` say which lookup file to read (``None``: no lookup)
    and which variable named it, for messages. :meth:`check` (at the start of a run)
    proves the file readable with the right header; the rows are read once, when the
    first event without a user id arrives. ``warn`` receives a warning about skipped rows.
    """

    def __init__(
        self,
        identity_file: Path | None = None,
        setting: str = GLOBAL_SETTING,
        provider_setting: str = "MSGEVENTS_<NAME>_IDENTITY_FILE",
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.identity_file = identity_file
        self.setting = setting
        self.provider_setting = provider_setting
        self.warn = warn
        self.lookup: IdentityLookup | None = None
        self.resolved = 0

    @classmethod
    def for_provider(
        cls, settings: object, fallback: Path | None = None, warn: Callable[[str], None] | None = None
    ) -> IdentityStep:
        """The step for a provider's settings: ``MSGEVENTS_<NAME>_IDENTITY_FILE`` first, else
        ``fallback`` (the file named by ``MSGEVENTS_IDENTITY_FILE``)."""
        env_name = getattr(type(settings), "env_name", None)
        own_setting = env_name("identity_file") if env_name else "MSGEVENTS_<NAME>_IDENTITY_FILE"
        own = getattr(settings, "identity_file", None)
        if own is not None:
            return cls(own, own_setting, own_setting, warn)
        return cls(fallback, GLOBAL_SETTING, own_setting, warn)

    def check(self) -> None:
        """Raise :class:`ConfigError` (naming the setting and file) when the lookup file is set
        but cannot be read or has no usable header row. Cheap: reads the first line."""
        path = self.identity_file
        if path is None or self.lookup is not None:
            return
        try:
            with _open_text(path) as handle:
                _columns(next(csv.reader(handle), None), path, self.setting)
        except OSError as exc:
            raise ConfigError(
                f"{self.setting}: cannot read identity file {str(path)!r}: {exc.strerror or exc}"
            ) from None
        except (UnicodeDecodeError, EOFError, csv.Error) as exc:
            raise ConfigError(
                f"{self.setting}: identity file {str(path)!r} is not a readable CSV file: {exc}"
            ) from None

    def load(self) -> IdentityLookup | None:
        """The lookup table, read from the file on the first call; ``None`` when no file is set."""
        if self.identity_file is None or self.lookup is not None:
            return self.lookup
        self.lookup = IdentityLookup.load(self.identity_file, self.setting)
        if self.lookup.skipped and self.warn is not None:
            self.warn(
                f"identity file {str(self.identity_file)!r}: {self.lookup.skipped} row(s) skipped "
                f"(first: {self.lookup.first_skipped})"
            )
        return self.lookup

    def __call__(self, events: Sequence[Event]) -> tuple[list[Event], list[tuple[Event, str]]]:
        """``(events to send, [(unresolved event, reason), …])``; ``event_id`` never changes."""
        for event in events:
            if event.user_id is None:
                break
        else:
            return events if isinstance(events, list) else list(events), []
        kept: list[Event] = []
        unresolved: list[tuple[Event, str]] = []
        for event in events:
            if event.user_id is not None:
                kept.append(event)
                continue
            reason = self._resolve(event)
            if isinstance(reason, Event):
                kept.append(reason)
            elif event.email is not None:
                kept.append(event)
            else:
                unresolved.append((event, reason))
        return kept, unresolved

    def _resolve(self, event: Event) -> Event | str:
        """The event with its user id, or why none was found."""
        lookup = self.load()
        keys = []
        if event.email is not None:
            with contextlib.suppress(InvalidAddress):
                keys.append(normalise_email(event.email))
        if event.phone is not None:
            keys.append(event.phone)  # validated as E.164 by the event model
        shown = event.phone or event.email or "no e-mail address or phone number"
        if lookup is None:
            return (
                f"{UNRESOLVED}: {shown} has no user_id and no identity file is set "
                f"(set {self.provider_setting} or {GLOBAL_SETTING} to a CSV file phone,user_id)"
            )
        problem = ""
        for key in keys:
            try:
                user_id = lookup.get(key)
            except LookupError as exc:
                problem = f"; {exc} in {str(lookup.path)!r}"
                continue
            if user_id is not None:
                self.resolved += 1
                return replace(event, user_id=user_id)
        return f"{UNRESOLVED}: {shown} is not in identity file {str(lookup.path)!r}{problem}"
