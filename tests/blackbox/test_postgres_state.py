"""Black-box: ``msgevents collect`` as subprocesses in different working directories sharing one
PostgreSQL state (``--state postgresql://…``), delivering to the CrossEngage emulator.

What a shared state must give runs on several machines (here: directories with nothing
in common but the URL): one run per (provider, account) — a second exits 6 naming the
first's pid and host, while another account runs in parallel — and a run elsewhere
after a live run delivers nothing again. The URL carries a password: it never shows.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pg import query
from support import subprocess_env, write_records

from msgevents.testing.crossengage_emulator import CrossEngageEmulator

pytestmark = pytest.mark.slow

API_KEY = "ce-secret-key-5d1e0c"
MSGEVENTS = [sys.executable, "-m", "msgevents"]
NOW = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)


def rows(n: int, *, start: int = 0, stream: str = "file", ago: timedelta = timedelta(hours=2)) -> list[dict]:
    """``n`` records of distinct users (one CrossEngage request each), ``ago`` before NOW."""
    at = (NOW - ago).timestamp()
    return [
        {"id": i, "stream": stream, "kind": "sent", "email": f"user{i}@example.com", "ts": at + i % 600}
        for i in range(start, start + n)
    ]


def env(directory: Path, emulator: CrossEngageEmulator, state: str, **extra: str) -> dict[str, str]:
    return subprocess_env(
        directory,
        MSGEVENTS_STATE=state,
        MSGEVENTS_CROSSENGAGE_API_KEY=API_KEY,
        MSGEVENTS_CROSSENGAGE_BASE_URL=emulator.base_url,
        MSGEVENTS_FAKE_NOW=str(NOW.timestamp()),
        **extra,
    )


def collect(directory: Path, environment: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*MSGEVENTS, "collect", "--provider", "fake", "--to", "crossengage", *args],
        cwd=directory,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def accepted(emulator: CrossEngageEmulator) -> Counter:
    return Counter(identity[1] for identity, _event in emulator.accepted)


def emails(records: list[dict]) -> Counter:
    return Counter(r["email"] for r in records)


@pytest.fixture
def places(tmp_path: Path) -> tuple[Path, Path]:
    """Two working directories with nothing in common ("two machines")."""
    first, second = tmp_path / "machine-a", tmp_path / "machine-b"
    first.mkdir()
    second.mkdir()
    return first, second


def test_one_run_per_account_across_directories_and_other_accounts_in_parallel(places, pg_url, pg_server):
    here, there = places
    slow = write_records(here / "in.jsonl", rows(300))
    other = write_records(there / "other.jsonl", rows(20, start=1000))
    with CrossEngageEmulator(api_key=API_KEY, latency=0.05) as emulator:
        first = subprocess.Popen(
            [*MSGEVENTS, "collect", "--provider", "fake", "--to", "crossengage", "--input", str(slow)],
            cwd=here,
            env=env(here, emulator, pg_url, MSGEVENTS_CROSSENGAGE_CONCURRENCY="2"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while not emulator.accepted and time.monotonic() < deadline:
                time.sleep(0.02)
            assert emulator.accepted, "the first run did not start delivering"
            same = collect(there, env(there, emulator, pg_url), "--input", str(other))
            assert same.returncode == 6, same.stderr
            assert f"pid {first.pid} on {socket.gethostname()}" in same.stderr
            assert pg_server.password not in same.stderr
            parallel = collect(
                there, env(there, emulator, pg_url, MSGEVENTS_FAKE_ACCOUNT="acct-2"), "--input", str(other)
            )
            assert parallel.returncode == 0, parallel.stderr
            assert first.poll() is None, "the other account's run must not have waited for the first"
        finally:
            _out, errors = first.communicate(timeout=120)
        assert first.returncode == 0, errors
        assert emulator.violations == []
        assert accepted(emulator) == emails(rows(300)) + emails(rows(20, start=1000))  # each once
    assert not (there / ".msgevents" / "state.db").exists()  # the state is the database's
    runs = query(pg_url, "SELECT account, exit_code FROM runs ORDER BY id")
    assert sorted(runs) == [("acct-1", 0), ("acct-2", 0)]  # the refused run never started


def test_a_live_run_then_a_run_from_another_directory_delivers_nothing(places, pg_url, pg_server):
    here, there = places
    # the beta records fall into the next run's re-read overlap (restatement 1 h, settle 5 min)
    data = rows(40, stream="alpha") + rows(10, start=500, stream="beta", ago=timedelta(minutes=30))
    with CrossEngageEmulator(api_key=API_KEY) as emulator:
        for directory in places:
            write_records(directory / "data.jsonl", data)
        live = collect(here, env(here, emulator, pg_url, MSGEVENTS_FAKE_DATA=str(here / "data.jsonl")))
        assert live.returncode == 0, live.stderr
        assert accepted(emulator) == emails(data)
        again = collect(
            there,
            env(there, emulator, pg_url, MSGEVENTS_FAKE_DATA=str(there / "data.jsonl")),
            "--report",
            "report.json",
        )
        assert again.returncode == 0, again.stderr
        assert accepted(emulator) == emails(data)  # nothing delivered twice
        assert emulator.violations == []
    report = (there / "report.json").read_text()
    totals, windows = json.loads(report)["totals"], json.loads(report)["windows"]
    assert totals["delivered"] == 0
    assert totals["already_delivered"] == 10  # re-read in the overlap, known from the shared ledger
    # it went on from the live position the first run left in the database (minus the overlap)
    assert windows["beta"]["since"] == "2024-05-10T10:55:00Z"
    assert pg_server.password not in live.stderr + again.stderr + report
    assert not (there / ".msgevents" / "state.db").exists()
    positions = query(pg_url, "SELECT stream FROM positions ORDER BY stream")
    assert positions == [("alpha",), ("beta",)]  # the live position, kept once, in the database


def test_an_unreachable_or_refusing_server_exits_2_naming_the_url_without_its_password(
    tmp_path, pg_server, pg_url
):
    path = write_records(tmp_path / "in.jsonl", rows(3))
    wrong = pg_url.replace(pg_server.password, "not-the-password-4417")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    nobody = f"postgresql://msgevents:secret-pw-90210@127.0.0.1:{closed}/msgevents"
    for url, secret in ((wrong, "not-the-password-4417"), (nobody, "secret-pw-90210")):
        environment = subprocess_env(tmp_path, MSGEVENTS_STATE=url)
        run = subprocess.run(
            [*MSGEVENTS, "collect", "--provider", "fake", "--input", str(path), "--to", "jsonl:out.jsonl"],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 2, run.stderr
        shown = url.replace(f":{secret}@", "@")
        assert f"cannot connect to the PostgreSQL state '{shown}'" in run.stderr
        assert "MSGEVENTS_STATE" in run.stderr
        assert secret not in run.stderr + run.stdout
        assert "Traceback" not in run.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_a_server_lost_mid_run_exits_4_saying_nothing_is_lost(places, pg_server):
    from pg import PostgresServer

    here, _there = places
    own = PostgresServer(pg_server.bin_dir)  # a server of this test's own, to stop mid-run
    own.start()
    try:
        url = own.create_database()
        path = write_records(here / "in.jsonl", rows(300))
        with CrossEngageEmulator(api_key=API_KEY, latency=0.05) as emulator:
            run = subprocess.Popen(
                [*MSGEVENTS, "collect", "--provider", "fake", "--to", "crossengage", "--input", str(path)],
                cwd=here,
                env=env(here, emulator, url),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            deadline = time.monotonic() + 60
            while len(emulator.accepted) < 20 and time.monotonic() < deadline:
                time.sleep(0.02)
            own.stop()
            _out, errors = run.communicate(timeout=120)
    finally:
        own.stop()
    assert run.returncode == 4, errors
    shown = url.replace(f":{own.password}@", "@")
    assert f"the PostgreSQL state '{shown}' became unavailable" in errors
    assert "nothing is lost" in errors
    assert "Traceback" not in errors
    assert own.password not in errors
