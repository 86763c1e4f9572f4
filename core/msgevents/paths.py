"""Directories msgevents writes into (state, locks, quarantine, feed files), proven usable up front.

A path that cannot be created or written (a file in the way, a read-only mount
or working directory, missing permissions) is a configuration error naming the
path and the setting that chose it (exit 2), found before anything is read or
sent, never a traceback in the middle of a run.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from msgevents.errors import ConfigError

__all__ = ["STATE_SETTING", "ensure_directory", "unusable", "why_unusable"]

#: How users choose the state file; the lock and quarantine directories live beside it.
STATE_SETTING = "--state / MSGEVENTS_STATE"


def ensure_directory(path: Path, what: str, setting: str, mode: int = 0o700) -> None:
    """Create ``path`` (and its parents) if missing, then prove a file can be created in it.

    ``mode`` applies to directories created here only. Raises :class:`ConfigError`
    naming ``what`` (e.g. "state directory"), the path and ``setting``.
    """
    try:
        if not path.is_dir():  # exist_ok: another process may create it at the same moment
            path.mkdir(parents=True, exist_ok=True, mode=mode)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".msgevents-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise unusable(path, what, setting, exc) from None


def unusable(path: Path, what: str, setting: str, exc: OSError) -> ConfigError:
    """The configuration error for ``path`` that failed with ``exc``."""
    return ConfigError(
        f"cannot use {str(path)!r} as the {what} (set by {setting}): {why_unusable(path, exc)}"
    )


def why_unusable(path: Path, exc: OSError) -> str:
    in_the_way = _file_in_the_way(path)
    if in_the_way is not None:
        return f"{str(in_the_way)!r} is a file, not a directory"
    if exc.errno == errno.EROFS:
        return "read-only file system"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied (not writable by this user)"
    return exc.strerror or str(exc)


def _file_in_the_way(path: Path) -> Path | None:
    """The nearest of ``path`` and its ancestors that exists and is not a directory."""
    for candidate in (path, *path.parents):
        try:
            if candidate.exists():
                return None if candidate.is_dir() else candidate
        except OSError:
            return None
    return None
