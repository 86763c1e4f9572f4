"""One run at a time per (provider, account) and state.

A state file: an exclusive ``flock`` on a small file beside it. The operating
system releases it when the process ends, however it ends (``kill -9``
included), so a crashed run never leaves a stale lock behind. The file holds
the holder's pid so the second run can name it.

A backfill part locks its own part (``part``) instead of the whole account: parts of
one account run at once, a part never twice at once.

A PostgreSQL state: a session-level advisory lock on a connection of its own,
held for the run. The server releases it when that session ends, which it does
when the process ends however it ends (the socket closes). The session's
``application_name`` carries the holder's pid and host, which the second run
reads from ``pg_locks``/``pg_stat_activity`` to name it: nothing to clean up.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from msgevents.errors import LockedError
from msgevents.paths import STATE_SETTING, ensure_directory, unusable
from msgevents.state.location import describe_location, is_postgres

__all__ = ["PostgresRunLock", "RunLock", "run_lock"]


class _HeldLock:
    """What both run locks share: ``with lock:`` acquires (or raises :class:`LockedError`) and releases."""

    def acquire(self) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class RunLock(_HeldLock):
    """``with RunLock(state_path, provider, account):`` or :class:`LockedError` at once."""

    def __init__(
        self, state_path: Path, provider: str, account: str, part: str | None = None, *, doing: str = ""
    ) -> None:
        """``doing`` says what the holder does in the message a second process gets
        (default: "collecting '<provider>'"); ``part`` names a backfill part, locked alone."""
        # the state file's name is part of the key: two state files in one directory are independent
        digest = hashlib.sha256(_key(state_path.name, provider, account, part).encode()).hexdigest()[:16]
        kind = "part-" if part else ""
        self.path = state_path.parent / "locks" / f"{provider}-{kind}{digest}.lock"
        self.provider = provider
        self.doing = doing or _doing(provider, part)
        self._fd: int | None = None

    def acquire(self) -> None:
        ensure_directory(self.path.parent.parent, "state directory", STATE_SETTING)
        ensure_directory(self.path.parent, "lock directory", STATE_SETTING)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise unusable(self.path.parent, "lock directory", STATE_SETTING, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockedError(
                f"another msgevents run (pid {holder}) is {self.doing} with this "
                f"state file; wait for it to finish or stop it (lock: {self.path})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class PostgresRunLock(_HeldLock):
    """The run lock of a PostgreSQL state: ``pg_try_advisory_lock`` on a session of its own."""

    def __init__(
        self, url: str, provider: str, account: str, part: str | None = None, *, doing: str = ""
    ) -> None:
        digest = hashlib.sha256(_key("msgevents run", provider, account, part).encode()).digest()
        self.key = int.from_bytes(digest[:8], "big", signed=True)
        self.url = url
        self.provider = provider
        self.doing = doing or _doing(provider, part)
        self._conn: Any = None

    def acquire(self) -> None:
        from msgevents.state.postgres import open_connection

        conn = open_connection(self.url, "run")
        if conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0]:
            self._conn = conn
            return
        holder = self._holder(conn)
        conn.close()
        raise LockedError(
            f"another msgevents run ({holder}) is {self.doing} with this state; "
            f"wait for it to finish or stop it (advisory lock {self.key} in {describe_location(self.url)})"
        )

    def _holder(self, conn: Any) -> str:
        """The holding session's ``application_name`` (``msgevents run pid N on HOST``), if visible."""
        unsigned = self.key & 0xFFFF_FFFF_FFFF_FFFF
        row = conn.execute(
            "SELECT a.application_name, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
            "AND l.classid::bigint = %s AND l.objid::bigint = %s",
            (unsigned >> 32, unsigned & 0xFFFF_FFFF),
        ).fetchone()
        if row is None:
            return "unknown"
        name, backend = row
        if name and name.startswith("msgevents run "):
            return name.removeprefix("msgevents run ")
        return f"server session {backend}"

    def release(self) -> None:
        if self._conn is not None:
            self._conn.close()  # ending the session releases its advisory locks
            self._conn = None


def run_lock(
    location: Path | str, provider: str, account: str, part: str | None = None, *, doing: str = ""
) -> RunLock | PostgresRunLock:
    """The run lock of (provider, account) — or of one backfill ``part`` of it — in the state at
    ``location`` (a path or a URL); ``doing`` says what the holder does in the message a second
    process gets."""
    if is_postgres(location):
        return PostgresRunLock(str(location), provider, account, part, doing=doing)
    return RunLock(Path(location), provider, account, part, doing=doing)


def _key(first: str, provider: str, account: str, part: str | None) -> str:
    return f"{first}\x1f{provider}\x1f{account}" + (f"\x1fpart\x1f{part}" if part else "")


def _doing(provider: str, part: str | None) -> str:
    return f"running the backfill part {part} of {provider!r}" if part else f"collecting {provider!r}"
