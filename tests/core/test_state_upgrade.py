"""Upgrading a schema-2 state file (16-byte ledger keys, no day) to day-prefixed keys.

``fixtures/state-v2.db`` was written by the schema-2 code itself
(``fixtures/make_state_v2.py``). After the upgrade every guarantee it carried
holds: delivered and rejected events are still known, the pending feed file
still owns its row, parked events are found and cleared by their new keys; the
legacy rows are pruned by retention like before and are consulted only for
events up to the upgrade (plus a margin).
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from msgevents.events import Event
from msgevents.sink import ledger_key
from msgevents.state import DELIVERED, REJECTED, SCHEMA_VERSION, StateStore
from msgevents.state.ledger import PRUNE_SQL

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from make_state_v2 import FIXTURE, v2_event_fields

SINK = "feed:/v2"


def key(n: int, **changes: object) -> bytes:
    return ledger_key(Event(**{**v2_event_fields(n), **changes}))


@pytest.fixture
def path(tmp_path: Path) -> Path:
    copy = tmp_path / "state.db"
    shutil.copyfile(FIXTURE, copy)
    return copy


@pytest.fixture
def store(path: Path):
    opened = StateStore.open(path)
    yield opened
    opened.close()


def query(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_the_fixture_is_a_schema_2_file_with_16_byte_keys():
    assert query(FIXTURE, "PRAGMA user_version") == [(2,)]
    assert query(FIXTURE, "SELECT DISTINCT length(key) FROM ledger") == [(16,)]
    assert query(FIXTURE, "SELECT COUNT(*) FROM outbox") == [(2,)]


def test_events_delivered_or_rejected_before_the_upgrade_are_still_known(path, store):
    sink = store.sink_id(SINK)
    assert query(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    wanted = [key(n) for n in range(1, 8)]
    assert store.ledger_status(sink, wanted) == {
        key(1): DELIVERED,
        key(2): DELIVERED,
        key(3): DELIVERED,
        key(4): REJECTED,
        key(5): DELIVERED,  # in the feed file still pending
    }
    assert store.known(sink, [key(9)]) == set()
    assert store.known(store.sink_id("feed:/other"), wanted) == set()


def test_events_after_the_upgrade_are_not_looked_up_in_the_legacy_rows(path, store):
    sink = store.sink_id(SINK)
    future = datetime.now(UTC) + timedelta(days=10)
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO ledger_legacy(sink_id, key, status, file_id, acked_at) VALUES (?, ?, 0, NULL, ?)",
        (sink, key(8, timestamp=future)[4:], int(time.time())),
    )
    conn.commit()
    conn.close()
    assert store.known(sink, [key(8, timestamp=future)]) == set()
    assert store.known(sink, [key(8, timestamp=datetime(2026, 11, 8, tzinfo=UTC))]) == {
        key(8, timestamp=datetime(2026, 11, 8, tzinfo=UTC))
    }


def test_parked_events_keep_their_place_under_their_new_keys(path, store):
    sink = store.sink_id(SINK)
    assert store.outbox_count(sink) == 2
    assert store.known_in_outbox(sink, [key(6), key(7), key(1)]) == {key(6), key(7)}
    pages = list(store.outbox_batches(sink, "test", ""))
    assert [payload["event_id"] for page in pages for _stream, payload in page] == ["e-6", "e-7"]
    store.acknowledge(sink, delivered=[key(6)], outbox_done=[key(6)])
    assert store.outbox_count(sink) == 1
    assert store.known(sink, [key(6), key(7)]) == {key(6)}


def test_a_pending_feed_file_from_before_the_upgrade_is_reconciled(path, store):
    sink = store.sink_id(SINK)
    journal = store.journal(sink)
    [pending] = journal.pending_files()
    assert (pending.tmp_path, pending.final_path) == ("/v2/tmp", "/v2/final.json")
    journal.resolve_pending_file(pending.file_id, renamed=False)
    assert store.known(sink, [key(5)]) == set()  # will be sent again
    assert store.known(sink, [key(1)]) == {key(1)}


def test_replay_forgets_a_rejection_from_before_the_upgrade(store):
    sink = store.sink_id(SINK)
    store.forget_rejections(sink, [key(4), key(1)])
    assert store.ledger_status(sink, [key(1), key(4)]) == {key(1): DELIVERED}


def test_legacy_rows_are_pruned_by_retention_and_then_no_longer_consulted(path, store):
    sink = store.sink_id(SINK)
    assert store.prune_ledger(timedelta(days=90), every=timedelta(0)) == 0  # all acknowledged just now
    assert store.known(sink, [key(1)]) == {key(1)}
    conn = sqlite3.connect(path)
    conn.execute("UPDATE ledger_legacy SET acked_at = ?", (int(time.time()) - 100 * 86400,))
    conn.commit()
    conn.close()
    assert store.prune_ledger(timedelta(days=90), every=timedelta(0)) == 4  # not the pending file's row
    assert store.known(sink, [key(n) for n in range(1, 6)]) == {key(5)}
    assert query(path, "SELECT COUNT(*) FROM meta WHERE key='ledger_legacy_until'") == [(1,)]
    store.journal(sink).resolve_pending_file(store.journal(sink).pending_files()[0].file_id, renamed=True)
    assert store.prune_ledger(timedelta(days=90), every=timedelta(0)) == 1
    assert query(path, "SELECT COUNT(*) FROM meta WHERE key='ledger_legacy_until'") == [(0,)]
    assert store.known(sink, [key(5)]) == set()


def test_a_new_state_file_has_no_legacy_table(tmp_path):
    StateStore.open(tmp_path / "new.db").close()
    tables = {name for (name,) in query(tmp_path / "new.db", "SELECT name FROM sqlite_master")}
    assert "ledger" in tables
    assert "ledger_legacy" not in tables


def test_pruning_is_a_range_delete_on_the_time_prefix(tmp_path):
    """Rows of events older than the retention go once they were also acknowledged that long ago;
    the query plan reads only the key range before the cutoff."""
    store = StateStore.open(tmp_path / "s.db")
    sink = store.sink_id("feed:/a")
    now = datetime.now(UTC)
    old = [key(1, timestamp=now - timedelta(days=d), event_id=f"o{d}") for d in (91, 120, 400)]
    recent = [key(1, timestamp=now - timedelta(days=d), event_id=f"r{d}") for d in (0, 10, 89)]
    store.acknowledge(sink, delivered=old + recent)
    assert store.prune_ledger(timedelta(days=90), every=timedelta(0)) == 0  # acknowledged just now
    conn = sqlite3.connect(tmp_path / "s.db")
    conn.execute("UPDATE ledger SET acked_at = ?", (int(time.time()) - 100 * 86400,))
    conn.commit()
    plan = " ".join(
        row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + PRUNE_SQL, (sink, b"\x00\x00\x00\x01", 0))
    )
    conn.close()
    assert "USING PRIMARY KEY (sink_id=? AND key<?)" in plan
    assert store.prune_ledger(timedelta(days=90), every=timedelta(0)) == 3
    assert store.known(sink, old + recent) == set(recent)
    store.close()
