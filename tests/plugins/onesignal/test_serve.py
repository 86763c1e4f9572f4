"""Black-box: OneSignal Event Streams requests to ``msgevents serve`` over real HTTP on 127.0.0.1.

The receiver runs as a subprocess with ``MSGEVENTS_ONESIGNAL_WEBHOOK_TOKEN``; requests carry the
stream's header as OneSignal sends it (``Authorization: Bearer <token>``) and the bodies of the
sample dump. Forged requests get 401 and are stored nowhere; a retried request and the same
events read afterwards by ``collect --input`` from the dump are delivered once; the token
appears in no output, log, state or quarantine file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from serve_support import Receiver
from support import ROOT, subprocess_env

pytestmark = pytest.mark.slow

DUMP = ROOT / "examples" / "onesignal" / "event-stream-20250310.jsonl"
TOKEN = "os-stream-token-0c4e8a1f6b2d9e73"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
FAST = {"MSGEVENTS_SERVE_BATCH_AGE": "0.2", "MSGEVENTS_SERVE_RETRY_MAX": "0.5"}


def feed_lines(directory: Path) -> list[dict]:
    return [
        line
        for path in sorted(directory.glob("event_history_*.json"))
        for line in json.loads(path.read_text())
    ]


def delivered(directory: Path) -> Counter:
    return Counter(
        (line.get("id") or line["email"], line["event"], line["timestamp"]) for line in feed_lines(directory)
    )


def test_event_stream_requests_and_the_dump_of_them_are_delivered_once(tmp_path):
    lines = DUMP.read_text().splitlines()
    state = tmp_path / "st" / "state.db"
    args = ("--provider", "onesignal", "--state", str(state), "--to", "feed:feeds", "-v")
    env = {**FAST, "MSGEVENTS_ONESIGNAL_WEBHOOK_TOKEN": TOKEN}
    with Receiver(tmp_path, *args, env=env) as receiver:
        first = lines[0].encode()
        forged = [
            {"Authorization": "Bearer not-the-token"},
            {"Authorization": TOKEN},  # no scheme
            {"X-Api-Key": TOKEN},  # another header than the configured one
            {},
        ]
        for headers in forged:
            answer = receiver.post("onesignal", first, headers)
            assert answer.status_code == 401, answer.text
            assert TOKEN not in answer.text
        answers = [receiver.post("onesignal", line.encode(), AUTH) for line in lines[:10]]
        assert [a.status_code for a in answers] == [200] * 10
        counts = [a.json() for a in answers]
        assert counts[3] == counts[2] == {"accepted": 1, "quarantined": 0, "not_modelled": 0}  # a retry
        assert counts[8] == {"accepted": 0, "quarantined": 1, "not_modelled": 0}  # push without External ID
        assert counts[9] == {"accepted": 0, "quarantined": 0, "not_modelled": 1}  # in-app impression
        garbage = receiver.post("onesignal", b'{"event.kind": "message.push.sent", ', AUTH)
        assert garbage.status_code == 200  # authentic but unreadable: quarantined whole, not retried
        assert garbage.json()["quarantined"] == 1
        receiver.wait_for(lambda: sum(delivered(tmp_path / "feeds").values()) == 7, what="7 events")
        assert receiver.terminate() == 0
    assert "POST /webhooks/onesignal 401" in receiver.stderr
    # the receiver's own dump of the day, read afterwards: only the events it had not received are new
    result = subprocess.run(
        [sys.executable, "-m", "msgevents", "collect", "--provider", "onesignal", "--input", str(DUMP),
         "--to", "feed:feeds", "--state", str(state), "--report", "report.json"],
        cwd=tmp_path, env=subprocess_env(tmp_path, MSGEVENTS_ONESIGNAL_WEBHOOK_TOKEN=TOKEN),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["totals"]["delivered"] == 5
    got = delivered(tmp_path / "feeds")
    assert sum(got.values()) == len(got) == 12  # every event once, whichever way it came
    assert got[("C-3001", "Message Clicked", "2025-03-10T09:04:31Z")] == 1
    # the token is nowhere: not in the receiver's log, the collect's output or any stored byte
    texts = [receiver.stderr, receiver.stdout, result.stdout, result.stderr]
    texts += [
        p.read_bytes().decode("latin-1")
        for p in tmp_path.rglob("*")
        if p.is_file() and ".cache" not in p.parts
    ]
    assert all(TOKEN not in text for text in texts)


def test_without_the_token_setting_serve_refuses_to_start_naming_it(tmp_path):
    state = tmp_path / "st" / "state.db"
    command = [sys.executable, "-m", "msgevents", "serve", "--port", "0", "--provider", "onesignal",
               "--state", str(state), "--to", "feed:feeds"]  # fmt: skip
    result = subprocess.run(
        command,
        cwd=tmp_path,
        env=subprocess_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "MSGEVENTS_ONESIGNAL_WEBHOOK_TOKEN" in result.stderr
