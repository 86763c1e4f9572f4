"""The run lock (``msgevents.lock``): one run per (provider, account) and state.

Covers acquiring and releasing, a second run in another process failing at
once with :class:`LockedError` naming the holder's pid, the lock being freed
when its holder is killed with SIGKILL, and independence of different
providers, accounts and state files. The behaviour shared by both backends
(a lock file beside a SQLite state; an advisory lock in a PostgreSQL state) is
tested on both (``location``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from msgevents.errors import LockedError
from msgevents.lock import RunLock, run_lock
from msgevents.state.location import is_postgres

HOLDER = textwrap.dedent(
    """
    import sys
    from msgevents.lock import run_lock
    from msgevents.state.location import state_location

    lock = run_lock(state_location(sys.argv[1]), sys.argv[2], sys.argv[3])
    lock.acquire()
    print("locked", flush=True)
    sys.stdin.read()  # hold until stdin closes (or the process is killed)
    lock.release()
    print("released", flush=True)
    """
)


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


@pytest.fixture
def location(state_location: Path | str) -> Path | str:
    return state_location


def eventually_free(location: Path | str, provider: str = "episerver", account: str = "acct-1"):
    """The lock, once free: a server notices a killed client's closed socket within moments."""
    deadline = time.monotonic() + 10
    while True:
        lock = run_lock(location, provider, account)
        try:
            lock.acquire()
            return lock
        except LockedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture
def holder(location: Path | str):
    """Start a process holding the lock of (episerver, acct-1); yields it once it holds the lock."""
    processes: list[subprocess.Popen] = []

    def start(provider: str = "episerver", account: str = "acct-1") -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(location), provider, account],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        processes.append(process)
        assert process.stdout.readline().strip() == "locked"
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate()


def test_acquire_and_release(state_path):
    lock = RunLock(state_path, "episerver", "acct-1")
    lock.acquire()
    assert lock.path.parent == state_path.parent / "locks"
    assert lock.path.read_text() == str(os.getpid())
    lock.release()
    lock.acquire()  # free again
    lock.release()


def test_the_lock_file_is_owner_only(state_path):
    with RunLock(state_path, "episerver", "acct-1") as lock:
        assert lock.path.stat().st_mode & 0o077 == 0
        assert lock.path.parent.stat().st_mode & 0o077 == 0


def test_a_second_run_in_this_process_is_refused_naming_our_pid(location):
    with run_lock(location, "episerver", "acct-1"):
        with pytest.raises(LockedError) as caught:
            run_lock(location, "episerver", "acct-1").acquire()
        assert f"pid {os.getpid()}" in str(caught.value)
        assert "'episerver'" in str(caught.value)


def test_a_second_run_in_another_process_fails_naming_its_pid(location, holder):
    process = holder()
    with pytest.raises(LockedError) as caught:
        run_lock(location, "episerver", "acct-1").acquire()
    assert f"pid {process.pid}" in str(caught.value)
    if is_postgres(location):
        assert f"pid {process.pid} on {socket.gethostname()}" in str(caught.value)
        assert "********" not in str(caught.value)  # the URL is shown without its password
    # the holder releases when told to; then the lock is ours
    out, _ = process.communicate("")
    assert out.strip() == "released"
    with run_lock(location, "episerver", "acct-1"):
        pass


def test_the_lock_is_released_when_the_holder_is_killed(location, holder):
    process = holder()
    with pytest.raises(LockedError):
        run_lock(location, "episerver", "acct-1").acquire()
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    lock = eventually_free(location)
    if not is_postgres(location):
        assert lock.path.read_text() == str(os.getpid())
    lock.release()


def test_other_providers_and_accounts_are_not_blocked(location, holder):
    holder("episerver", "acct-1")
    with run_lock(location, "episerver", "acct-2"), run_lock(location, "mailgun", "acct-1"):
        pass


@pytest.mark.parametrize("state_location", ["sqlite"], indirect=True)
def test_another_state_file_in_the_same_directory_is_not_blocked(state_path, holder):
    holder()
    with RunLock(state_path.with_name("other.db"), "episerver", "acct-1"):
        pass
    with pytest.raises(LockedError):
        RunLock(state_path, "episerver", "acct-1").acquire()


def test_a_state_directory_created_meanwhile_by_another_run_is_fine(state_path, monkeypatch):
    """Two runs starting at once both see no directory; the second mkdir must not crash."""
    state_path.parent.joinpath("locks").mkdir(parents=True)
    monkeypatch.setattr(Path, "exists", lambda self: False)  # both checked before either created it
    with RunLock(state_path, "episerver", "acct-1") as lock:
        assert lock.path.read_text() == str(os.getpid())
