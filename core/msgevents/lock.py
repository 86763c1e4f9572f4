"""One run at a time per (provider, account) and state file.

An exclusive ``flock`` on a small file beside the state file. The operating
system releases it when the process ends, however it ends (``kill -9``
included), so a crashed run never leaves a stale lock behind. The file holds
the holder's pid so the second run can name it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from types import TracebackType

from msgevents.errors import LockedError
from msgevents.paths import STATE_SETTING, ensure_directory, unusable

__all__ = ["RunLock"]


class RunLock:
    """``with RunLock(state_path, provider, account):`` or :class:`LockedError` at once."""

    def __init__(self, state_path: Path, provider: str, account: str, *, doing: str = "") -> None:
        """``doing`` says what the holder does in the message a second process gets
        (default: "collecting '<provider>'")."""
        # the state file's name is part of the key: two state files in one directory are independent
        digest = hashlib.sha256(f"{state_path.name}\x1f{provider}\x1f{account}".encode()).hexdigest()[:16]
        self.path = state_path.parent / "locks" / f"{provider}-{digest}.lock"
        self.provider = provider
        self.doing = doing or f"collecting {provider!r}"
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

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
