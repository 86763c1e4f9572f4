"""The schema of the state, version by version, for SQLite and PostgreSQL alike.

A step is SQL (in SQLite's spelling, which :class:`~msgevents.state.db.Dialect`
translates) or a function run inside the migrating transaction. Steps are never
edited once released: a state of any earlier version is brought forward by running
the steps after its version, in order. The version is SQLite's ``PRAGMA
user_version`` or PostgreSQL's ``schema_version`` table; a new PostgreSQL database
runs every step from the first, like a new state file.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import orjson

from msgevents.sink import time_prefix
from msgevents.timestamps import UTC, parse_iso8601

if TYPE_CHECKING:
    from msgevents.state.db import Tx

__all__ = ["LEDGER_LEGACY_MARGIN_DAYS", "LEDGER_LEGACY_UNTIL", "MIGRATIONS", "SCHEMA_VERSION"]

#: ``meta`` key: the last event second (since 1970) whose keys may be in ``ledger_legacy``
LEDGER_LEGACY_UNTIL = "ledger_legacy_until"
#: days after the upgrade still looked up in ``ledger_legacy`` (events timestamped ahead of the clock)
LEDGER_LEGACY_MARGIN_DAYS = 2

_LEDGER_TABLE = """
    CREATE TABLE ledger (
        sink_id INTEGER NOT NULL, key BLOB NOT NULL,
        status INTEGER NOT NULL,          -- 0 delivered, 1 rejected by the sink
        file_id INTEGER,                  -- feed file the event went out in
        acked_at INTEGER NOT NULL,        -- epoch seconds
        PRIMARY KEY (sink_id, key)
    ) WITHOUT ROWID
"""

_V1 = f"""
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE sinks (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE);
    CREATE TABLE positions (
        provider TEXT NOT NULL, account TEXT NOT NULL, stream TEXT NOT NULL,
        sink_id INTEGER NOT NULL REFERENCES sinks(id),
        position TEXT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (provider, account, stream, sink_id)
    );
    {_LEDGER_TABLE};
    CREATE TABLE feed_files (
        id INTEGER PRIMARY KEY, sink_id INTEGER NOT NULL,
        tmp_path TEXT NOT NULL, final_path TEXT NOT NULL,
        status TEXT NOT NULL,             -- pending | committed
        events INTEGER NOT NULL, created_at TEXT NOT NULL
    );
    CREATE TABLE outbox (
        sink_id INTEGER NOT NULL, key BLOB NOT NULL,
        provider TEXT NOT NULL, account TEXT NOT NULL, stream TEXT NOT NULL,
        payload BLOB NOT NULL, created_at INTEGER NOT NULL,
        PRIMARY KEY (sink_id, key)
    ) WITHOUT ROWID;
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY, provider TEXT NOT NULL, account TEXT NOT NULL,
        sink TEXT NOT NULL, mode TEXT NOT NULL, pid INTEGER NOT NULL,
        started_at TEXT NOT NULL, ended_at TEXT, outcome TEXT, exit_code INTEGER,
        report TEXT
    );
"""

# version 2: what was quarantined already, so re-reading a window does not quarantine it again
_V2 = "CREATE TABLE quarantined (key BLOB PRIMARY KEY, first_seen INTEGER NOT NULL) WITHOUT ROWID;"


def _timed_key(key: bytes, payload: bytes) -> bytes:
    """An outbox row's 16-byte key with its event's time in front (as :func:`ledger_key` has it)."""
    if len(key) != 16:
        return key
    return time_prefix(parse_iso8601(orjson.loads(payload)["timestamp"])) + key


def _v3_time_prefixed_ledger(tx: Tx) -> None:
    """Version 3: ledger keys start with the event's time (:func:`msgevents.sink.ledger_key`).

    The time of a version-2 ledger row cannot be recovered from its hash, so those
    rows move to ``ledger_legacy`` unchanged; look-ups of events up to
    :data:`LEDGER_LEGACY_UNTIL` (the upgrade time plus a margin) consult it too, so
    an event delivered before the upgrade is never sent again. Pruning empties it
    by ``acked_at`` like before; then it is no longer consulted. Outbox rows carry
    their event, so their keys are rewritten in place.
    """
    tx.execute("ALTER TABLE ledger RENAME TO ledger_legacy")
    tx.executescript_in_tx(_LEDGER_TABLE)
    if tx.execute("SELECT 1 FROM ledger_legacy LIMIT 1").fetchone() is None:
        tx.execute("DROP TABLE ledger_legacy")
    else:
        until = datetime.now(UTC) + timedelta(days=LEDGER_LEGACY_MARGIN_DAYS)
        tx.execute(
            tx.dialect.upsert("meta", ["key", "value"], ["key"]),
            (LEDGER_LEGACY_UNTIL, str(int(until.timestamp()))),
        )
    # a new state (every PostgreSQL one) has no outbox rows to rewrite here
    if tx.execute("SELECT 1 FROM outbox LIMIT 1").fetchone() is not None:
        tx.create_function("msgevents_timed_key", 2, _timed_key)
        tx.execute("UPDATE outbox SET key = msgevents_timed_key(key, payload)")


# version 4: input objects (s3://…) whose events all reached a sink, by URL and ETag,
# so a re-run over the same prefix lists them and reads only new or changed objects
_V4 = """
CREATE TABLE input_objects (
    provider TEXT NOT NULL, account TEXT NOT NULL, sink_id INTEGER NOT NULL,
    url TEXT NOT NULL, etag TEXT NOT NULL, finished_at INTEGER NOT NULL,
    PRIMARY KEY (provider, account, sink_id, url, etag)
) WITHOUT ROWID;
"""

# version 5: claims — the run delivering an event right now (see msgevents.state.claims), so
# runs of one account may run at once (backfill parts); and which backfill part a run was
_V5 = """
CREATE TABLE claims (
    sink_id INTEGER NOT NULL, key BLOB NOT NULL, run_id INTEGER NOT NULL,
    PRIMARY KEY (sink_id, key)
) WITHOUT ROWID;
CREATE INDEX claims_by_run ON claims(run_id);
ALTER TABLE runs ADD COLUMN part TEXT;
"""

# version 6: a sink's lease — the one run delivering to it without per-event claims while no
# other run wants to (see msgevents.state.claims); another run asks for it with ``handover``;
# ``unsettled`` bounds the events its holder had handed to the sink and not yet acknowledged
_V6 = """
CREATE TABLE leases (
    sink_id INTEGER NOT NULL, run_id INTEGER NOT NULL,
    handover INTEGER NOT NULL, unsettled INTEGER NOT NULL,
    PRIMARY KEY (sink_id)
);
"""

MIGRATIONS: list[str | Callable[[Tx], None]] = [_V1, _V2, _v3_time_prefixed_ledger, _V4, _V5, _V6]
SCHEMA_VERSION = len(MIGRATIONS)
