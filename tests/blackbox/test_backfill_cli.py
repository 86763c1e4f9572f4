"""Black-box tests of ``msgevents backfill``: parts at the same time, exactly once.

The provider is the fixture plugin ``fake`` pulling from a local JSON Lines file
(``MSGEVENTS_FAKE_DATA``), the sinks are real feed directories and the CrossEngage
emulator on 127.0.0.1; the executors are real: worker processes on this machine and
a Dask ``LocalCluster`` with several worker processes. A worker is killed with
SIGKILL in the middle of a part (the fake provider waits at a known point,
``MSGEVENTS_FAKE_HOLD``, and says its pid): every event still arrives exactly once.
Parts at the same time run on both state backends: a SQLite file, and a real PostgreSQL
database (``pg_url``), the state a Dask cluster of several machines shares.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from support import FIXTURE_PLUGINS, subprocess_env, write_records

from msgevents.testing.crossengage_emulator import CrossEngageEmulator

pytestmark = pytest.mark.slow

MSGEVENTS = [sys.executable, "-m", "msgevents"]
API_KEY = "ce-secret-key-backfill-1"
DAY = 86_400
T0 = 1_730_419_200  # 2024-11-01T00:00:00Z


def iso(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def pulled(days: int, per_stream: int) -> list[dict]:
    """Records of both streams over ``days`` days; each (user, ts) is one distinct event."""
    return [
        {
            "stream": stream,
            "kind": "sent",
            "user": f"U{day}-{stream}-{i % 9}",
            "ts": T0 + day * DAY + i * 60 + (stream == "beta"),
            "mailing": str(day),
        }
        for day in range(days)
        for stream in ("alpha", "beta")
        for i in range(per_stream)
    ]


def expected(rows: list[dict]) -> Counter:
    return Counter((r["user"], iso(r["ts"])) for r in rows)


def delivered_in_feed(directory: Path) -> Counter:
    found: Counter = Counter()
    for path in directory.glob("event_history_*.json"):
        for item in json.loads(path.read_text()):
            found[(item["id"], item["timestamp"])] += 1
    return found


def delivered_to_crossengage(emulator: CrossEngageEmulator) -> Counter:
    return Counter((identity[1], event["timestamp"]) for identity, event in emulator.accepted)


def environment(tmp_path: Path, data: Path, **extra: str) -> dict[str, str]:
    return subprocess_env(
        tmp_path,
        MSGEVENTS_FAKE_DATA=str(data),
        MSGEVENTS_FAKE_NOW=str(T0 + 30 * DAY),
        MSGEVENTS_FAKE_PAGE_SIZE="3",
        **extra,
    )


def backfill(
    tmp_path: Path, env: dict[str, str], *args: str, report: str = "report.json", state: Path | str = ""
) -> subprocess.Popen:
    state = state or tmp_path / "state" / "state.db"
    command = ["backfill", "--provider", "fake", "--state", str(state), "--report", report, *args]
    return subprocess.Popen(
        [*MSGEVENTS, *command],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen, timeout: float = 180) -> tuple[int, str]:
    _out, err = process.communicate(timeout=timeout)
    return process.returncode, err


def test_a_backfill_over_several_days_delivers_each_event_once_and_a_rerun_nothing(tmp_path):
    rows = pulled(days=3, per_stream=20)
    env = environment(tmp_path, write_records(tmp_path / "data.jsonl", rows))
    args = ("--since", iso(T0), "--until", iso(T0 + 3 * DAY), "--to", "feed:feeds", "--workers", "2")
    code, err = finish(backfill(tmp_path, env, *args))
    assert code == 0, err
    assert delivered_in_feed(tmp_path / "feeds") == expected(rows)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["totals"]["delivered"] == len(rows)
    assert [p["part"] for p in report["parts"]] == [
        f"{iso(T0 + d * DAY)}..{iso(T0 + (d + 1) * DAY)}" for d in range(3)
    ]
    assert {p["status"] for p in report["parts"]} == {"done"}
    assert all(p["attempts"] == 1 for p in report["parts"])
    assert "[3/3] part" in err
    files = sorted((tmp_path / "feeds").iterdir())

    code, err = finish(backfill(tmp_path, env, *args, report="again.json"))
    assert code == 0, err
    again = json.loads((tmp_path / "again.json").read_text())
    assert again["totals"]["delivered"] == 0
    assert again["totals"]["already_delivered"] == len(rows)
    assert sorted((tmp_path / "feeds").iterdir()) == files


def location(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    return tmp_path / "state" / "state.db" if backend == "sqlite" else request.getfixturevalue("pg_url")


@pytest.mark.parametrize(
    ("sink", "backend"), [("feed", "sqlite"), ("crossengage", "sqlite"), ("crossengage", "postgresql")]
)
def test_two_overlapping_backfills_at_once_deliver_each_event_once(tmp_path, sink, backend, request):
    state_location = location(backend, tmp_path, request)
    rows = pulled(days=4, per_stream=60)
    with CrossEngageEmulator(api_key=API_KEY, latency=0.01) as ce:
        env = environment(
            tmp_path,
            write_records(tmp_path / "data.jsonl", rows),
            MSGEVENTS_CROSSENGAGE_API_KEY=API_KEY,
            MSGEVENTS_CROSSENGAGE_BASE_URL=ce.base_url,
        )
        to = "feed:feeds" if sink == "feed" else "crossengage"
        common = ("--to", to, "--workers", "2", "--partition", "12h")
        first = backfill(
            tmp_path,
            env,
            *("--since", iso(T0), "--until", iso(T0 + 3 * DAY), *common),
            report="a.json",
            state=state_location,
        )
        second = backfill(
            tmp_path,
            env,
            *("--since", iso(T0 + DAY), "--until", iso(T0 + 4 * DAY), *common),
            report="b.json",
            state=state_location,
        )
        (code_a, err_a), (code_b, err_b) = finish(first), finish(second)
        assert (code_a, code_b) == (0, 0), err_a + err_b
        received = delivered_in_feed(tmp_path / "feeds") if sink == "feed" else delivered_to_crossengage(ce)
        assert ce.violations == []
    assert received == expected(rows)
    reports = [json.loads((tmp_path / name).read_text()) for name in ("a.json", "b.json")]
    assert sum(r["totals"]["delivered"] for r in reports) == len(rows)
    overlap = sum(1 for r in rows if T0 + DAY <= r["ts"] < T0 + 3 * DAY)
    skipped = sum(r["totals"]["already_delivered"] for r in reports)
    assert skipped == overlap  # each event of the shared days was sent by one and skipped by the other
    assert all(r["totals"]["pending"] == 0 for r in reports)


def test_a_part_that_fails_for_good_is_named_exit_4_and_the_rest_delivered(tmp_path):
    good = [
        write_records(
            tmp_path / f"day{d}.jsonl", [{**r, "stream": "file"} for r in pulled(1, 10)][d * 5 : d * 5 + 5]
        )
        for d in range(3)
    ]
    broken = tmp_path / "day3.jsonl.gz"
    whole = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in pulled(1, 40)))
    broken.write_bytes(whole[: len(whole) // 2])  # truncated: a file error (exit 4) every time
    env = environment(tmp_path, tmp_path / "unused.jsonl")
    inputs = [arg for path in [*good, broken] for arg in ("--input", str(path))]
    code, err = finish(
        backfill(tmp_path, env, *inputs, "--to", "feed:feeds", "--workers", "2", "--retries", "1")
    )
    assert code == 4, err
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["failed_parts"] == [str(broken)]
    failed = next(p for p in report["parts"] if p["part"] == str(broken))
    assert failed["attempts"] == 2  # ran again once, failed again
    assert failed["status"] == "failed"
    assert f"failed part {broken}: exit 4" in err
    good_rows = [r for path in good for r in map(json.loads, path.read_text().splitlines())]
    found = delivered_in_feed(tmp_path / "feeds")
    assert Counter({k: v for k, v in found.items() if k in expected(good_rows)}) == expected(good_rows)


def kill_the_holder(hold: Path, timeout: float = 120) -> int:
    """Wait for the fake provider to hold inside a part, SIGKILL its process, let others pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = (hold / "held").read_text() if (hold / "held").exists() else ""
        if text:
            pid = int(text)
            os.kill(pid, signal.SIGKILL)
            (hold / "release").touch()
            return pid
        time.sleep(0.02)
    raise AssertionError("no part reached the hold point")


