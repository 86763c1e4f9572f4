"""The state store (``msgevents.state``): files, schema, ledger, positions, outbox, runs.

Covers owner-only creation (directory 0700, files 0600), the schema version
and idempotent migration (also when another process migrates at the same
moment), refusal of a newer schema, read-only opening of a missing file, the
ledger (``known``/``acknowledge``, delivered and rejected, forgetting
rejections), positions per (provider, account, stream, sink), the outbox
(park, batches, count, cleared with the ledger rows in one transaction), the
feed-file journal, ledger pruning, run records, and several processes writing
one state at once. Every test that is not about the SQLite file itself runs on
both backends (``state_location``: a SQLite file and a PostgreSQL database); the
state is inspected with a separate connection (``pg.query``), not through the store.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
import stat
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pg import query

from msgevents.errors import ConfigError
from msgevents.formats import event_from_jsonl
from msgevents.sink import ledger_key
from msgevents.state import SCHEMA_VERSION, StateStore
from msgevents.state.location import describe_location, is_postgres

T0 = datetime(2022, 1, 11, tzinfo=UTC)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "state.db"


@pytest.fixture
def location(state_location: Path | str) -> Path | str:
    return state_location


@pytest.fixture
def store(location: Path | str):
    opened = StateStore.open(location)
    try:
        yield opened
    finally:
        opened.close()


def schema_version(location: Path | str) -> int:
    if is_postgres(location):
        return query(location, "SELECT version FROM schema_version")[0][0]
    return query(location, "PRAGMA user_version")[0][0]


def tables(location: Path | str) -> set[str]:
    if is_postgres(location):
        sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    else:
        sql = "SELECT name FROM sqlite_master WHERE type='table'"
    return {name for (name,) in query(location, sql)}


def keys(*numbers: int) -> list[bytes]:
    return [n.to_bytes(16, "big") for n in numbers]


# -- files and schema ------------------------------------------------------------------------------


def test_the_state_file_and_directory_are_owner_only(path, make_event):
    store = StateStore.open(path)
    sink = store.sink_id("feed:/x")
    store.acknowledge(sink, delivered=keys(1))
    store.park(sink, [(make_event(), "opens")])
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for item in path.parent.iterdir():  # the WAL and shared-memory files too
        assert stat.S_IMODE(item.stat().st_mode) & 0o077 == 0, item.name
    store.close()


def test_the_schema_version_is_set_and_the_tables_exist(location, store):
    assert SCHEMA_VERSION >= 1
    assert schema_version(location) == SCHEMA_VERSION
    wanted = {"meta", "sinks", "positions", "ledger", "feed_files", "outbox", "runs", "quarantined"}
    assert wanted | {"input_objects"} <= tables(location)
    assert "ledger_legacy" not in tables(location)


def test_opening_again_keeps_data_and_version(location):
    first = StateStore.open(location)
    sink = first.sink_id("feed:/x")
    first.acknowledge(sink, delivered=keys(1, 2))
    first.close()
    for _ in range(3):
        again = StateStore.open(location)
        assert again.sink_id("feed:/x") == sink
        assert again.known(sink, keys(1, 2, 3)) == set(keys(1, 2))
        again.close()
    assert schema_version(location) == SCHEMA_VERSION
    if not is_postgres(location):
        assert query(location, "PRAGMA integrity_check") == [("ok",)]


def test_a_migration_done_meanwhile_by_another_process_is_not_repeated(location, monkeypatch):
    """Both read version 0; the other one migrates first; this one must see that under its lock."""
    original = StateStore.transaction
    raced: list[bool] = []

    @contextmanager
    def racing(self):
        if not raced:
            raced.append(True)
            StateStore.open(self.location).close()  # "the other process" migrates right now
        with original(self) as tx:
            yield tx

    monkeypatch.setattr(StateStore, "transaction", racing)
    store = StateStore.open(location)
    assert raced == [True]
    assert store.sink_id("feed:/x") is not None
    store.close()
    assert schema_version(location) == SCHEMA_VERSION


def test_a_newer_schema_is_refused_with_a_clear_config_error(location):
    StateStore.open(location).close()
    if is_postgres(location):
        query(location, "UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    else:
        query(location, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ConfigError) as caught:
        StateStore.open(location)
    message = str(caught.value)
    assert describe_location(location) in message
    assert f"schema {SCHEMA_VERSION + 1}" in message
    assert "upgrade msgevents" in message
    assert schema_version(location) == SCHEMA_VERSION + 1  # left alone


def test_a_file_that_is_not_a_database_is_a_config_error(path):
    path.parent.mkdir(mode=0o700)
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match="not a msgevents state file"):
        StateStore.open(path)


def test_read_only_open_of_a_missing_file_reads_as_empty_and_creates_nothing(tmp_path):
    missing = tmp_path / "nowhere" / "state.db"
    store = StateStore.open_readonly(missing)
    assert store.readonly is True
    assert store.sink_id("feed:/x") is None
    assert store.known(None, keys(1)) == set()
    assert store.positions("p", "a", None) == {}
    assert store.position("p", "a", "s", None) is None
    assert store.outbox_count(None) == 0
    assert list(store.outbox_batches(None, "p", "a")) == []
    assert store.runs() == []
    store.close()
    assert not missing.parent.exists()


def test_read_only_open_of_an_existing_file_reads_and_refuses_writes(location):
    writer = StateStore.open(location)
    sink = writer.sink_id("feed:/x")
    writer.acknowledge(sink, delivered=keys(7))
    writer.close()
    reader = StateStore.open_readonly(location)
    assert reader.sink_id("feed:/x") == sink
    assert reader.sink_id("feed:/new") is None  # not created
    assert reader.known(sink, keys(7, 8)) == set(keys(7))
    with pytest.raises(RuntimeError, match="read-only"), reader.transaction():
        pass
    reader.close()
    assert query(location, "SELECT key FROM sinks") == [("feed:/x",)]


def test_read_only_open_of_an_old_schema_asks_for_a_migration(path):
    path.parent.mkdir(mode=0o700)
    sqlite3.connect(path).close()  # an empty database: schema 0
    with pytest.raises(ConfigError, match="without --dry-run"):
        StateStore.open_readonly(path)


# -- sinks and ledger ------------------------------------------------------------------------------


def test_sink_ids_are_stable_and_distinct(store):
    a, b = store.sink_id("feed:/a"), store.sink_id("crossengage:https://x#1")
    assert a != b
    assert store.sink_id("feed:/a") == a


def test_ledger_knows_delivered_and_rejected_keys_per_sink(store):
    a, b = store.sink_id("feed:/a"), store.sink_id("feed:/b")
    assert store.known(a, keys(1, 2, 3)) == set()
    store.acknowledge(a, delivered=keys(1), rejected=keys(2))
    assert store.known(a, keys(1, 2, 3)) == set(keys(1, 2))
    assert store.known(b, keys(1, 2, 3)) == set()  # another destination, another ledger
    assert store.known(a, []) == set()


def test_ledger_rows_record_the_status(location, store):
    sink = store.sink_id("feed:/a")
    store.acknowledge(sink, delivered=keys(1), rejected=keys(2))
    rows = dict(query(location, "SELECT key, status FROM ledger"))
    assert rows == {keys(1)[0]: 0, keys(2)[0]: 1}


def test_known_handles_more_keys_than_one_sql_statement_takes(store):
    sink = store.sink_id("feed:/a")
    delivered = keys(*range(0, 5000, 2))
    store.acknowledge(sink, delivered=delivered)
    assert store.known(sink, keys(*range(5000))) == set(delivered)


def test_ledger_status_tells_delivered_from_rejected_in_one_look_up(store):
    sink = store.sink_id("feed:/a")
    store.acknowledge(sink, delivered=keys(1, 2), rejected=keys(3))
    status = store.ledger_status(sink, keys(*range(1000)))  # more than one IN (...) chunk
    assert status == {keys(1)[0]: 0, keys(2)[0]: 0, keys(3)[0]: 1}
    assert set(status) == store.known(sink, keys(*range(1000)))
    assert {k for k, s in status.items() if s} == store.rejected_among(sink, keys(1, 2, 3))
    assert store.ledger_status(store.sink_id("feed:/b"), keys(1)) == {}


def test_ledger_rows_are_written_for_every_key_of_a_large_batch(location, store):
    """Keys go in 100 per statement and a remainder: all of them, existing rows left as they are."""
    sink = store.sink_id("feed:/a")
    store.acknowledge(sink, rejected=keys(7))
    store.acknowledge(sink, delivered=keys(*range(1, 251)))
    assert store.known(sink, keys(*range(1, 251))) == set(keys(*range(1, 251)))
    assert query(location, "SELECT COUNT(*), SUM(status) FROM ledger") == [(250, 1)]  # 7 stays rejected
    file_id = store.journal(sink).record_pending_file("/d/t", "/d/f", keys(*range(300, 401)))
    assert query(location, "SELECT COUNT(*) FROM ledger WHERE file_id=?", (file_id,)) == [(101,)]


def test_acknowledging_twice_is_harmless(store):
    sink = store.sink_id("feed:/a")
    store.acknowledge(sink, delivered=keys(1))
    store.acknowledge(sink, delivered=keys(1))
    assert store.known(sink, keys(1)) == set(keys(1))


def test_forget_rejections_drops_only_rejected_rows(store):
    sink = store.sink_id("feed:/a")
    store.acknowledge(sink, delivered=keys(1), rejected=keys(2))
    store.forget_rejections(sink, keys(1, 2))
    assert store.known(sink, keys(1, 2)) == set(keys(1))


# -- positions -------------------------------------------------------------------------------------


def test_positions_are_kept_per_provider_account_stream_and_sink(store):
    a, b = store.sink_id("feed:/a"), store.sink_id("feed:/b")
    store.acknowledge(
        a, positions=[("episerver", "acct1", "opens", T0), ("episerver", "acct1", "clicks", T0)]
    )
    store.acknowledge(a, positions=[("episerver", "acct2", "opens", T0 + timedelta(hours=1))])
    store.acknowledge(b, positions=[("episerver", "acct1", "opens", T0 + timedelta(hours=2))])
    store.acknowledge(a, positions=[("mailgun", "acct1", "opens", T0 + timedelta(hours=3))])
    assert store.positions("episerver", "acct1", a) == {"opens": T0, "clicks": T0}
    assert store.positions("episerver", "acct2", a) == {"opens": T0 + timedelta(hours=1)}
    assert store.positions("episerver", "acct1", b) == {"opens": T0 + timedelta(hours=2)}
    assert store.position("mailgun", "acct1", "opens", a) == T0 + timedelta(hours=3)
    assert store.position("mailgun", "acct1", "clicks", a) is None


def test_a_position_moves_and_keeps_milliseconds(store):
    sink = store.sink_id("feed:/a")
    store.acknowledge(sink, positions=[("p", "", "s", T0)])
    later = T0 + timedelta(days=1, milliseconds=250)
    store.acknowledge(sink, positions=[("p", "", "s", later)])
    assert store.position("p", "", "s", sink) == later
    assert store.position("p", "", "s", sink).tzinfo is not None


def test_reset_positions_clears_one_provider_account_and_sink(store):
    a, b = store.sink_id("feed:/a"), store.sink_id("feed:/b")
    store.acknowledge(a, positions=[("p", "x", "s", T0), ("p", "y", "s", T0)])
    store.acknowledge(b, positions=[("p", "x", "s", T0)])
    store.reset_positions("p", "x", a)
    assert store.positions("p", "x", a) == {}
    assert store.positions("p", "y", a) == {"s": T0}
    assert store.positions("p", "x", b) == {"s": T0}


# -- outbox ----------------------------------------------------------------------------------------


def test_parked_events_come_back_in_batches_equal_to_what_was_parked(store, make_event):
    sink = store.sink_id("feed:/a")
    events = [make_event(user_id=f"U{i}", provider="p", account="acct") for i in range(5)]
    store.park(sink, [(e, "opens") for e in events])
    assert store.outbox_count(sink) == 5
    assert store.outbox_count(sink, "p") == 5
    assert store.outbox_count(sink, "other") == 0
    batches = list(store.outbox_batches(sink, "p", "acct", size=2))
    assert [len(b) for b in batches] == [2, 2, 1]
    back = [event_from_jsonl(payload) for batch in batches for _stream, payload in batch]
    assert sorted(back, key=lambda e: e.user_id) == events
    assert {stream for batch in batches for stream, _payload in batch} == {"opens"}


def test_outbox_batches_are_per_provider_and_account(store, make_event):
    sink = store.sink_id("feed:/a")
    store.park(
        sink, [(make_event(provider="p", account="one"), "s"), (make_event(provider="p", account="two"), "s")]
    )
    store.park(sink, [(make_event(provider="q", account="one"), "s")])
    [[(_stream, payload)]] = list(store.outbox_batches(sink, "p", "two"))
    assert payload["account"] == "two"
    assert store.outbox_count(sink) == 3
    assert store.outbox_count(sink, "p") == 2
    assert store.outbox_count(sink, "p", "two") == 1  # what one run of (p, two) has waiting
    assert store.outbox_count(sink, "q", "two") == 0


def test_parking_the_same_event_twice_keeps_one_row(store, make_event):
    sink = store.sink_id("feed:/a")
    store.park(sink, [(make_event(), "s")])
    store.park(sink, [(make_event(), "s")])
    assert store.outbox_count(sink) == 1


def test_outbox_rows_are_cleared_with_the_ledger_rows(store, make_event):
    sink = store.sink_id("feed:/a")
    events = [make_event(user_id=f"U{i}") for i in range(3)]
    store.park(sink, [(e, "s") for e in events])
    done = [ledger_key(e) for e in events[:2]]
    store.acknowledge(sink, delivered=done, outbox_done=done)
    assert store.outbox_count(sink) == 1
    assert store.known(sink, [ledger_key(e) for e in events]) == set(done)


def test_acknowledge_is_all_or_nothing(store, make_event):
    """A failure in the middle (here: while reading positions) leaves ledger and outbox untouched."""
    sink = store.sink_id("feed:/a")
    event = make_event()
    store.park(sink, [(event, "s")])
    key = ledger_key(event)

    def positions():
        yield ("p", "", "s", T0)
        raise RuntimeError("crash between ledger rows and outbox")

    with pytest.raises(RuntimeError, match="crash"):
        store.acknowledge(sink, delivered=[key], positions=positions(), outbox_done=[key])
    assert store.known(sink, [key]) == set()
    assert store.outbox_count(sink) == 1
    assert store.positions("p", "", sink) == {}


# -- feed-file journal -----------------------------------------------------------------------------


def test_journal_pending_file_rows_count_as_known_until_resolved(store):
    sink = store.sink_id("feed:/a")
    journal = store.journal(sink)
    file_id = journal.record_pending_file("/d/.partial-1.json", "/d/event_history_1.json", keys(1, 2))
    [pending] = journal.pending_files()
    assert (pending.file_id, pending.tmp_path, pending.final_path) == (
        file_id,
        "/d/.partial-1.json",
        "/d/event_history_1.json",
    )
    assert store.known(sink, keys(1, 2)) == set(keys(1, 2))
    assert store.journal(store.sink_id("feed:/b")).pending_files() == []


def test_journal_renamed_file_is_committed_and_keeps_its_rows(location, store):
    sink = store.sink_id("feed:/a")
    journal = store.journal(sink)
    file_id = journal.record_pending_file("/d/t", "/d/f", keys(1, 2))
    journal.resolve_pending_file(file_id, renamed=True)
    assert journal.pending_files() == []
    assert store.known(sink, keys(1, 2)) == set(keys(1, 2))
    assert query(location, "SELECT status FROM feed_files WHERE id=?", (file_id,)) == [("committed",)]


def test_journal_file_never_renamed_forgets_its_rows(location, store):
    sink = store.sink_id("feed:/a")
    store.acknowledge(sink, delivered=keys(9))
    journal = store.journal(sink)
    file_id = journal.record_pending_file("/d/t", "/d/f", keys(1, 2))
    journal.resolve_pending_file(file_id, renamed=False)
    assert journal.pending_files() == []
    assert store.known(sink, keys(1, 2, 9)) == set(keys(9))
    assert query(location, "SELECT COUNT(*) FROM feed_files") == [(0,)]


def test_acknowledge_with_a_file_id_commits_the_file(location, store):
    sink = store.sink_id("feed:/a")
    file_id = store.journal(sink).record_pending_file("/d/t", "/d/f", keys(1))
    store.acknowledge(sink, delivered=keys(1), file_id=file_id)
    assert store.journal(sink).pending_files() == []
    assert query(location, "SELECT status FROM feed_files") == [("committed",)]


def test_acknowledging_a_journaled_file_keeps_its_rows_and_adds_what_it_lacks(location, store):
    """The file's keys are in the ledger since record_pending_file; extra keys still get rows."""
    sink = store.sink_id("feed:/a")
    file_id = store.journal(sink).record_pending_file("/d/t", "/d/f", keys(3, 1, 2))
    store.acknowledge(sink, delivered=keys(2, 3, 1), file_id=file_id)
    rows = query(location, "SELECT key, file_id FROM ledger ORDER BY key")
    assert rows == [(k, file_id) for k in keys(1, 2, 3)]
    other = store.journal(sink).record_pending_file("/d/t2", "/d/f2", keys(4))
    store.acknowledge(sink, delivered=keys(4, 5), file_id=other)
    assert store.known(sink, keys(1, 2, 3, 4, 5)) == set(keys(1, 2, 3, 4, 5))


