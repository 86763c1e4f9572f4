"""Quarantine: records that could not be mapped or were refused, kept with the reason.

One JSON Lines file per run under ``<state dir>/quarantine/``. Each line holds
``kind`` (``mapping``: the native record could not be mapped; ``contract``: the
plugin emitted an event it did not declare; ``identity``: the event has no
customer key CrossEngage accepts, e.g. a phone number the identity file does not
resolve; ``rejected``: the sink refused the event for good), ``provider``,
``account``, ``stream``, ``source``, ``reason``, ``run_at`` and either
``record`` (the raw native record) or ``event`` (the canonical event).
``msgevents replay FILE`` sends them again after a fix.
Secrets are masked in everything written.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import orjson

from msgevents.events import Event
from msgevents.formats import jsonl_object
from msgevents.paths import STATE_SETTING, ensure_directory, unusable
from msgevents.redact import redact, redact_value
from msgevents.timestamps import UTC, format_timestamp

__all__ = ["QuarantineWriter", "escaped", "quarantine_key"]


class QuarantineWriter:
    """Appends entries to ``<directory>/<provider>-<UTC time>.jsonl``; the file is created lazily."""

    def __init__(self, directory: Path, provider: str, *, enabled: bool = True) -> None:
        self.directory = directory
        self.provider = provider
        self.enabled = enabled
        self.count = 0
        self.path: Path | None = None
        self._file: IO[bytes] | None = None
        self._started = datetime.now(UTC)

    def prepare(self) -> None:
        """Create the directory and prove it writable before the run reads anything (ConfigError)."""
        if self.enabled:
            ensure_directory(
                self.directory, "quarantine directory", f"{STATE_SETTING}: beside the state file"
            )

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self.prepare()
            stamp = self._started.strftime("%Y%m%dT%H%M%SZ")
            path = self.directory / f"{self.provider}-{stamp}-{os.getpid()}.jsonl"
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            except OSError as exc:
                raise unusable(self.directory, "quarantine directory", STATE_SETTING, exc) from None
            self._file = os.fdopen(fd, "ab")
            self.path = path
        return self._file

    def add(
        self,
        kind: str,
        reason: str,
        *,
        account: str = "",
        stream: str = "",
        source: str = "",
        record: Any = None,
        event: Event | None = None,
    ) -> None:
        self.count += 1
        if not self.enabled:
            return
        entry: dict[str, Any] = {
            "kind": kind,
            "provider": self.provider,
            "account": account,
            "stream": stream,
            "source": source,
            "reason": redact(reason),
            "run_at": format_timestamp(self._started),
        }
        if record is not None:
            entry["record"] = record
        if event is not None:
            entry["event"] = jsonl_object(event)
        # mask the values, not the serialised line: JSON escaping (quotes, backslashes,
        # control characters) hides a secret from a search in the text, and masking a
        # number inside the text would break the JSON
        entry = redact_value(entry)
        try:
            line = orjson.dumps(entry, default=lambda value: redact(str(value)))
        except orjson.JSONEncodeError:  # text JSON cannot hold (a lone surrogate): keep it escaped
            line = orjson.dumps(escaped(entry), default=lambda value: redact(str(value)))
        handle = self._open()
        handle.write(line + b"\n")
        # to the OS at once: the state (committed next) says this record is quarantined, and a
        # run killed after that commit must not lose the line in a Python buffer
        handle.flush()

    def sync(self) -> None:
        """Make the lines written so far durable (fsync) without closing the file."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None


def quarantine_key(provider: str, account: str, kind: str, stream: str, payload: Any) -> bytes:
    """What identifies a quarantined record across runs: its content, not where it was read."""
    try:
        content = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)
    except orjson.JSONEncodeError:  # text JSON cannot hold (a lone surrogate)
        content = orjson.dumps(escaped(payload), option=orjson.OPT_SORT_KEYS, default=str)
    prefix = f"{provider}\x1f{account}\x1f{kind}\x1f{stream}\x1f".encode()
    return hashlib.blake2b(prefix + content, digest_size=16).digest()


def escaped(value: Any) -> Any:
    """``value`` with every string made encodable: invalid characters as ``\\udXXX`` escapes."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {escaped(k): escaped(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [escaped(v) for v in value]
    return value
