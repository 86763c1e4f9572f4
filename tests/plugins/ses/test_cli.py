"""Black-box: ``msgevents collect --provider ses`` as a subprocess, from the sample files in
``examples/ses/`` into the CrossEngage emulator on 127.0.0.1, twice (with faults): every
event arrives exactly once, the bad record is quarantined, nothing is sent the second time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from support import ROOT, subprocess_env

from msgevents import NotModelled
from msgevents.testing.crossengage_emulator import CrossEngageEmulator
from msgevents_ses import SesProvider, SesSettings

pytestmark = pytest.mark.slow

EXAMPLES = ROOT / "examples" / "ses"
INPUTS = [EXAMPLES / "firehose-20241104-0900.json.gz", EXAMPLES / "sns-notifications-20241104.jsonl"]
API_KEY = "ce-key-for-ses-tests"


def expected_events() -> list:
    """The samples mapped in-process, one per event id (SNS re-deliveries collapse)."""
    provider = SesProvider(SesSettings(_env_file=None))
    events = {}
    for path in INPUTS:
        for batch in provider.read_input(path):
            for record in batch:
                try:
                    result = provider.map_record(record)
                except Exception:
                    continue
                if not isinstance(result, NotModelled):
                    events.update((e.event_id, e) for e in result)
    return list(events.values())


def collect(tmp_path: Path, ce: CrossEngageEmulator, run: int) -> subprocess.CompletedProcess:
    env = subprocess_env(
        tmp_path, MSGEVENTS_CROSSENGAGE_API_KEY=API_KEY, MSGEVENTS_CROSSENGAGE_BASE_URL=ce.base_url
    )
    args = [sys.executable, "-m", "msgevents", "collect", "--provider", "ses", "--to", "crossengage"]
    for path in INPUTS:
        args += ["--input", str(path)]
    args += ["--report", str(tmp_path / f"report{run}.json")]
    return subprocess.run(
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_sample_files_reach_crossengage_exactly_once_across_two_runs(tmp_path):
    expected = expected_events()
    assert len(expected) == 15
    with CrossEngageEmulator(api_key=API_KEY, faults=["503", "429:0"]) as ce:
        first = collect(tmp_path, ce, 1)
        second = collect(tmp_path, ce, 2)
        assert (first.returncode, second.returncode) == (0, 0), first.stderr + second.stderr
        comparison = ce.compare(expected)
        assert ce.violations == []
    assert comparison.exact, comparison
    assert not comparison.duplicates
    reports = [json.loads((tmp_path / f"report{n}.json").read_text()) for n in (1, 2)]
    assert reports[0]["totals"]["delivered"] == 15
    assert reports[1]["totals"]["delivered"] == 0
    assert reports[0]["not_modelled"] == {"DeliveryDelay": 1, "SNS SubscriptionConfirmation": 1}
    assert API_KEY not in first.stderr + second.stderr
    received = Counter(event["event"] for _identity, event in ce.accepted)
    assert set(received) == {
        "Message Sent",
        "Message Delivered",
        "Message Viewed",
        "Message Clicked",
        "Message Unsubscribed",
        "Message soft_bounced",
        "Message hard_bounced",
        "Message marked_as_spam",
    }
    ids = Counter(identity for identity, _event in ce.accepted)
    assert ids[("id", "C-1001")] == 5  # the user_id tag keys message 1's events
    quarantined = [
        json.loads(line) for p in tmp_path.rglob("quarantine/*.jsonl") for line in p.read_text().splitlines()
    ]
    assert [q["reason"] for q in quarantined] == ["click.link is None, expected the clicked URL"]
