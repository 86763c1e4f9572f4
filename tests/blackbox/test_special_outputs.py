"""Outputs that are not regular files: ``--to jsonl:/dev/null``, a named pipe, ``--report`` to a pipe.

Nothing may assume fsync or rename works there: ``/dev/null`` rejects fsync
(EINVAL), and renaming a temporary file over a pipe or device would replace it.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from support import subprocess_env

pytestmark = pytest.mark.slow

RECORDS = "".join(
    json.dumps({"id": i, "kind": "sent", "email": f"u{i}@example.com", "ts": 1715000000 + i}) + "\n"
    for i in range(3)
)


def collect(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    source = tmp_path / "in.jsonl"
    source.write_text(RECORDS)
    command = [sys.executable, "-m", "msgevents", "collect", "--provider", "fake", "--input", str(source),
               "--state", str(tmp_path / "st" / "state.db"), *args]  # fmt: skip
    env = subprocess_env(tmp_path)
    return subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def drain(fifo: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with fifo.open("rb") as handle:
            into.append(handle.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_jsonl_to_dev_null_delivers_and_leaves_nothing_pending(tmp_path):
    first = collect(tmp_path, "--to", "jsonl:/dev/null")
    second = collect(tmp_path, "--to", "jsonl:/dev/null")

    assert first.returncode == 0, first.stderr
    assert "outbox" not in first.stderr
    assert second.returncode == 0, second.stderr
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_jsonl_into_a_named_pipe(tmp_path):
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = drain(fifo, received)

    result = collect(tmp_path, "--to", f"jsonl:{fifo}")
    reader.join(timeout=30)

    assert result.returncode == 0, result.stderr
    lines = received[0].decode().splitlines()
    assert sorted(json.loads(line)["email"] for line in lines) == [f"u{i}@example.com" for i in range(3)]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_the_report_into_a_named_pipe_is_written_not_replaced(tmp_path):
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = drain(fifo, received)

    result = collect(tmp_path, "--to", f"feed:{tmp_path / 'feeds'}", "--report", str(fifo))
    reader.join(timeout=30)

    assert result.returncode == 0, result.stderr
    assert json.loads(received[0])["exit_code"] == 0
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert not (tmp_path / "report.fifo.tmp").exists()


def test_a_report_path_that_cannot_be_written_exits_2_without_a_traceback(tmp_path):
    (tmp_path / "blocker").write_text("x\n")
    report = tmp_path / "blocker" / "r.json"
    result = collect(tmp_path, "--to", f"feed:{tmp_path / 'feeds'}", "--report", str(report))

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--report" in result.stderr
    assert str(tmp_path / "blocker" / "r.json") in result.stderr
