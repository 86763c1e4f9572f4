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
from collections import Counter
from datetime import datetime, timedelta
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


def test_live_collect_to_crossengage_is_exactly_once_across_runs(live_emulator, tmp_path):
    """Optimizely emulator → msgevents → CrossEngage emulator, twice: every event once, nothing more."""
    from msgevents.testing.crossengage_emulator import CrossEngageEmulator

    emulator = live_emulator(DATASET, [Fault.http("getRecipients", 503), Fault.session_expired("getClicks")])
    with CrossEngageEmulator(api_key="ce-key-for-tests", faults=["503", "429:0", "drop-before"]) as ce:
        env = {
            "MSGEVENTS_CROSSENGAGE_API_KEY": "ce-key-for-tests",
            "MSGEVENTS_CROSSENGAGE_BASE_URL": ce.base_url,
        }
        runs = [
            collect_to(emulator, tmp_path, "crossengage", env, "--report", str(tmp_path / f"r{i}.json"))
            for i in range(2)
        ]
        assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
        assert ce.violations == []
        received = Counter(event["event"] for _identity, event in ce.accepted)
        keys = Counter(
            (
                identity,
                event["event"],
                event["timestamp"],
                json.dumps(event.get("properties"), sort_keys=True),
            )
            for identity, event in ce.accepted
        )
    assert max(keys.values()) == 1  # no event arrived twice
    assert received["Message Sent"] == len(DATASET.recipients)
    assert received["Message Clicked"] == len(DATASET.clicks)
    assert received["Message Unsubscribed"] == len(DATASET.unsubscribes)
    assert "Message Delivered" not in received
    first, second = (json.loads((tmp_path / f"r{i}.json").read_text()) for i in range(2))
    assert first["totals"]["delivered"] == sum(received.values())
    assert second["totals"]["delivered"] == 0
    for stream, window in second["windows"].items():  # the 2 h restatement overlap is read again
        overlap = datetime.fromisoformat(first["windows"][stream]["until"]) - datetime.fromisoformat(
            window["since"]
        )
        assert overlap == timedelta(hours=2), stream
    assert first["provider_http"]["retries"] >= 1


def test_check_proves_credentials_and_refusal_exits_3(live_emulator, tmp_path):
    emulator = live_emulator(DATASET, [])
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGEVENTS_")}
    env.update(emulator.env())
    ok = subprocess.run([sys.executable, "-m", "msgevents", "check", "--provider", "episerver"],
                        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: ")
    env["MSGEVENTS_EPISERVER_PASSWORD"] = "wrong-password-1234"
    refused = subprocess.run([sys.executable, "-m", "msgevents", "check", "--provider", "episerver"],
                             env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert refused.returncode == 3, refused.stderr
    assert "wrong-password-1234" not in refused.stdout + refused.stderr


def collect_to(
    emulator, tmp_path: Path, sink: str, extra_env: dict, *args: str
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGEVENTS_")}
    env.update(emulator.env())
    env.update(extra_env)
    command = [sys.executable, "-m", "msgevents", "collect", "--provider", "episerver",
               "--to", sink, "--state", str(tmp_path / "state.db"), *args]  # fmt: skip
    return subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)


def test_live_runs_complete_with_one_soap_call_in_ten_failing_with_a_server_fault(live_emulator, tmp_path):
    """10 % of SOAP calls answer Server.generalException: every run completes and the position moves.

    Each live run re-reads the 2 h restatement window, so a run that stopped at a Server
    fault would stop again on every run and never move its position.
    """
    fault = Fault.soap_fault("soap", "A temporary internal error occurred, please retry",
                             code="soapenv:Server.generalException", times=0, rate=0.1, seed=9)  # fmt: skip
    emulator = live_emulator(DATASET, [fault])
    env = {"MSGEVENTS_EPISERVER_PAGE_SIZE": "4"}  # many SOAP calls; the default retry budget

    runs = []
    for day in (0, 1):
        emulator.now_ms = DATASET.now_ms + day * 24 * 3_600_000
        report = str(tmp_path / f"report{day}.json")
        runs.append(collect_to(emulator, tmp_path, f"feed:{tmp_path / 'feeds'}", env, "--report", report))

    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    first, second = (json.loads((tmp_path / f"report{day}.json").read_text()) for day in (0, 1))
    faulted = [r for r in emulator.requests if r.fault == "fault"]
    assert len(faulted) >= 5  # the faults really happened, in both runs
    assert {r.soap_method for r in faulted} - {"logout"}
    for stream in ("recipients", "opens", "clicks", "responses"):
        moved = datetime.fromisoformat(second["windows"][stream]["until"])
        assert moved - datetime.fromisoformat(first["windows"][stream]["until"]) == timedelta(days=1)
        since = datetime.fromisoformat(second["windows"][stream]["since"])
        assert since == moved - timedelta(days=1, hours=2)
    events = [obj["event"] for obj in feed_objects(tmp_path)]
    assert events.count("Message Sent") == len(DATASET.recipients)
    assert first["provider_http"]["retries"] >= 1


def test_clicks_left_without_url_are_counted_once_in_the_summary_and_the_report(live_emulator, tmp_path):
    """A mailing no list of Optimizely's holds: its URL-less clicks are delivered; the run says so once."""
    dataset = Dataset.generate(seed=5, mailings=2, recipients=30)
    unknown = sorted(dataset.campaigns)[0]
    del dataset.campaigns[unknown]
    without = [r for r in dataset.clicks if r.cells[0] == unknown and r.cells[5] is None]
    assert len(without) >= 2
    emulator = live_emulator(dataset, [])
    report = str(tmp_path / "report.json")

    run = collect_to(emulator, tmp_path, f"feed:{tmp_path / 'feeds'}", {}, "--report", report)

    assert run.returncode == 0, run.stderr
    warnings = [w for w in json.loads(Path(report).read_text())["warnings"] if "have no url" in w]
    assert warnings == [
        f"{len(without)} click(s) read have no url: their link could not be resolved through Optimizely's "
        f"tracking links (mailing {unknown}); they go out without url, each with its link id in its event id"
    ]
    assert (run.stdout + run.stderr).count("click(s) read have no url") == 1
    clicks = [obj for obj in feed_objects(tmp_path) if obj["event"] == "Message Clicked"]
    assert len(clicks) == len(dataset.clicks)  # every click delivered, URL-less ones too
    assert sum(1 for obj in clicks if not obj.get("url")) == len(without)