def check_killed_part(tmp_path: Path, rows: list[dict], err: str) -> None:
    assert delivered_in_feed(tmp_path / "feeds") == expected(rows)
    assert not list((tmp_path / "feeds").glob(".partial-*"))  # the dead worker's file cleaned up
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["exit_code"] == 0, err
    assert report["totals"]["delivered"] + report["totals"]["already_delivered"] >= len(rows)
    assert max(p["attempts"] for p in report["parts"]) >= 2  # the killed part ran again
    assert report["claims_released"] >= 1  # what the dead run claimed was released, then sent


def prepare_kill(tmp_path: Path, days: int) -> tuple[list[dict], dict[str, str], Path]:
    rows = pulled(days=days, per_stream=20)
    hold = tmp_path / "hold"
    hold.mkdir()
    (hold / "armed").touch()
    env = environment(
        tmp_path,
        write_records(tmp_path / "data.jsonl", rows),
        MSGEVENTS_FAKE_HOLD=str(hold),
        MSGEVENTS_FEED_MAX_LINES="7",  # 5 events a file: some committed, one half-written at the kill
        MSGEVENTS_CHUNK_SIZE="2",  # each page goes to the sink at once: claimed when the kill comes
    )
    return rows, env, hold


def test_a_local_worker_killed_mid_part_changes_nothing_delivered(tmp_path):
    state_location = tmp_path / "state" / "state.db"
    rows, env, hold = prepare_kill(tmp_path, days=3)
    args = ("--since", iso(T0), "--until", iso(T0 + 3 * DAY), "--to", "feed:feeds", "--workers", "2")
    process = backfill(tmp_path, env, *args, state=state_location)
    kill_the_holder(hold)
    code, err = finish(process)
    assert code == 0, err
    assert "a worker process died" in err
    check_killed_part(tmp_path, rows, err)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_dask_worker_killed_mid_part_on_a_local_cluster_every_event_once(
    tmp_path, monkeypatch, backend, request
):
    state_location = location(backend, tmp_path, request)
    from distributed import LocalCluster

    rows, env, hold = prepare_kill(tmp_path, days=4)
    for name, value in env.items():  # the workers are the cluster's processes: they need the settings
        if name.startswith("MSGEVENTS_") or name == "PYTHONPATH":
            monkeypatch.setenv(name, value)
    monkeypatch.syspath_prepend(str(FIXTURE_PLUGINS))
    with LocalCluster(
        n_workers=3,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
    ) as cluster:
        address = cluster.scheduler_address.replace("tcp://", "dask://")
        args = ("--since", iso(T0), "--until", iso(T0 + 4 * DAY), "--to", "feed:feeds", "--executor", address)
        process = backfill(tmp_path, env, *args, state=state_location)
        pid = kill_the_holder(hold)
        code, err = finish(process)
    assert code == 0, err
    assert pid != os.getpid()
    check_killed_part(tmp_path, rows, err)