def test_acknowledging_a_file_whose_rows_another_process_dropped_writes_them(location, store):
    sink = store.sink_id("feed:/a")
    file_id = store.journal(sink).record_pending_file("/d/t", "/d/f", keys(1, 2))
    other = StateStore.open(location)  # e.g. another run settling the file as "never renamed"
    try:
        other.journal(sink).resolve_pending_file(file_id, renamed=False)
    finally:
        other.close()
    assert store.known(sink, keys(1, 2)) == set()
    store.acknowledge(sink, delivered=keys(1, 2), file_id=file_id)
    assert store.known(sink, keys(1, 2)) == set(keys(1, 2))


# -- pruning ---------------------------------------------------------------------------------------


def age_rows(location: Path | str, days: int) -> None:
    query(location, "UPDATE ledger SET acked_at = ?", (int(time.time()) - days * 86400,))


def test_prune_ledger_respects_retention_and_pending_files(location, store):
    sink = store.sink_id("feed:/a")
    journal = store.journal(sink)
    store.acknowledge(sink, delivered=keys(1, 2))
    pending = journal.record_pending_file("/d/t1", "/d/f1", keys(3))
    committed = journal.record_pending_file("/d/t2", "/d/f2", keys(4))
    journal.resolve_pending_file(committed, renamed=True)
    age_rows(location, 100)
    store.acknowledge(sink, delivered=keys(5))  # fresh
    deleted = store.prune_ledger(timedelta(days=90))
    assert deleted == 3  # 1, 2 and the committed file's 4
    assert store.known(sink, keys(1, 2, 3, 4, 5)) == set(keys(3, 5))
    # the committed file without rows is gone, the pending one stays
    assert query(location, "SELECT id, status FROM feed_files") == [(pending, "pending")]


