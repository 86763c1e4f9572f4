"""End to end: ``msgevents collect --provider episerver`` as a subprocess against the emulator.

One live run through faults (5xx, 429 + Retry-After, a dropped connection, a
session expiring mid-run, malformed rows) into Data Feed files, then a second
run that delivers nothing new. Asserts on exit codes, feed contents and what
the emulator received, not on the summary's wording.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .emulator import Dataset, Fault

pytestmark = pytest.mark.slow

DATASET = Dataset.generate(seed=5, mailings=2, recipients=30, malformed=2)


def collect(emulator, tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGEVENTS_")}
    env.update(emulator.env())
    feeds, state = f"feed:{tmp_path / 'feeds'}", str(tmp_path / "state.db")
    command = [sys.executable, "-m", "msgevents", "collect", "--provider", "optimizely",
               "--to", feeds, "--state", state, *args]  # fmt: skip
    return subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


def feed_objects(tmp_path: Path) -> list[dict]:
    objects = []
    for path in sorted((tmp_path / "feeds").glob("event_history_*.json")):
        objects += json.loads(path.read_text())
    return objects


def test_live_collect_through_faults_then_nothing_new(live_emulator, tmp_path):
    faults = [
        Fault.http("getOpens", 503),
        Fault.http("unsubscribes", 429, retry_after=0),
        Fault.drop("getClicks"),
        Fault.session_expired("getResponses"),
    ]
    emulator = live_emulator(DATASET, faults)
    expected_sent = len(DATASET.recipients)

    first = collect(emulator, tmp_path)
    delivered = feed_objects(tmp_path)
    second = collect(emulator, tmp_path)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "test-password" not in first.stderr + first.stdout
    events = [obj["event"] for obj in delivered]
    assert events.count("Message Sent") == expected_sent
    assert events.count("Message Viewed") == len(DATASET.opens) - 2  # the malformed rows
    assert events.count("Message Clicked") == len(DATASET.clicks)
    assert events.count("Message Unsubscribed") == len(DATASET.unsubscribes)
    assert "Message Delivered" not in events
    assert all(obj.get("url") for obj in delivered if obj["event"] == "Message Clicked")
    assert feed_objects(tmp_path) == delivered  # the second run added nothing
    calls = emulator.calls()
    assert calls.count("logout") == 2
    assert calls.count("login") >= 3  # two runs plus the expired session
    quarantined = list(tmp_path.rglob("quarantine/*.jsonl"))
    reasons = [json.loads(line)["reason"] for p in quarantined for line in p.read_text().splitlines()]
    assert any("column timestamp" in r for r in reasons)
