"""Black-box: ``msgevents collect --provider twilio`` as a subprocess, from the sample dump in
``examples/twilio/`` with its phone lookup file, into the CrossEngage emulator on 127.0.0.1,
twice (with faults): every event exactly once, keyed by user id; the unresolved number and the
callback without a time are quarantined with their reasons; nothing is sent the second time.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT, subprocess_env

from msgevents import NotModelled, replace
from msgevents.identity import normalise_phone
from msgevents.testing.crossengage_emulator import CrossEngageEmulator
from msgevents_twilio import TwilioProvider, TwilioSettings

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "examples" / "twilio"
DUMP = EXAMPLES / "status-callbacks-20250214.jsonl"
LOOKUP = EXAMPLES / "lookup" / "phones.csv"
API_KEY = "ce-key-for-twilio-tests"


def expected_events() -> list:
    """The sample mapped in-process, keyed through the lookup file, one per event id."""
    with LOOKUP.open() as f:
        users = {normalise_phone(row["phone"]): row["user_id"] for row in csv.DictReader(f)}
    provider = TwilioProvider(TwilioSettings(_env_file=None))
    events = {}
    for batch in provider.read_input(DUMP):
        for record in batch:
            try:
                result = provider.map_record(record)
            except Exception:
                continue
            if isinstance(result, NotModelled):
                continue
            for event in result:
                if event.phone in users:
                    events[event.event_id] = replace(event, user_id=users[event.phone])
    return list(events.values())


def collect(tmp_path: Path, ce: CrossEngageEmulator, run: int) -> subprocess.CompletedProcess:
    env = subprocess_env(
        tmp_path,
        MSGEVENTS_CROSSENGAGE_API_KEY=API_KEY,
        MSGEVENTS_CROSSENGAGE_BASE_URL=ce.base_url,
        MSGEVENTS_TWILIO_IDENTITY_FILE=str(LOOKUP),
    )
    args = [sys.executable, "-m", "msgevents", "collect", "--provider", "twilio", "--input", str(DUMP)]
    args += ["--to", "crossengage", "--report", str(tmp_path / f"report{run}.json")]
    return subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_sample_dump_reaches_crossengage_exactly_once_keyed_by_user_id(tmp_path):
    expected = expected_events()
    assert len(expected) == 8
    with CrossEngageEmulator(api_key=API_KEY, faults=["503", "drop-before"]) as ce:
        first = collect(tmp_path, ce, 1)
        second = collect(tmp_path, ce, 2)
        assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
        comparison = ce.compare(expected)
        assert ce.violations == []
        identities = {identity for identity, _event in ce.accepted}
        bodies = [event for _identity, event in ce.accepted]
    assert comparison.exact, comparison
    assert identities == {("id", "C-2001"), ("id", "C-2002"), ("id", "C-2003"), ("id", "C-2004")}
    assert all(event["properties"]["channel"] == "SMS" for event in bodies)
    assert all("phone" not in json.dumps(event) for event in bodies)  # internal: never sent
    reports = [json.loads((tmp_path / f"report{n}.json").read_text()) for n in (1, 2)]
    assert reports[0]["totals"]["delivered"] == 8
    assert reports[1]["totals"]["delivered"] == 0
    assert reports[0]["not_modelled"] == {"accepted": 1, "queued": 1}
    quarantined = [
        json.loads(line) for p in tmp_path.rglob("quarantine/*.jsonl") for line in p.read_text().splitlines()
    ]
    reasons = sorted(q["reason"] for q in quarantined)
    assert len(reasons) == 2, reasons  # the second run quarantines nothing again
    assert reasons[0].startswith("no event time")
    assert reasons[1].startswith("unresolved identity")
    assert "+15550001111" in reasons[1]


def test_a_callback_received_again_later_is_delivered_once(tmp_path):
    """Twilio repeats a callback it thinks failed; without RawDlrDoneDate each copy carries only
    its own receipt time. One status of one message is one event: within a run, and in a later
    run reading another dump (the ledger must not tell the copies apart by their time)."""
    sent = {
        "MessageSid": "SM" + "7" * 32,
        "MessageStatus": "sent",
        "To": "+15558675310",
        "From": "+15017122661",
    }
    dumps = [tmp_path / "monday.jsonl", tmp_path / "tuesday.jsonl"]
    dumps[0].write_text(
        json.dumps({**sent, "received_at": "2025-02-14T15:30:07Z"})
        + "\n"
        + json.dumps({**sent, "received_at": "2025-02-14T15:30:41Z"})
        + "\n"
    )
    dumps[1].write_text(json.dumps({**sent, "received_at": "2025-02-15T09:00:00Z"}) + "\n")
    lookup = tmp_path / "phones.csv"
    lookup.write_text("phone,user_id\n+15558675310,C-7\n")
    env = subprocess_env(tmp_path, MSGEVENTS_TWILIO_IDENTITY_FILE=str(lookup))
    for dump in dumps:  # two runs into one Data Feed directory (one sink, one ledger)
        args = [sys.executable, "-m", "msgevents", "collect", "--provider", "twilio", "--input", str(dump)]
        result = subprocess.run(
            [*args, "--to", "feed:feeds"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    delivered = [
        json.loads(line.rstrip(","))
        for path in sorted((tmp_path / "feeds").glob("event_history_*.json"))
        for line in path.read_text().splitlines()
        if line not in ("[", "]")
    ]
    assert [(e["id"], e["event"], e["timestamp"]) for e in delivered] == [
        ("C-7", "Message Sent", "2025-02-14T15:30:07Z")
    ]
