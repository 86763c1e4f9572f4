"""Paths msgevents cannot create or write are configuration errors (exit 2), never a traceback.

The state file (``--state`` / ``MSGEVENTS_STATE``), the lock and quarantine
directories beside it, the feed directory (``--to feed:DIR``) and the jsonl file:
a file in the way, a read-only place (``/proc``, ``/sys``: read-only even for
root, as CI runs), a read-only working directory for the default state. The
message names the path and the setting. A chmod-based variant runs only when
not root (root ignores permission bits).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import subprocess_env

pytestmark = pytest.mark.slow

RECORD = '{"id": 1, "kind": "sent", "email": "a@example.com", "ts": 1715000000}\n'


def collect(tmp_path: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    source = tmp_path / "in.jsonl"
    source.write_text(RECORD)
    command = [sys.executable, "-m", "msgevents", "collect", "--provider", "fake", "--input", str(source)]
    command += args
    return subprocess.run(
        command,
        cwd=cwd or tmp_path,
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_config_error(result: subprocess.CompletedProcess, *expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for text in expected:
        assert text in result.stderr, result.stderr


@pytest.fixture
def blocker(tmp_path: Path) -> Path:
    path = tmp_path / "blocker"
    path.write_text("a regular file where a directory should be\n")
    return path


def test_a_state_path_under_a_regular_file(tmp_path, blocker):
    result = collect(tmp_path, "--state", str(blocker / "state.db"))
    assert_config_error(result, str(blocker), "is a file, not a directory", "--state / MSGEVENTS_STATE")


def test_a_state_path_from_the_environment_under_a_regular_file(tmp_path, blocker):
    source = tmp_path / "in.jsonl"
    source.write_text(RECORD)
    env = subprocess_env(tmp_path, MSGEVENTS_STATE=str(blocker / "deeper" / "state.db"))
    command = [sys.executable, "-m", "msgevents", "collect", "--provider", "fake", "--input", str(source)]
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert_config_error(result, str(blocker), "MSGEVENTS_STATE")


def test_a_state_path_that_is_a_directory(tmp_path):
    (tmp_path / "state.db").mkdir()
    result = collect(tmp_path, "--state", str(tmp_path / "state.db"))
    assert_config_error(result, str(tmp_path / "state.db"), "is a directory", "--state")


@pytest.mark.parametrize("place", ["/proc/msgevents-test", "/sys/msgevents-test"])
def test_a_state_path_on_a_read_only_file_system(tmp_path, place):
    result = collect(tmp_path, "--state", f"{place}/state.db")
    assert_config_error(result, place, "--state / MSGEVENTS_STATE")


def test_the_default_state_in_a_read_only_working_directory(tmp_path):
    result = collect(tmp_path, cwd=Path("/proc"))
    assert_config_error(result, ".msgevents", "--state / MSGEVENTS_STATE")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_state_directory_without_write_permission(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        result = collect(tmp_path, "--state", str(locked / "state.db"))
    finally:
        locked.chmod(0o700)
    assert_config_error(result, str(locked), "permission denied", "--state")


def test_a_file_where_the_quarantine_directory_goes(tmp_path):
    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "quarantine").write_text("in the way\n")
    result = collect(tmp_path, "--state", str(tmp_path / "st" / "state.db"))
    assert_config_error(result, "quarantine directory", str(tmp_path / "st" / "quarantine"), "--state")


def test_a_file_where_the_lock_directory_goes(tmp_path):
    (tmp_path / "st").mkdir()
    (tmp_path / "st" / "locks").write_text("in the way\n")
    result = collect(tmp_path, "--state", str(tmp_path / "st" / "state.db"))
    assert_config_error(result, "lock directory", "--state")


@pytest.mark.parametrize("under", [False, True])
def test_a_feed_directory_that_is_a_file_or_under_one(tmp_path, blocker, under):
    target = blocker / "feeds" if under else blocker
    result = collect(tmp_path, "--state", str(tmp_path / "st" / "state.db"), "--to", f"feed:{target}")
    assert_config_error(result, "feed directory", str(target), str(blocker), "--to feed:DIR")


def test_a_feed_directory_on_a_read_only_file_system(tmp_path):
    state = str(tmp_path / "st" / "state.db")
    result = collect(tmp_path, "--state", state, "--to", "feed:/proc/msgevents-feeds")
    assert_config_error(result, "/proc/msgevents-feeds", "--to feed:DIR")


def test_a_jsonl_file_under_a_regular_file(tmp_path, blocker):
    state = str(tmp_path / "st" / "state.db")
    result = collect(tmp_path, "--state", state, "--to", f"jsonl:{blocker}/out.jsonl")
    assert_config_error(result, str(blocker), "--to jsonl:PATH")
