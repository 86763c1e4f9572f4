"""The identity lookup table: normalised e-mail address or phone number → user id,
read once per run from the lookup CSV file.

A compact open-addressing table: 64-bit hashes of the keys in one array, offsets
into one byte string of user ids in another, about 30 bytes per row instead of
two Python strings and a dict entry (about 200 bytes per row).
"""

from __future__ import annotations

import csv
from array import array
from collections.abc import Iterator
from pathlib import Path

from msgevents.identity.csvfile import header_columns, open_binary, open_text, read_errors
from msgevents.identity.normalise import InvalidAddress, normalise_email, normalise_phone

__all__ = ["LOAD_TENTHS", "IdentityLookup"]

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
        no such header raises :class:`~msgevents.errors.ConfigError` naming ``setting`` and the file.
        """
        with read_errors(path, setting):
            with open_binary(path) as raw:  # count the lines first (fast, in C): no regrowth
                lines = sum(chunk.count(b"\n") for chunk in iter(lambda: raw.read(1 << 20), b""))
            lookup = cls(capacity=max(lines * 10 // LOAD_TENTHS + 1, 1 << 10))
            lookup.path = path
            with open_text(path) as handle:
                rows = csv.reader(handle)
                lookup._read_rows(rows, header_columns(next(rows, None), path, setting))
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