def test_prune_ledger_keeps_rows_younger_than_retention(location, store):
    sink = store.sink_id("feed:/a")
    store.acknowledge(sink, delivered=keys(1))
    age_rows(location, 30)
    assert store.prune_ledger(timedelta(days=90)) == 0
    assert store.known(sink, keys(1)) == set(keys(1))


def test_prune_ledger_runs_at_most_once_per_interval(location, store):
    sink = store.sink_id("feed:/a")
    assert store.prune_ledger(timedelta(days=90)) == 0
    store.acknowledge(sink, delivered=keys(1))
    age_rows(location, 100)
    assert store.prune_ledger(timedelta(days=90)) == 0  # pruned moments ago
    assert store.known(sink, keys(1)) == set(keys(1))
    assert store.prune_ledger(timedelta(days=90), every=timedelta(0)) == 1
    assert store.known(sink, keys(1)) == set()


def test_prune_ledger_on_postgresql_is_a_range_scan_of_the_primary_key(pg_url):
    """The keys of events before the cutoff come first in the index: the delete reads only them."""
    StateStore.open(pg_url).close()
    import psycopg

    from msgevents.state.ledger import PRUNE_SQL

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")  # an empty table: ask what the index can do
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN " + PRUNE_SQL.replace("?", "%s"), (1, b"\x00\x00\x00\x01", 0)
            ).fetchall()
        )
    assert "ledger_pkey" in plan, plan
    assert "Index Cond: ((sink_id = " in plan, plan
    assert "(key < " in plan, plan


