"""Leases: a run alone on its sink sends without claims, and hands the lease over when asked.

Two connections to one state stand for two processes; a dead holder is a real process
killed with SIGKILL while it holds the lease. Every test runs on both backends: a SQLite
file and a real PostgreSQL database (``state_location``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from msgevents.state import DELIVERED, StateStore


def keys(*numbers: int) -> list[bytes]:
    return [n.to_bytes(4, "big") + bytes(16) for n in numbers]


@pytest.fixture
def two(state_location: Path | str):
    a, b = StateStore.open(state_location), StateStore.open(state_location)
    yield a, b
    a.close()
    b.close()


def start(store: StateStore) -> tuple[int, object]:
    run = store.start_run("fake", "acct-1", "feed", "backfill")
    return run, store.claiming.hold_presence(run)


def claim_rows(store: StateStore, sink: int) -> int:
    return int(store.db.execute("SELECT COUNT(*) FROM claims WHERE sink_id = ?", (sink,)).fetchone()[0])


def test_a_run_alone_takes_the_lease_and_writes_no_claims(two):
    a, _b = two
    sink = a.sink_id("feed:/x")
    run_a, held = start(a)
    assert a.claiming.take_lease(sink, run_a)
    assert a.claiming.keep_lease(sink, run_a, set(), 3)
    assert a.claiming.claim(sink, run_a, keys(1, 2, 3)) == (keys(1, 2, 3), {})  # the lease covers them
    a.acknowledge(sink, delivered=keys(1, 2))
    a.journal(sink).record_pending_file("/x/.partial-1", "/x/event_history_1.json", keys(3))
    assert claim_rows(a, sink) == 0
    a.claiming.release_run_claims(run_a)
    assert a.claiming.leases.holder(sink) is None
    assert not a.claiming.holds_lease(sink, run_a)
    held.release()  # type: ignore[attr-defined]


def test_no_lease_while_another_run_claims_or_holds_it(two):
    a, b = two
    sink = a.sink_id("feed:/x")
    (run_a, held_a), (run_b, held_b) = start(a), start(b)
    b.claiming.claim(sink, run_b, keys(1))
    assert not a.claiming.take_lease(sink, run_a)  # b claims a key
    b.acknowledge(sink, delivered=keys(1))
    assert a.claiming.take_lease(sink, run_a)
    assert not b.claiming.take_lease(sink, run_b)  # a holds it
    assert a.claiming.take_lease(sink, run_a)  # taking it again keeps it
    held_a.release()  # type: ignore[attr-defined]
    held_b.release()  # type: ignore[attr-defined]


def test_a_claiming_run_asks_and_the_holder_hands_its_keys_in_flight_over(two):
    a, b = two
    sink = a.sink_id("feed:/x")
    (run_a, held_a), (run_b, held_b) = start(a), start(b)
    assert a.claiming.take_lease(sink, run_a)
    assert a.claiming.keep_lease(sink, run_a, set(), 4)  # a sends 1..4
    a.acknowledge(sink, delivered=keys(1, 2))  # 3, 4 still in flight
    assert b.claiming.claim(sink, run_b, keys(*range(1, 7))) == ([], {})  # all held elsewhere: asked
    assert not a.claiming.keep_lease(sink, run_a, set(keys(3, 4)), 2)  # a sees it: hands over
    assert a.claiming.leases.holder(sink) is None
    assert b.claims.holders(sink, keys(3, 4)) == {run_a}  # a's keys in flight are its claims now
    won, known = b.claiming.claim(sink, run_b, keys(*range(1, 7)))
    assert won == keys(5, 6)
    assert known == dict.fromkeys(keys(1, 2), DELIVERED)
    a.acknowledge(sink, delivered=keys(3))  # after the handover a's claims end with its ledger rows
    assert b.claims.holders(sink, keys(3, 4)) == {run_a}
    assert b.claims.holders(sink, keys(3)) == set()
    assert not a.claiming.take_lease(sink, run_a)  # claims on the sink: no lease for anyone
    held_a.release()  # type: ignore[attr-defined]
    held_b.release()  # type: ignore[attr-defined]


def test_a_lease_and_a_claim_are_never_taken_at_once(state_location, two):
    """The write skew the sink lock prevents: a lease inserted while a claim is being taken.

    Without it, PostgreSQL at read committed lets the claim see no lease (not committed
    yet) and win, and both runs send.
    """
    a, _b = two
    sink = a.sink_id("feed:/x")
    run_a, held_a = start(a)
    locked, answer = threading.Event(), {}

    def claim() -> None:  # another process: its own connection, in its own thread
        b = StateStore.open(state_location)
        run_b, held_b = start(b)
        locked.wait(10)
        answer["b"] = b.claiming.claim(sink, run_b, keys(1, 2))
        held_b.release()  # type: ignore[attr-defined]
        b.close()

    thread = threading.Thread(target=claim)
    thread.start()
    with a.transaction() as tx:
        tx.dialect.lock_sink(tx, sink)
        assert a.claiming.leases.get(tx, sink) is None
        assert not a.claims.any(tx, sink)
        locked.set()
        time.sleep(0.5)  # b's claim runs now
        a.claiming.leases.insert(tx, sink, run_a)
    thread.join(20)
    assert answer["b"] == ([], {})  # it waited for the lease and did not win
    assert claim_rows(a, sink) == 0
    held_a.release()  # type: ignore[attr-defined]


HOLDER = textwrap.dedent(
    """
    import sys, time
    from msgevents.state import StateStore
    store = StateStore.open(sys.argv[1])
    sink = store.sink_id("feed:/x")
    run = store.start_run("fake", "acct-1", "feed", "backfill")
    held = store.claiming.hold_presence(run)
    taken = store.claiming.take_lease(sink, run)
    kept = store.claiming.keep_lease(sink, run, set(), 7)  # 7 events handed to the sink
    print(run, int(taken and kept), flush=True)
    time.sleep(120)
    """
)


def test_the_lease_of_a_killed_holder_is_released_and_taken_by_the_next_run(state_location, two):
    _a, b = two
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(state_location)], stdout=subprocess.PIPE, text=True
    )
    try:
        run_id, leased = map(int, holder.stdout.readline().split())  # type: ignore[union-attr]
        assert leased == 1
        sink = b.sink_id("feed:/x")
        run_b, held_b = start(b)
        assert b.claiming.sweep_claims(sink, own=run_b) == 0  # alive: nothing released
        assert not b.claiming.take_lease(sink, run_b)
        assert b.claiming.claim(sink, run_b, keys(1)) == ([], {})
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        deadline = time.monotonic() + 20  # PostgreSQL frees it once the server saw the session end
        while b.claiming.run_alive(run_id) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert b.claiming.sweep_claims(sink, keys(1), own=run_b) == 7  # what it left unsettled
        assert b.claiming.take_lease(sink, run_b)
        held_b.release()  # type: ignore[attr-defined]
    finally:
        holder.kill()
        holder.wait(timeout=10)
        holder.stdout.close()  # type: ignore[union-attr]
