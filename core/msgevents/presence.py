"""Whether a run is alive: a lock every delivering run holds, named by its run id.

Another process proves a run dead when it can take that lock: the holder's process
ended, however it ended (``kill -9`` included). That is what lets a run release the
claims of a dead one (:mod:`msgevents.state.claims`).

- a state file: an ``flock`` on ``locks/run-<state hash>-<run id>.lock`` beside it
  (the operating system releases it with the process; the file is removed by its run,
  or by whoever finds it free);
- a PostgreSQL state: a session-level advisory lock ``(namespace, run id)`` on a
  connection of its own (the server releases it when the session ends, which it does
  when the process ends: the socket closes).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from pathlib import Path
from typing import Any, Protocol

from msgevents.paths import STATE_SETTING, ensure_directory, unusable
from msgevents.state.location import is_postgres

__all__ = ["FilePresence", "Held", "PostgresPresence", "Presence", "presence_for"]

#: the first key of the two-key advisory locks of run presence ("msru")
NAMESPACE = 0x6D73_7275


class Held(Protocol):
    def release(self) -> None: ...


class Presence(Protocol):
    def hold(self, run_id: int) -> Held:
        """Take (and keep until released) the lock of ``run_id``, a new run."""
        ...

    def alive(self, run_id: int) -> bool:
        """Whether the run ``run_id`` still holds its lock (is running somewhere)."""
        ...


class _HeldFile:
    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None


class FilePresence:
    """Presence locks of runs on one state file, beside it (processes of one machine)."""

    def __init__(self, state_path: Path) -> None:
        self.directory = state_path.parent / "locks"
        self.tag = hashlib.sha256(state_path.name.encode()).hexdigest()[:8]

    def _path(self, run_id: int) -> Path:
        return self.directory / f"run-{self.tag}-{int(run_id)}.lock"

    def hold(self, run_id: int) -> Held:
        ensure_directory(self.directory.parent, "state directory", STATE_SETTING)
        ensure_directory(self.directory, "lock directory", STATE_SETTING)
        path = self._path(run_id)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise unusable(self.directory, "lock directory", STATE_SETTING, exc) from None
        fcntl.flock(fd, fcntl.LOCK_EX)  # a new run id: nobody else takes it
        return _HeldFile(path, fd)

    def alive(self, run_id: int) -> bool:
        """A free lock proves the run ended (its file is removed then); a missing file too: a
        run holds its lock before it claims anything."""
        path = self._path(run_id)
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return False
        except OSError:
            return True  # cannot tell: assume alive, release nothing
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            path.unlink(missing_ok=True)
            return False
        finally:
            os.close(fd)


class _HeldSession:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def release(self) -> None:
        if self._conn is not None:
            # at once: closing alone frees the lock only once the server saw the session end
            with contextlib.suppress(Exception):  # (closing below frees it anyway)
                self._conn.execute("SELECT pg_advisory_unlock_all()")
            self._conn.close()  # ending the session releases its advisory locks
            self._conn = None


class PostgresPresence:
    """Presence locks of runs on a PostgreSQL state: advisory locks, seen from every machine."""

    def __init__(self, url: str, probe: Any) -> None:
        self.url = url
        self.probe = probe  # a connection that never holds presence locks (the state's own)

    def hold(self, run_id: int) -> Held:
        from msgevents.state.postgres import open_connection

        conn = open_connection(self.url, "run")
        conn.execute("SELECT pg_advisory_lock(%s::int4, %s::int4)", (NAMESPACE, int(run_id)))
        return _HeldSession(conn)

    def alive(self, run_id: int) -> bool:
        taken = self.probe.execute(
            "SELECT pg_try_advisory_lock(%s::int4, %s::int4)", (NAMESPACE, int(run_id))
        ).fetchone()[0]
        if taken:
            self.probe.execute("SELECT pg_advisory_unlock(%s::int4, %s::int4)", (NAMESPACE, int(run_id)))
        return not taken


def presence_for(location: Path | str, probe: Any = None) -> Presence:
    """The presence locks of runs on the state at ``location`` (``probe``: its connection)."""
    if is_postgres(location):
        return PostgresPresence(str(location), probe)
    return FilePresence(Path(location))