# -- runs ------------------------------------------------------------------------------------------


def test_run_records(location, store):
    first = store.start_run("episerver", "acct", "feed", "live")
    second = store.start_run("episerver", "acct", "feed", "backfill")
    store.finish_run(first, "done", 0, {"delivered": 3})
    runs = store.runs()
    assert [r["id"] for r in runs] == [second, first]  # newest first
    assert runs[1]["outcome"] == "done"
    assert runs[1]["exit_code"] == 0
    assert runs[1]["ended_at"].endswith("Z")
    assert runs[0]["mode"] == "backfill"
    assert runs[0]["ended_at"] is None
    assert store.runs(limit=1) == runs[:1]
    assert query(location, "SELECT report FROM runs WHERE id=?", (first,)) == [('{"delivered":3}',)]


# -- several processes -----------------------------------------------------------------------------


ROWS_PER_WRITER = 100
ROUNDS = 5  # fresh files: the moment of creating and migrating is the delicate one


def _writer(locations: list[Path | str], number: int, barrier) -> None:
    try:
        for location in locations:
            barrier.wait(timeout=60)  # every writer opens the fresh state at the same moment
            store = StateStore.open(location)
            sink = store.sink_id("feed:/shared")
            for i in range(ROWS_PER_WRITER):
                key = (number * 1_000_000 + i).to_bytes(16, "big")
                position = ("p", str(number), "s", T0 + timedelta(seconds=i))
                store.acknowledge(sink, delivered=[key], positions=[position])
            store.close()
    except BaseException:
        barrier.abort()  # the others stop waiting for this one
        raise


