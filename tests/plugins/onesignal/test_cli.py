"""Black-box: ``msgevents collect --provider onesignal --input …`` as a subprocess, from the sample
dump in ``examples/onesignal/``, into the CrossEngage emulator on 127.0.0.1, twice (with faults):
every event exactly once, keyed by External ID (or e-mail address), the push event without an
External ID, the cut line and the body without a time quarantined with their reasons; the
webhook token set in the environment appears in no output, report, state or quarantine file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import ROOT, subprocess_env

from msgevents import MappingError, NotModelled
from msgevents.testing.crossengage_emulator import CrossEngageEmulator
from msgevents_onesignal import OneSignalProvider, OneSignalSettings

pytestmark = pytest.mark.slow

DUMP = ROOT / "examples" / "onesignal" / "event-stream-20250310.jsonl"
API_KEY = "ce-key-for-onesignal-tests"
TOKEN = "os-webhook-secret-4f0a9c2b7e61d358"


def expected_events() -> list:
    """The sample mapped in-process, one per event id."""
    provider = OneSignalProvider(OneSignalSettings(_env_file=None))
    events = {}
    for batch in provider.read_input(DUMP):
        for record in batch:
            if record.error is not None:
                continue
            try:
                result = provider.map_record(record)
            except MappingError:
                continue
            if not isinstance(result, NotModelled):
                events.update((event.event_id, event) for event in result)
    return list(events.values())


def collect(tmp_path: Path, ce: CrossEngageEmulator, run: int) -> subprocess.CompletedProcess:
    env = subprocess_env(
        tmp_path,
        MSGEVENTS_CROSSENGAGE_API_KEY=API_KEY,
        MSGEVENTS_CROSSENGAGE_BASE_URL=ce.base_url,
        MSGEVENTS_ONESIGNAL_WEBHOOK_TOKEN=TOKEN,
    )
    args = [sys.executable, "-m", "msgevents", "collect", "--provider", "onesignal", "--input", str(DUMP)]
    args += ["--to", "crossengage", "--report", str(tmp_path / f"report{run}.json"), "-vv"]
    return subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_sample_dump_reaches_crossengage_exactly_once(tmp_path):
    expected = expected_events()
    assert len(expected) == 12
    with CrossEngageEmulator(api_key=API_KEY, faults=["503", "drop-before"]) as ce:
        first = collect(tmp_path, ce, 1)
        second = collect(tmp_path, ce, 2)
        assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
        comparison = ce.compare(expected)
        assert ce.violations == []
        identities = {identity for identity, _event in ce.accepted}
        bodies = [event for _identity, event in ce.accepted]
    assert comparison.exact, comparison
    assert identities == {
        ("id", "C-3001"),
        ("id", "C-3002"),
        ("id", "C-3003"),
        ("id", "C-3004"),
        ("email", "Jane.Doe@example.com"),
        ("email", "gone@example.org"),
    }
    channels = sorted({event["properties"]["channel"] for event in bodies})
    assert channels == ["Email", "Push", "SMS"]
    reports = [json.loads((tmp_path / f"report{n}.json").read_text()) for n in (1, 2)]
    assert reports[0]["totals"]["delivered"] == 12
    assert reports[1]["totals"]["delivered"] == 0
    assert reports[0]["not_modelled"] == {"message.email.suppressed": 1, "message.iam.impression": 1}
    quarantined = [
        json.loads(line) for p in tmp_path.rglob("quarantine/*.jsonl") for line in p.read_text().splitlines()
    ]
    reasons = sorted(q["reason"] for q in quarantined)
    assert len(reasons) == 3, reasons  # the second run quarantines nothing again
    assert reasons[0].startswith("no event time")
    assert reasons[1].startswith("no event.external_id")
    assert reasons[2].startswith("not JSON")
    # the webhook secret is in the environment of both runs: it leaks nowhere
    outputs = [first.stdout, first.stderr, second.stdout, second.stderr]
    files = [p for p in tmp_path.rglob("*") if p.is_file() and ".cache" not in p.parts]
    assert any(p.name.endswith(".db") for p in files)
    for text in outputs:
        assert TOKEN not in text
    for path in files:
        assert TOKEN.encode() not in path.read_bytes(), path
