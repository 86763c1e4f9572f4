"""The ``jsonl`` sink: one canonical event per line, internal fields included.

``--to jsonl:PATH`` appends to a file, ``--to jsonl:-`` writes to stdout (the
run summary goes to stderr, so stdout stays pure JSON Lines). A batch is
acknowledged once its lines are written and flushed (fsynced for regular files;
a character device such as ``/dev/null`` or a named pipe is written as it is). Like
every sink it has its own ledger and positions: running the same window again
writes nothing twice; use a fresh ``--state`` for an ad-hoc dump.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from msgevents.errors import ConfigError
from msgevents.events import Event
from msgevents.formats import dumps, jsonl_object
from msgevents.hookspecs import hookimpl
from msgevents.paths import why_unusable
from msgevents.sink import Outcome, Receipt, Sink, SinkJournal

__all__ = ["JsonlSink"]


class JsonlSink(Sink):
    """Canonical events as JSON Lines, to a file or stdout."""

    name = "jsonl"
    help = "jsonl:PATH — canonical events as JSON Lines (PATH '-' = stdout)"

    def __init__(self, target: str | None) -> None:
        super().__init__(target)
        if not target:
            raise ConfigError("--to jsonl needs a file or '-': --to jsonl:PATH")
        self.path = None if target == "-" else _absolute(target)
        self._out: IO[bytes] | None = None
        self._outcomes: list[Outcome] = []
        self._broken: str | None = None
        self._fsync = False  # a regular file: fsync before acknowledging

    @property
    def key(self) -> str:
        return f"jsonl:{self.path or '-'}"

    def open(self, journal: SinkJournal) -> None:
        if self.path is None:
            self._out = sys.stdout.buffer
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._out = open(self.path, "ab")  # noqa: SIM115 - closed in close()
            self._fsync = stat.S_ISREG(os.fstat(self._out.fileno()).st_mode)
        except OSError as exc:
            raise ConfigError(
                f"cannot open {str(self.path)!r} for --to jsonl:PATH: {why_unusable(self.path.parent, exc)}"
            ) from None

    def submit(self, events: Sequence[Event], tag: Any = None) -> None:
        assert self._out is not None
        if self._broken is None:
            data = b"".join(dumps(jsonl_object(e)) + b"\n" for e in events)
            try:
                self._out.write(data)
                self._out.flush()
                if self._fsync:
                    os.fsync(self._out.fileno())
            except OSError as exc:
                self._broken = f"jsonl: cannot write to {self.path or 'stdout'}: {exc.strerror}"
            else:
                self._outcomes.append(Outcome(delivered=[Receipt.of(e, tag) for e in events]))
                return
        failed = [(Receipt.of(e, tag), e) for e in events]
        self._outcomes.append(Outcome(failed=failed, error=self._broken))

    def poll(self) -> list[Outcome]:
        outcomes, self._outcomes = self._outcomes, []
        return outcomes

    def close(self) -> None:
        if self._out is not None and self.path is not None:
            if self._broken is None:
                self._out.close()
            else:  # the unwritten rest was reported as failed; flushing it again fails again
                with contextlib.suppress(OSError):
                    self._out.close()
        self._out = None


def _absolute(target: str) -> Path:
    """The target's absolute path; symlinks resolved, except to a device or pipe (``/dev/stdout``
    resolves to ``/proc/<pid>/fd/pipe:[…]``, which cannot be opened by name)."""
    path = Path(os.path.abspath(Path(target).expanduser()))
    return path if path.exists() and not path.is_file() else path.resolve()


@hookimpl
def register_sinks(register: Any) -> None:
    register(JsonlSink)
