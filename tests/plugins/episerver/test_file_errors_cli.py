"""``msgevents collect --provider episerver --input …`` with broken export files, as a subprocess.

A truncated ``.csv.gz`` and a file with the wrong delimiter are file errors:
exit 4, the file and the reason on stderr and in the report, the rows read
before the fault delivered, the other files still read, nothing of the unread
rest quarantined; re-running with the repaired file delivers nothing twice.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HEADER = "mailing_id;recipient_list_id;recipient_id;timestamp"


def collect(tmp_path: Path, *inputs: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGEVENTS_")}
    command = [sys.executable, "-m", "msgevents", "collect", "--provider", "episerver",
               "--to", f"feed:{tmp_path / 'feeds'}", "--state", str(tmp_path / "state" / "state.db"),
               "--report", str(tmp_path / "report.json")]  # fmt: skip
    for path in inputs:
        command += ["--input", str(path)]
    return subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


def feed_recipients(tmp_path: Path, event: str) -> list[str]:
    rows: list[dict] = []
    for path in sorted((tmp_path / "feeds").glob("event_history_*.json")):
        rows += json.loads(path.read_text())
    return [row.get("email") or row["id"] for row in rows if row["event"] == event]


def rows(first: int, count: int, delimiter: str = ";") -> str:
    return "".join(
        delimiter.join(["304405", "987654", f"user{n}@example.com", str(1730716800000 + n)]) + "\n"
        for n in range(first, first + count)
    )


def test_truncated_gzip_and_wrong_delimiter_are_file_errors_then_the_fix_delivers_the_rest(tmp_path):
    whole = gzip.compress(f"{HEADER}\n{rows(0, 4000)}".encode())
    cut = tmp_path / "opens_cut.csv.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    tabs = tmp_path / "recipients_tabs.csv"
    tabs.write_text(HEADER.replace(";", "\t") + "\n" + rows(0, 20, "\t"))
    good = tmp_path / "recipients_good.csv"
    good.write_text(f"{HEADER}\n{rows(9000, 5)}")

    first = collect(tmp_path, cut, tabs, good)

    assert first.returncode == 4, first.stderr
    assert "Traceback" not in first.stderr
    for path, reason in ((cut, "truncated"), (tabs, "none of the columns of its header")):
        assert any(str(path) in line and reason in line for line in first.stderr.splitlines()), first.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert [item["file"] for item in report["file_errors"]] == [str(cut), str(tabs)]
    assert report["exit_code"] == 4
    assert not list(tmp_path.rglob("quarantine/*.jsonl"))  # no row of the unread rest quarantined
    from_cut = feed_recipients(tmp_path, "Message Viewed")
    assert 0 < len(from_cut) < 4000
    assert from_cut == [f"user{n}@example.com" for n in range(len(from_cut))]  # the rows before the fault
    assert feed_recipients(tmp_path, "Message Sent") == [f"user{n}@example.com" for n in range(9000, 9005)]

    cut.write_bytes(whole)  # repaired
    tabs.write_text(f"{HEADER}\n{rows(0, 20)}")
    second = collect(tmp_path, cut, tabs, good)

    assert second.returncode == 0, second.stderr
    opens, sent = feed_recipients(tmp_path, "Message Viewed"), feed_recipients(tmp_path, "Message Sent")
    assert sorted(opens) == sorted(f"user{n}@example.com" for n in range(4000))  # each once
    assert sorted(sent) == sorted(f"user{n}@example.com" for n in [*range(20), *range(9000, 9005)])