def test_processes_writing_one_state_at_once_do_not_corrupt_it(tmp_path, state_location, request):
    if is_postgres(state_location):
        server = request.getfixturevalue("pg_server")
        locations = [state_location, *(server.create_database() for _ in range(ROUNDS - 1))]
    else:
        locations = [tmp_path / f"round{round_}" / "state.db" for round_ in range(ROUNDS)]
    context = multiprocessing.get_context("spawn")
    writers = 4
    barrier = context.Barrier(writers)
    processes = [context.Process(target=_writer, args=(locations, n, barrier)) for n in range(writers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * writers
    for location in locations:
        if not is_postgres(location):
            assert query(location, "PRAGMA integrity_check") == [("ok",)]
        assert query(location, "SELECT COUNT(*) FROM sinks") == [(1,)]
        assert query(location, "SELECT COUNT(*) FROM ledger") == [(writers * ROWS_PER_WRITER,)]
        store = StateStore.open(location)
        sink = store.sink_id("feed:/shared")
        for n in range(writers):
            wanted = [(n * 1_000_000 + i).to_bytes(16, "big") for i in range(ROWS_PER_WRITER)]
            assert store.known(sink, wanted) == set(wanted)
            assert store.positions("p", str(n), sink) == {"s": T0 + timedelta(seconds=ROWS_PER_WRITER - 1)}
        store.close()
