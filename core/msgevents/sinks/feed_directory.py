"""The directory a ``feed`` sink writes into, shared with other runs and other hosts.

:class:`FeedDirectory` owns what concerns the directory rather than one run's
file: the exclusive lock under which files are created, named and renamed;
free ``event_history_<UTC second>`` names; locked temporary files; settling what
killed runs left behind (:meth:`FeedDirectory.reconcile`); the directory fsync.
The commit protocol itself (fsync, record pending, rename, acknowledge) is
the sink's (:mod:`msgevents.sinks.feed`).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import socket
import zipfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from msgevents.sink import SinkJournal
from msgevents.timestamps import UTC

__all__ = ["END", "HOST", "PREFIX", "TMP_PREFIX", "FeedDirectory", "remove_quietly", "zip_single"]

PREFIX = "event_history_"
TMP_PREFIX = ".partial-"
END = b"\n]\n"  # the last bytes of every finished file
#: This host in temporary file names: only this host can tell whether their writer is gone.
HOST = hashlib.blake2b(socket.gethostname().encode(), digest_size=4).hexdigest()


class FeedDirectory:
    """Names, temporary files and clean-up in one feed directory; ``zip`` picks ``.json.zip`` names."""

    def __init__(self, path: Path, *, zip: bool) -> None:
        self.path = path
        self.zip = zip
        self._used_names: set[str] = set()

    def lock(self) -> contextlib.AbstractContextManager[None]:
        """The directory lock, between processes writing into it."""
        return directory_lock(self.path)

    def create_temporary(self, name: str) -> tuple[Path, int]:
        """A new hidden temporary file and its descriptor, ``flock``-ed until the writer closes it.

        ``name`` must be unique per process and sink: two sinks of one process must not
        share a temporary file.
        """
        path = self.path / f"{TMP_PREFIX}{HOST}-{name}.json"
        with self.lock():  # created and locked at once for other runs' clean-up
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held until renamed (see reconcile)
        return path, fd

    def free_name(self) -> Path:
        """``event_history_<UTC second>.json[.zip]``, moving to the next second when taken.

        Call it under :meth:`lock`, and rename into the name before releasing it.
        """
        suffix = ".json.zip" if self.zip else ".json"
        moment = datetime.now(UTC).replace(microsecond=0)
        while True:
            name = f"{PREFIX}{moment:%Y%m%d%H%M%S}"
            taken = name in self._used_names or any(
                (self.path / f"{name}{ext}").exists() for ext in (".json", ".json.zip")
            )
            if not taken:
                self._used_names.add(name)
                return self.path / f"{name}{suffix}"
            moment += timedelta(seconds=1)

    def fsync(self) -> None:
        fsync_directory(self.path)

    def reconcile(self, journal: SinkJournal) -> None:
        """Settle files a killed run left pending: renamed → commit; not renamed → resend.

        A temporary file is complete and fsynced before it is recorded as pending, and
        only the rename takes it away: gone → renamed (committed, even when an uploader
        has moved the final file on since); still there → not renamed (deleted, its events
        sent again). The final name proves nothing: another run may have taken it since.
        """
        # under the directory lock, under which writers record a file as pending and rename it:
        # a run of another provider sharing this state is never caught in between
        with self.lock():
            for pending in journal.pending_files():
                renamed = not Path(pending.tmp_path).exists()
                if not renamed:
                    Path(pending.tmp_path).unlink(missing_ok=True)
                journal.resolve_pending_file(pending.file_id, renamed)
            self._remove_stale_temporaries(journal.owner)

    def _remove_stale_temporaries(self, owner: str) -> None:
        """Delete temporary files of runs killed while writing them (before they were pending).

        Their events were never acknowledged, so they are sent again; the file is litter.
        A writer holds an exclusive ``flock`` on its temporary file from creating it
        until it is renamed, so a file nobody holds is a dead run's. Only files named
        with this host's tag are touched (another host's locks may not be visible here).
        Called under the directory lock, under which files are created and renamed.
        A *finished* file of a run with another state file is left alone: that run may
        have recorded it as pending, and only its :meth:`reconcile` can tell (it needs the
        file to be there). This state's pending files were settled just before, so a
        finished file named with this journal's ``owner`` is litter too.
        """
        mine = f"{TMP_PREFIX}{HOST}-{owner}-"
        for path in self.path.glob(f"{TMP_PREFIX}{HOST}-*"):
            if unlocked(path) and (path.name.startswith(mine) or not _complete(path)):
                remove_quietly(path)


def zip_single(json_tmp: Path, final: Path) -> Path:
    """Replace a finished temporary JSON file by a fsynced zip holding exactly that file."""
    zip_tmp = json_tmp.with_suffix(".zip")
    inner = final.name[: -len(".zip")]
    try:
        with zipfile.ZipFile(zip_tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(json_tmp, arcname=inner)
        with open(zip_tmp, "rb") as handle:
            os.fsync(handle.fileno())
    except OSError:
        remove_quietly(zip_tmp)
        raise
    json_tmp.unlink()
    return zip_tmp


def unlocked(path: Path) -> bool:
    """Whether no process holds the ``flock`` of ``path`` (its writer is gone)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    else:
        return True
    finally:
        os.close(fd)


def _complete(path: Path) -> bool:
    """Whether a temporary file was finished: a whole zip archive, or JSON ending in ``]``."""
    try:
        if path.suffix == ".zip":
            return zipfile.is_zipfile(path)
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            if handle.tell() < len(END):
                return False
            handle.seek(-len(END), os.SEEK_END)
            return handle.read() == END
    except OSError:
        return True  # unreadable: not ours to judge


def remove_quietly(path: Path) -> None:
    """Delete a temporary file if it is there; cleaning up after a failure must not fail itself."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def directory_lock(directory: Path) -> Iterator[None]:
    """An exclusive ``flock`` on the directory itself, between processes writing into it."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
