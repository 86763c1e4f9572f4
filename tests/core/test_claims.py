"""Claims: runs of one account at once never both send an event (msgevents.state.claims).

Two connections to one state stand for two processes; a dead run is a real process
killed with SIGKILL while it holds claims. Every test runs on both backends: a SQLite
file and a real PostgreSQL database (``state_location``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from msgevents.state import DELIVERED, StateStore


def keys(*numbers: int) -> list[bytes]:
    return [n.to_bytes(4, "big") + bytes(16) for n in numbers]


@pytest.fixture
def path(state_location: Path | str) -> Path | str:
    return state_location


@pytest.fixture
def two(path: Path | str):
    a, b = StateStore.open(path), StateStore.open(path)
    yield a, b
    a.close()
    b.close()


def start(store: StateStore) -> int:
    return store.start_run("fake", "acct-1", "feed", "backfill")


def test_a_key_claimed_by_one_run_is_not_won_by_another(two):
    a, b = two
    sink = a.sink_id("feed:/x")
    run_a, run_b = start(a), start(b)
    won_a, known_a = a.claiming.claim(sink, run_a, keys(*range(10)))
    won_b, known_b = b.claiming.claim(sink, run_b, keys(*range(5, 15)))
    assert won_a == keys(*range(10))
    assert known_a == {}
    assert won_b == keys(*range(10, 15))  # 5..9 are a's
    assert known_b == {}
    assert b.claiming.claim(sink, run_b, keys(3))[0] == []  # still a's


def test_an_acknowledged_key_is_found_in_the_ledger_by_the_next_claim(two):
    a, b = two
    sink = a.sink_id("feed:/x")
    run_a, run_b = start(a), start(b)
    a.claiming.claim(sink, run_a, keys(1, 2, 3))
    a.acknowledge(sink, delivered=keys(1, 2))  # the claims go with the ledger rows
    won, known = b.claiming.claim(sink, run_b, keys(1, 2, 3))
    assert won == []  # 3 is still a's
    assert known == dict.fromkeys(keys(1, 2), DELIVERED)
    assert b.claims.holders(sink, keys(1, 2)) == set()  # b does not keep claims of delivered keys


def test_released_claims_are_free_again(two):
    a, b = two
    sink = a.sink_id("feed:/x")
    run_a, run_b = start(a), start(b)
    a.claiming.claim(sink, run_a, keys(1, 2))
    a.claiming.release_claims(sink, keys(1))  # parked in the outbox: no longer being delivered
    assert b.claiming.claim(sink, run_b, keys(1, 2))[0] == keys(1)
    assert a.claiming.release_run_claims(run_a) == 1
    assert b.claiming.claim(sink, run_b, keys(2))[0] == keys(2)


def test_claims_of_a_feed_file_end_when_it_is_recorded_pending(two):
    a, b = two
    sink = a.sink_id("feed:/x")
    run_a, run_b = start(a), start(b)
    a.claiming.claim(sink, run_a, keys(1, 2))
    a.journal(sink).record_pending_file("/x/.partial-1", "/x/event_history_1.json", keys(1, 2))
    assert b.claims.holders(sink, keys(1, 2)) == set()
    assert b.claiming.claim(sink, run_b, keys(1, 2)) == ([], dict.fromkeys(keys(1, 2), DELIVERED))


HOLDER = textwrap.dedent(
    """
    import sys, time
    from msgevents.state import StateStore
    store = StateStore.open(sys.argv[1])
    sink = store.sink_id("feed:/x")
    run = store.start_run("fake", "acct-1", "feed", "backfill")
    held = store.claiming.hold_presence(run)
    won, _ = store.claiming.claim(sink, run, [n.to_bytes(4, "big") + bytes(16) for n in range(100, 110)])
    print(run, len(won), flush=True)
    time.sleep(120)
    """
)


def test_the_claims_of_a_killed_run_are_released_by_whoever_finds_them(path, two):
    _a, b = two
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        run_id, won = map(int, holder.stdout.readline().split())  # type: ignore[union-attr]
        assert won == 10
        sink = b.sink_id("feed:/x")
        run_b = start(b)
        assert b.claiming.run_alive(run_id)
        assert b.claiming.sweep_claims(sink, own=run_b) == 0  # alive: nothing released
        assert b.claiming.claim(sink, run_b, keys(100, 101))[0] == []
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        deadline = time.monotonic() + 20  # PostgreSQL frees it once the server saw the session end
        while b.claiming.run_alive(run_id) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not b.claiming.run_alive(run_id)
        assert b.claiming.sweep_claims(sink, keys(100), own=run_b) == 10
        assert b.claiming.claim(sink, run_b, keys(*range(100, 110)))[0] == keys(*range(100, 110))
    finally:
        holder.kill()
        holder.wait(timeout=10)
        holder.stdout.close()  # type: ignore[union-attr]


def test_a_run_that_ended_is_not_alive(path, two):
    a, b = two
    run = start(a)
    held = a.claiming.hold_presence(run)
    assert b.claiming.run_alive(run)
    assert a.claiming.run_alive(run)  # asked through another connection or file handle: still held
    held.release()
    assert not b.claiming.run_alive(run)
    assert not b.claiming.run_alive(run)  # looking did not take it for good
    if isinstance(path, Path):
        assert not list((path.parent / "locks").glob(f"run-*-{run}.lock"))
