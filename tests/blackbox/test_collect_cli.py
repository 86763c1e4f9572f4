"""Black-box tests: ``msgevents`` run as a subprocess against a local CrossEngage emulator.

The provider is the fixture plugin ``fake`` (installed through PYTHONPATH as a
real distribution); CrossEngage is :mod:`msgevents.testing.crossengage_emulator`
on 127.0.0.1. These tests check exit codes, what the emulator received (exactly
once), what the state file holds, and that secrets never leak.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from support import subprocess_env, write_records

from msgevents.testing.crossengage_emulator import CrossEngageEmulator, read_accepted

pytestmark = pytest.mark.slow

API_KEY = "ce-secret-key-7f3a9b"
FAKE_TOKEN = "fake-token-secret-91c2"
MSGEVENTS = [sys.executable, "-m", "msgevents"]


def records(n: int, *, users: int = 7, kind: str = "sent", start: int = 0) -> list[dict]:
    base = 1_715_000_000
    return [
        {
            "id": i,
            "stream": "file",
            "kind": kind,
            "email": f"user{i % users}@example.com",
            "ts": base + i,
            "mailing": str(100 + i % 3),
        }
        for i in range(start, start + n)
    ]


def cli(tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
    environment = subprocess_env(tmp_path, MSGEVENTS_FAKE_TOKEN=FAKE_TOKEN, **(env or {}))
    return subprocess.run(
        [*MSGEVENTS, *args],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ce_env(emulator: CrossEngageEmulator, **extra: str) -> dict[str, str]:
    return {
        "MSGEVENTS_CROSSENGAGE_API_KEY": API_KEY,
        "MSGEVENTS_CROSSENGAGE_BASE_URL": emulator.base_url,
        **extra,
    }


def expected_keys(rows: list[dict]) -> Counter:
    return Counter((("email", r["email"]), "Message Sent") for r in rows)


def accepted_keys(emulator: CrossEngageEmulator) -> Counter:
    return Counter(((identity[0], identity[1]), event["event"]) for identity, event in emulator.accepted)


def report_of(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "report.json").read_text())


# -- plugin listing and usage errors -------------------------------------------------------------


def test_providers_lists_a_broken_plugin_without_crashing(tmp_path):
    result = cli(tmp_path, "providers", "--json")
    assert result.returncode == 0, result.stderr
    listing = {item["name"]: item for item in json.loads(result.stdout)}
    assert listing["broken"]["status"] == "broken"
    assert "msgevents_dependency_that_does_not_exist" in listing["broken"]["error"]
    assert listing["fake"]["status"] == "ok"
    assert listing["fake"]["version"] == "0.3.0"
    assert "Message marked_as_spam" not in listing["fake"]["events"]
    # the broken plugin does not affect commands for other providers
    assert cli(tmp_path, "about", "fake").returncode == 0


def test_unknown_provider_exits_2_listing_the_installed_ones(tmp_path):
    write_records(tmp_path / "x.jsonl", records(1))
    result = cli(tmp_path, "collect", "--provider", "nope", "--input", "x.jsonl")
    assert result.returncode == 2
    assert "Unknown provider 'nope'" in result.stderr
    assert "fake" in result.stderr
    assert "broken" in result.stderr


def test_broken_provider_exits_5(tmp_path):
    write_records(tmp_path / "x.jsonl", records(1))
    result = cli(tmp_path, "collect", "--provider", "broken", "--input", "x.jsonl")
    assert result.returncode == 5
    assert "failed to load" in result.stderr


def test_missing_crossengage_key_exits_2_naming_the_variable(tmp_path):
    path = write_records(tmp_path / "in.jsonl", records(3))
    result = cli(tmp_path, "collect", "--provider", "fake", "--input", str(path), "--to", "crossengage")
    assert result.returncode == 2
    assert "MSGEVENTS_CROSSENGAGE_API_KEY" in result.stderr


def test_pull_without_settings_exits_2_naming_them(tmp_path):
    result = cli(tmp_path, "collect", "--provider", "fake")
    assert result.returncode == 2
    assert "MSGEVENTS_FAKE_DATA" in result.stderr


# -- delivery to CrossEngage -----------------------------------------------------------------------------


def test_crossengage_receives_every_event_exactly_once_across_two_runs(tmp_path):
    rows = records(180, users=9)
    path = write_records(tmp_path / "in.jsonl", rows)
    with CrossEngageEmulator(api_key=API_KEY) as emulator:
        env = ce_env(emulator)
        first = cli(
            tmp_path,
            "collect",
            "--provider",
            "fake",
            "--input",
            str(path),
            "--to",
            "crossengage",
            "--report",
            "report.json",
            env=env,
        )
        assert first.returncode == 0, first.stderr
        second = cli(
            tmp_path, "collect", "--provider", "fake", "--input", str(path), "--to", "crossengage", env=env
        )
        assert second.returncode == 0, second.stderr
        assert emulator.violations == []
        assert accepted_keys(emulator) == expected_keys(rows)
        assert len(emulator.accepted) == 180
    report = report_of(tmp_path)
    assert report["totals"]["delivered"] == 180
    assert report["delivery"]["requests"] >= 9  # one user per request
    assert "Message Sent" in first.stderr  # the summary goes to stderr


def test_faults_are_retried_without_duplicates(tmp_path):
    rows = records(60, users=20)
    path = write_records(tmp_path / "in.jsonl", rows)
    faults = ["503", "500", "429:1", "drop-before", "503"]
    with CrossEngageEmulator(api_key=API_KEY, faults=faults) as emulator:
        result = cli(
            tmp_path,
            "collect",
            "--provider",
            "fake",
            "--input",
            str(path),
            "--to",
            "crossengage",
            "--report",
            "report.json",
            env=ce_env(emulator),
        )
        assert result.returncode == 0, result.stderr
        assert accepted_keys(emulator) == expected_keys(rows)
    report = report_of(tmp_path)
    assert report["delivery"]["retries"] >= len(faults)
    assert report["delivery"]["throttled"] == 1


def test_an_ambiguous_failure_is_the_only_source_of_duplicates(tmp_path):
    rows = records(30, users=30)
    path = write_records(tmp_path / "in.jsonl", rows)
    with CrossEngageEmulator(api_key=API_KEY, faults=["drop-after"]) as emulator:
        result = cli(
            tmp_path,
            "collect",
            "--provider",
            "fake",
            "--input",
            str(path),
            "--to",
            "crossengage",
            "--report",
            "report.json",
            env=ce_env(emulator),
        )
        assert result.returncode == 0, result.stderr
        received = accepted_keys(emulator)
    expected = expected_keys(rows)
    assert set(received) == set(expected)
    duplicates = sum((received - expected).values())
    assert duplicates == 1  # the one request processed but unanswered, then retried
    assert report_of(tmp_path)["delivery"]["ambiguous"] == 1


def test_crossengage_down_keeps_events_pending_then_delivers_them(tmp_path):
    rows = records(40, users=5)
    path = write_records(tmp_path / "in.jsonl", rows)
    env_fast = {"MSGEVENTS_CROSSENGAGE_RETRIES": "2"}
    with CrossEngageEmulator(api_key=API_KEY, fault_rates={"503": 1.0}) as emulator:
        down = cli(
            tmp_path,
            "collect",
            "--provider",
            "fake",
            "--input",
            str(path),
            "--to",
            "crossengage",
            "--report",
            "report.json",
            env=ce_env(emulator, **env_fast),
        )
        assert down.returncode == 4, down.stderr
        assert emulator.accepted == []
        port = int(emulator.base_url.rsplit(":", 1)[1])
    assert report_of(tmp_path)["outbox"]["pending"] == 40
    # the same tenant (base URL) comes back: the ledger and outbox are per destination
    with CrossEngageEmulator(api_key=API_KEY, port=port) as emulator:
        empty = write_records(tmp_path / "none.jsonl", [])
        up = cli(
            tmp_path,
            "collect",
            "--provider",
            "fake",
            "--input",
            str(empty),
            "--to",
            "crossengage",
            "--report",
            "report.json",
            env=ce_env(emulator),
        )
        assert up.returncode == 0, up.stderr
        assert accepted_keys(emulator) == expected_keys(rows)
    assert report_of(tmp_path)["outbox"] == {"sent": 40, "pending": 0}


def test_wrong_key_exits_3_without_printing_it(tmp_path):
    path = write_records(tmp_path / "in.jsonl", records(5))
    with CrossEngageEmulator(api_key="the-right-key") as emulator:
        result = cli(
            tmp_path,
            "collect",
            "--provider",
            "fake",
            "--input",
            str(path),
            "--to",
            "crossengage",
            "-v",
            env=ce_env(emulator),
        )
    assert result.returncode == 3
    assert "MSGEVENTS_CROSSENGAGE_API_KEY" in result.stderr
    assert API_KEY not in result.stderr + result.stdout


def test_unactivated_event_type_is_rejected_quarantined_and_replayable(tmp_path):
    rows = records(6, users=2) + records(4, users=2, kind="viewed", start=100)
    path = write_records(tmp_path / "in.jsonl", rows)
    with CrossEngageEmulator(api_key=API_KEY, activated=["Message Sent"]) as emulator:
        result = cli(
            tmp_path,
            "collect",
            "--provider",
            "fake",
            "--input",
            str(path),
            "--to",
            "crossengage",
            "--report",
            "report.json",
            env=ce_env(emulator),
        )
        assert result.returncode == 0, result.stderr
        assert Counter(e["event"] for _i, e in emulator.accepted) == {"Message Sent": 6}
        port = int(emulator.base_url.rsplit(":", 1)[1])
    report = report_of(tmp_path)
    assert report["events"]["Message Viewed"]["rejected"] == 4
    quarantine = Path(report["quarantine_file"])
    entries = [json.loads(line) for line in quarantine.read_text().splitlines()]
    assert {e["kind"] for e in entries} == {"rejected"}
    assert all("UNKNOWN_VALUE" in e["reason"] for e in entries)
    # once the tenant activates the event type, replay delivers exactly those
    with CrossEngageEmulator(api_key=API_KEY, port=port) as emulator:
        again = cli(
            tmp_path,
            "collect",
            "--provider",
            "fake",
            "--input",
            str(path),
            "--to",
            "crossengage",
            env=ce_env(emulator),
        )
        assert again.returncode == 0
        assert emulator.accepted == []  # rejected events are not retried by collect
        replay = cli(tmp_path, "replay", str(quarantine), "--to", "crossengage", env=ce_env(emulator))
        assert replay.returncode == 0, replay.stderr
        assert Counter(e["event"] for _i, e in emulator.accepted) == {"Message Viewed": 4}


def test_kill_9_mid_upload_then_resume_repeats_at_most_the_requests_in_flight(tmp_path):
    rows = records(600, users=600)  # one event per request
    path = write_records(tmp_path / "in.jsonl", rows)
    accepted_file = tmp_path / "accepted.jsonl"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "msgevents.testing.crossengage_emulator",
            "--port",
            "0",
            "--api-key",
            API_KEY,
            "--state-file",
            str(accepted_file),
            "--latency",
            "0.02",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=subprocess_env(tmp_path),
    )
    try:
        base_url = server.stdout.readline().strip()
        env = subprocess_env(
            tmp_path,
            MSGEVENTS_CROSSENGAGE_API_KEY=API_KEY,
            MSGEVENTS_CROSSENGAGE_BASE_URL=base_url,
            MSGEVENTS_CROSSENGAGE_CONCURRENCY="4",
        )
        run = subprocess.Popen(
            [*MSGEVENTS, "collect", "--provider", "fake", "--input", str(path), "--to", "crossengage"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            count = len(accepted_file.read_text().splitlines()) if accepted_file.exists() else 0
            if count >= 150:
                break
            time.sleep(0.05)
        run.send_signal(signal.SIGKILL)
        run.wait(timeout=30)
        before = len(accepted_file.read_text().splitlines())
        assert before < 600, "the run finished before it could be killed"
        resumed = subprocess.run(
            [*MSGEVENTS, "collect", "--provider", "fake", "--input", str(path), "--to", "crossengage"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert resumed.returncode == 0, resumed.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)
    received = Counter(identity[1] for identity, _event in read_accepted(accepted_file))
    emails = Counter(r["email"] for r in rows)
    assert set(received) == set(emails)
    duplicates = sum((received - emails).values())
    # in flight at the kill: 4 requests being sent plus outcomes not yet committed (≤ 2 × 4 queued)
    assert duplicates <= 12


def feed_events(directory: Path) -> Counter:
    """(email, timestamp) of every event in the Data Feed files of ``directory``."""
    found: Counter = Counter()
    for path in directory.glob("event_history_*.json"):
        lines = path.read_text().splitlines()
        assert (lines[0], lines[-1]) == ("[", "]"), f"{path.name} is not a complete JSON array"
        for line in lines[1:-1]:
            event = json.loads(line.rstrip(","))
            found[(event["email"], event["timestamp"])] += 1
    return found


def test_kill_9_while_writing_feed_files_then_resume_repeats_nothing(tmp_path):
    """A Data Feed file is acknowledged by its rename: a run killed at any point repeats no event."""
    rows = records(40_000, users=50)
    path = write_records(tmp_path / "in.jsonl", rows)
    feeds = tmp_path / "feeds"
    args = ["collect", "--provider", "fake", "--input", str(path), "--to", f"feed:{feeds}"]
    small_files = {"MSGEVENTS_FEED_MAX_LINES": "502"}
    env = subprocess_env(tmp_path, MSGEVENTS_FAKE_TOKEN=FAKE_TOKEN, **small_files)
    run = subprocess.Popen(
        [*MSGEVENTS, *args], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(feeds.glob("event_history_*.json"))) < 10:
        time.sleep(0.01)
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=30)
    written = len(list(feeds.glob("event_history_*.json")))
    assert 10 <= written < 80, "the run must be killed mid-way"

    resumed = cli(tmp_path, *args, env=small_files)

    assert resumed.returncode == 0, resumed.stderr
    expected = Counter((r["email"], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r["ts"]))) for r in rows)
    assert feed_events(feeds) == expected
    assert not list(feeds.glob(".partial-*")), "the killed run's temporary file must be cleaned up"


def test_second_concurrent_run_exits_6_naming_the_first(tmp_path):
    rows = records(300, users=300)
    path = write_records(tmp_path / "in.jsonl", rows)
    with CrossEngageEmulator(api_key=API_KEY, latency=0.05) as emulator:
        env = subprocess_env(
            tmp_path,
            MSGEVENTS_FAKE_TOKEN=FAKE_TOKEN,
            **ce_env(emulator),
            MSGEVENTS_CROSSENGAGE_CONCURRENCY="2",
        )
        first = subprocess.Popen(
            [*MSGEVENTS, "collect", "--provider", "fake", "--input", str(path), "--to", "crossengage"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not emulator.accepted and time.monotonic() < deadline:
                time.sleep(0.02)
            second = cli(
                tmp_path,
                "collect",
                "--provider",
                "fake",
                "--input",
                str(path),
                "--to",
                "crossengage",
                env=ce_env(emulator),
            )
            assert second.returncode == 6, second.stderr
            assert f"pid {first.pid}" in second.stderr
        finally:
            first.wait(timeout=120)
        assert first.returncode == 0
        assert accepted_keys(emulator) == Counter((("email", r["email"]), "Message Sent") for r in rows)


# -- state, dry run, secrets ------------------------------------------------------------------------------


def test_state_is_owner_only_and_dry_run_changes_nothing(tmp_path):
    path = write_records(tmp_path / "in.jsonl", records(10))
    assert cli(tmp_path, "collect", "--provider", "fake", "--input", str(path)).returncode == 0
    state = tmp_path / ".msgevents" / "state.db"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.parent.stat().st_mode) == 0o700
    snapshot = state.read_bytes()
    feeds = sorted(p.name for p in (tmp_path / "feeds").iterdir())
    more = write_records(tmp_path / "more.jsonl", records(15))
    dry = cli(tmp_path, "collect", "--provider", "fake", "--input", str(more), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run" in dry.stderr
    assert state.read_bytes() == snapshot
    assert sorted(p.name for p in (tmp_path / "feeds").iterdir()) == feeds


def test_missing_input_file_exits_2_before_anything_runs(tmp_path):
    result = cli(tmp_path, "collect", "--provider", "fake", "--input", "missing.jsonl")
    assert result.returncode == 2
    assert "missing.jsonl" in result.stderr
    assert not (tmp_path / ".msgevents").exists()


def test_jsonl_to_stdout_keeps_stdout_pure(tmp_path):
    path = write_records(tmp_path / "in.jsonl", records(4))
    result = cli(tmp_path, "collect", "--provider", "fake", "--input", str(path), "--to", "jsonl:-")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 4
    assert all(line["provider"] == "fake" and line["event_id"] for line in lines)


def test_secrets_never_appear_in_output_logs_state_quarantine_or_files(tmp_path):
    rows = [*records(20, users=4), {"id": 999, "kind": "broken", "email": "x@example.com", "ts": 1715000000}]
    path = write_records(tmp_path / "in.jsonl", rows)
    with CrossEngageEmulator(api_key=API_KEY, faults=["503", "429:0"]) as emulator:
        result = cli(
            tmp_path,
            "collect",
            "--provider",
            "fake",
            "--input",
            str(path),
            "--to",
            "crossengage",
            "-vv",
            "--report",
            "report.json",
            env=ce_env(emulator),
        )
        assert result.returncode == 0, result.stderr
        bad = cli(
            tmp_path,
            "collect",
            "--provider",
            "fake",
            "--input",
            str(path),
            "--to",
            "crossengage",
            "-vv",
            env={**ce_env(emulator), "MSGEVENTS_CROSSENGAGE_BASE_URL": emulator.base_url + "/nothing"},
        )
    assert "INFO" in result.stderr or "DEBUG" in result.stderr  # verbose logging was on
    haystacks = [result.stdout, result.stderr, bad.stdout, bad.stderr]
    for file in tmp_path.rglob("*"):
        if file.is_file() and ".cache" not in file.parts:
            haystacks.append(file.read_bytes().decode("utf-8", "replace"))
    connection = sqlite3.connect(tmp_path / ".msgevents" / "state.db")
    haystacks.append(repr(connection.execute("SELECT * FROM runs").fetchall()))
    connection.close()
    for secret in (API_KEY, FAKE_TOKEN):
        assert not any(secret in text for text in haystacks), f"{secret} leaked"
    assert os.path.exists(report_of(tmp_path)["quarantine_file"])
