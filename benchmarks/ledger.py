"""The ledger flat in history: per-record cost of deduplicate + acknowledge with an empty ledger
against a ledger holding ``--rows`` delivered ids (default 50M), alternating, medians.

What is timed is the state's part of every batch the pipeline delivers: ``ledger_status`` (the
dedupe look-up) and ``acknowledge(delivered=…)`` (the ledger insert, one transaction), over
``--batch``-key batches (default 1,000), ``--records`` keys per round. Keys are shaped like real
ledger keys (:func:`msgevents.sink.ledger_key`: four bytes of the event's second, then a 16-byte
hash), for events in time order as files and API pages deliver them.

The large ledger is built once and cached in ``benchmarks/out/`` (50M rows: ~2.5 GB, several
minutes): ``rows / days`` ids per day over ``--days`` days (default 90, the default retention)
up to now, inserted with ``executemany`` in key order straight into the table of a state file
created and migrated by :class:`~msgevents.state.StateStore`. Three input shapes, each over
``--input-hours`` hours of events:

- ``new``: events after the newest in the ledger (a live run, a new file);
- ``re-read``: the same events again, every one already known (a restatement window, a file
  read twice) — look-ups only;
- ``interleaved``: new events in the last hours the ledger already covers, between its ids
  (a backfill of a day partly delivered) — the pessimistic case.

The empty side is a fresh state file every round (it holds only that round's events).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, machine, median, remove

from msgevents.state import StateStore

SINK = "feed:/benchmark/ledger"
DAY = 86_400


def timed_keys(count: int, start: int, seconds: int) -> list[bytes]:
    """``count`` keys of events evenly spread over ``seconds`` seconds from ``start``, in key order."""
    blob = os.urandom(16 * count)
    keys = [
        (start + i * seconds // count).to_bytes(4, "big") + blob[16 * i : 16 * i + 16] for i in range(count)
    ]
    keys.sort()
    return keys


def build(path: Path, rows: int, days: int, end: int) -> None:
    """A state file whose ledger holds ``rows`` keys over the ``days`` days up to ``end`` (cached)."""
    marker = path.with_suffix(".ok")
    if path.exists() and marker.exists():
        return
    remove(path)
    started = time.perf_counter()
    print(f"building a ledger of {rows:,} ids over {days} days in {path.name} …", flush=True)
    store = StateStore.open(path)
    sink_id = store.sink_id(SINK)
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=OFF")  # built once: no journal; synced before it is used
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-262144")
    per_day = rows // days
    for d in range(days):
        count = per_day if d < days - 1 else rows - per_day * (days - 1)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO ledger(sink_id, key, status, file_id, acked_at) "
            f"VALUES ({sink_id}, ?, 0, NULL, {end})",
            zip(timed_keys(count, end - (days - d) * DAY, DAY)),
        )
        conn.execute("COMMIT")
        if d % 10 == 9:
            print(f"  {d + 1} days, {time.perf_counter() - started:.0f} s", flush=True)
    conn.execute(
        "INSERT OR REPLACE INTO meta(key, value) VALUES ('ledger_pruned_at', ?)", (str(time.time()),)
    )
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()
    os.sync()  # else the first fsync of a checkpoint pays for writing the whole file
    marker.write_text(str(rows))
    size = path.stat().st_size / 2**30
    print(f"built in {time.perf_counter() - started:.0f} s, {size:.2f} GiB", flush=True)


def newest(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        row = conn.execute(  # through the primary key: the newest key of the one sink
            "SELECT max(key) FROM ledger WHERE sink_id = (SELECT id FROM sinks WHERE key = ?)", (SINK,)
        ).fetchone()
    finally:
        conn.close()
    return int.from_bytes(row[0][:4], "big") if row and row[0] else 0


def one_round(path: Path, keys: list[bytes], batch: int) -> float:
    """µs per record of ``ledger_status`` + ``acknowledge`` of the unknown over ``keys`` in batches."""
    store = StateStore.open(path)
    try:
        sink_id = store.sink_id(SINK)
        assert sink_id is not None
        started = time.perf_counter()
        for start in range(0, len(keys), batch):
            chunk = keys[start : start + batch]
            known = store.ledger_status(sink_id, chunk)
            store.acknowledge(sink_id, delivered=[k for k in chunk if k not in known])
        elapsed = time.perf_counter() - started
    finally:
        store.close()
    return elapsed / len(keys) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--records", type=int, default=100_000, help="keys per round")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--input-hours", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    big = OUT / f"ledger-flat-{args.rows}-{args.days}d.db"
    build(big, args.rows, args.days, int(time.time()))
    empty = OUT / "ledger-flat-empty.db"
    span = args.input_hours * 3600
    print(machine())
    print(
        f"ledger {args.rows:,} ids over {args.days} days; {args.records:,} events per round over "
        f"{args.input_hours} h, batches of {args.batch}; {args.repeat} rounds, empty and large alternating"
    )
    results: dict[str, dict[str, list[float]]] = {}
    for _ in range(args.repeat):
        after = newest(big) + 1
        shapes = {
            "new": timed_keys(args.records, after, span),
            "interleaved": timed_keys(args.records, after - span, span),
        }
        for shape, keys in shapes.items():
            for side, path in (("empty", empty), ("large", big)):
                if side == "empty":
                    remove(empty)
                    if shape == "interleaved":  # the empty side holds the same hours' ids first
                        one_round(empty, timed_keys(args.records, after - span, span), args.batch)
                cost = one_round(path, keys, args.batch)
                results.setdefault(shape, {}).setdefault(side, []).append(cost)
                if shape == "new":
                    again = one_round(path, keys, args.batch)
                    results.setdefault("re-read", {}).setdefault(side, []).append(again)
    for shape, sides in results.items():
        e, g = median(sides["empty"]), median(sides["large"])
        print(
            f"{shape:12} empty {e:6.2f} µs/record   {args.rows:,} ids {g:6.2f} µs/record   "
            f"{(g / e - 1) * 100:+6.1f} %   (rounds: empty {[round(x, 2) for x in sides['empty']]}, "
            f"large {[round(x, 2) for x in sides['large']]})"
        )
    remove(empty)


if __name__ == "__main__":
    main()
