"""Per-record overhead of a PostgreSQL state against a SQLite state file.

Two measurements, SQLite and PostgreSQL alternating round by round, medians:

1. **the state's part of delivery**: what the pipeline asks of the state for every batch it
   delivers — ``ledger_status`` (the dedupe look-up) and ``acknowledge(delivered=…,
   positions=…)`` (ledger rows and the position, one transaction) — over ``--batch``-key
   batches (default 1,000; the CrossEngage sink acknowledges per request, the feed sink per
   file, so real batches are larger), ``--keys`` keys per round, shaped like real ledger keys;
2. **end to end**: the real pipeline in-process (``msgevents collect --provider episerver
   --input … --to feed:DIR``) over ``--records`` generated export rows (``datagen.py``), into a
   fresh state each round.

PostgreSQL is a server started for the run from the binaries installed on the machine
(the tests' ``tests/pg.py``), on 127.0.0.1 over TCP, with PostgreSQL's default durability
(``fsync``, ``synchronous_commit=on``: each commit waits for its WAL flush); SQLite runs as
msgevents configures it (WAL, ``synchronous=NORMAL``: a commit waits for no flush). Or give
``--url`` of a database of your own (it must be empty; tables are created in it).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from common import OUT, fresh_dir, machine, median, remove, run_pipeline  # noqa: E402
from datagen import generate  # noqa: E402

from msgevents.state import StateStore  # noqa: E402

SINK = "feed:/benchmark/state-backends"


def keys(round_: int, count: int) -> list[bytes]:
    """Ledger-shaped keys (4 bytes of the event's second, 16 of hash), in time order."""
    start = int(datetime(2024, 11, 4, tzinfo=UTC).timestamp()) + round_ * count
    return [
        (start + i).to_bytes(4, "big") + hashlib.blake2b(f"{round_}/{i}".encode(), digest_size=16).digest()
        for i in range(count)
    ]


def state_part(location: Path | str, round_: int, count: int, batch: int) -> float:
    """Seconds for look-up + acknowledge of ``count`` new keys in batches of ``batch``."""
    store = StateStore.open(location)
    try:
        sink = store.sink_id(SINK)
        assert sink is not None
        all_keys = keys(round_, count)
        started = time.perf_counter()
        for start in range(0, count, batch):
            chunk = all_keys[start : start + batch]
            known = store.ledger_status(sink, chunk)
            fresh = [k for k in chunk if k not in known]
            moment = datetime.fromtimestamp(int.from_bytes(chunk[-1][:4], "big"), UTC)
            store.acknowledge(sink, delivered=fresh, positions=[("bench", "acct", "s", moment)])
        return time.perf_counter() - started
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=50_000, help="keys per round (state part)")
    parser.add_argument("--batch", type=int, default=1000, help="keys per delivered batch")
    parser.add_argument("--records", type=int, default=100_000, help="export rows (end to end)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--url", help="an empty PostgreSQL database to use instead of a local server")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")

    server = None
    if args.url:

        def new_database() -> str:  # the one database, emptied before each round
            return args.url
    else:
        from pg import PostgresServer, find_binaries

        bin_dir = find_binaries()
        if bin_dir is None:
            raise SystemExit("no PostgreSQL binaries found: give --url")
        server = PostgresServer(bin_dir, durable=True)
        server.start()
        new_database = server.create_database
    work = OUT / "state-backends"
    try:
        import psycopg

        print(f"PostgreSQL: {_server_version(new_database)}; psycopg {psycopg.__version__}")
        part: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
        for round_ in range(args.repeat):
            sqlite_file = fresh_dir(work) / "state.db"
            part["sqlite"].append(state_part(sqlite_file, round_, args.keys, args.batch))
            database = new_database()
            if args.url:
                _empty(database)
            part["postgresql"].append(state_part(database, round_, args.keys, args.batch))
            print(f"  state part, round {round_ + 1}: "
                  + ", ".join(f"{k} {v[-1] / args.keys * 1e6:.1f} µs/key" for k, v in part.items()),
                  flush=True)  # fmt: skip
        paths = generate(OUT / f"data-{args.records}", args.records)
        whole: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
        events = 0
        for round_ in range(args.repeat):
            for name in whole:
                feed = fresh_dir(work / "feed")
                location = fresh_dir(work / "sqlite") / "state.db" if name == "sqlite" else new_database()
                if args.url and name == "postgresql":
                    _empty(location)
                seconds, report = run_pipeline(paths, feed, location)
                events = report["totals"]["delivered"]
                whole[name].append(seconds)
            print(f"  end to end, round {round_ + 1}: "
                  + ", ".join(f"{k} {args.records / v[-1]:,.0f} records/s" for k, v in whole.items()),
                  flush=True)  # fmt: skip
    finally:
        if server is not None:
            server.stop()
        remove(work)

    print(f"\n  state part: {args.keys:,} new keys per round in batches of {args.batch:,}; median of "
          f"{args.repeat}")  # fmt: skip
    lite, pg = (median(part[n]) / args.keys * 1e6 for n in ("sqlite", "postgresql"))
    print(f"    SQLite      {lite:8.1f} µs per key")
    print(f"    PostgreSQL  {pg:8.1f} µs per key   (+{pg - lite:.1f} µs, {pg / lite:.1f}×)")
    print(f"  end to end: {args.records:,} records → {events:,} events, fresh state; median of {args.repeat}")
    lite, pg = (median(whole[n]) / args.records * 1e6 for n in ("sqlite", "postgresql"))
    print(f"    SQLite      {1e6 / lite:10,.0f} records/s  {lite:6.1f} µs per record")
    print(f"    PostgreSQL  {1e6 / pg:10,.0f} records/s  {pg:6.1f} µs per record   (+{pg - lite:.1f} µs)")


def _server_version(new_database) -> str:  # type: ignore[no-untyped-def]
    import psycopg

    with psycopg.connect(new_database()) as conn:
        return str(conn.execute("SHOW server_version").fetchone()[0])


def _empty(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


if __name__ == "__main__":
    main()
