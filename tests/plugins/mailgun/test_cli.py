"""End to end: ``msgevents collect --provider mailgun`` as a subprocess, live against the Mailgun
emulator on 127.0.0.1, into the CrossEngage emulator; twice, with events indexed late in between.

Asserts on exit codes, on what CrossEngage received (every event once) and that the API key is
never printed, not on the summary's wording.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from msgevents.testing.crossengage_emulator import CrossEngageEmulator

from .emulator import MailgunEmulator, make_event

pytestmark = pytest.mark.slow

T0 = 1_730_707_200.0
DOMAIN = "mg.example.com"
KEY = "key-live-test-9d8c7b6a5f4e3d2c1b0a"
CE_KEY = "ce-key-for-mailgun-tests"
TYPES = ["accepted", "delivered", "opened", "clicked", "unsubscribed", "complained", "failed", "rejected"]


def run(tmp_path: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MSGEVENTS_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "msgevents", *args],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def dataset() -> list[dict]:
    items = []
    for n in range(60):
        kind = TYPES[n % len(TYPES)]
        extra = {"url": f"https://www.example.com/p{n}"} if kind == "clicked" else {}
        if kind == "failed":
            extra = {"severity": "temporary" if (n // 8) % 2 else "permanent", "reason": "generic"}
        user = f"C{n:04d}" if n % 3 else None  # every third event only has the address
        items.append(make_event(n, T0 - 3 * 3600 + n * 120, kind, user, **extra))
    items.append(make_event(98, T0 - 3000, "failed", "C0098", severity="sometimes"))  # quarantined
    return items


def test_live_collect_into_crossengage_twice_is_exactly_once(tmp_path):
    items = dataset()
    late = make_event(99, T0 - 45 * 60, "opened", "C0099")
    lookup = tmp_path / "ids.csv"
    lookup.write_text("email,user_id\nperson0@example.com,CRM-0\n")
    with MailgunEmulator(DOMAIN, KEY, now=T0) as mailgun, CrossEngageEmulator(api_key=CE_KEY) as ce:
        for item in items:
            mailgun.add(item)
        mailgun.add(late, indexed_at=T0 + 10 * 60)
        env = {
            **mailgun.env(),
            "MSGEVENTS_MAILGUN_PAGE_LIMIT": "7",
            "MSGEVENTS_IDENTITY_FILE": str(lookup),
            "MSGEVENTS_CROSSENGAGE_API_KEY": CE_KEY,
            "MSGEVENTS_CROSSENGAGE_BASE_URL": ce.base_url,
        }
        check = run(tmp_path, env, "check", "--provider", "mailgun")
        mailgun.fail(429, retry_after="0")
        mailgun.fail(503)
        common = ("collect", "--provider", "mailgun", "--to", "crossengage", "--state", "state.db")
        first = run(tmp_path, env, *common, "--report", "r1.json")
        mailgun.now = T0 + 20 * 60
        second = run(tmp_path, env, *common, "--report", "r2.json")
        refused = run(tmp_path, {**env, "MSGEVENTS_MAILGUN_API_KEY": "key-wrong-123456"}, *common)
        accepted = list(ce.accepted)
        assert ce.violations == []

    assert check.returncode == 0, check.stderr
    assert [first.returncode, second.returncode] == [0, 0], first.stderr + second.stderr
    assert refused.returncode == 3, refused.stderr
    for result in (check, first, second, refused):
        assert KEY not in result.stdout + result.stderr
        assert "key-wrong-123456" not in result.stdout + result.stderr
    keys = Counter((identity, event["event"], event["timestamp"]) for identity, event in accepted)
    assert max(keys.values()) == 1  # nothing arrived twice
    modelled = [i for i in items if i["event"] != "rejected" and i.get("severity") != "sometimes"]
    assert len(accepted) == len(modelled) + 1  # + the late one, picked up by the second run
    identities = {identity for identity, _event in accepted}
    assert ("id", "C0099") in identities
    assert ("id", "CRM-0") in identities  # person0 had no user variable: the identity file
    assert ("email", "person3@example.com") in identities  # no user variable, not in the file
    received = Counter(event["event"] for _identity, event in accepted)
    assert len(received) == 8  # all eight event types
    first_report, second_report = (json.loads((tmp_path / f"r{i}.json").read_text()) for i in (1, 2))
    assert first_report["provider_http"]["retries"] == 2
    assert first_report["not_modelled"] == {"rejected": 7}
    assert second_report["totals"]["delivered"] == 1
    quarantine = "".join(p.read_text() for p in tmp_path.rglob("quarantine/*.jsonl"))
    assert "severity 'sometimes'" in quarantine
    assert KEY not in quarantine
    assert KEY not in (tmp_path / "state.db").read_bytes().decode("latin-1")
