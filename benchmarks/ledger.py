"""The ledger flat in history: per-record cost with an empty ledger against a ledger holding
``--rows`` delivered ids (default 50M), alternating, medians.

Two measurements (``--pipeline`` picks the second; both take the same cached large ledger):

- **the state's part** (default): what every delivered batch asks of the state —
  ``ledger_status`` (the dedupe look-up), the claim (``StateStore.claiming.claim``: a claims
  row per key inserted, the ledger looked up again for the keys won, as runs that overlap do;
  ``--no-claims`` leaves it out, as a run alone on its sink does, holding the sink's lease)
  and ``acknowledge(delivered=…)`` (the ledger insert and the claims released, one transaction)
  — over ``--batch``-key batches (default 1,000), ``--records`` keys per round; wall time
  and CPU time (SQLite runs in this process) per key.
  Keys are shaped like real ledger keys (:func:`msgevents.sink.ledger_key`: four bytes of the
  event's second, then a 16-byte hash), for events in time order as files and API pages
  deliver them;
- **end to end** (``--pipeline``): the real pipeline in-process, as ``msgevents collect
  --provider episerver --input … --to feed:DIR`` builds it (:func:`common.run_pipeline`), over
  ``--records`` generated Optimizely export rows (``datagen.py``) whose events fall into the
  same hours as the keys of the state's part; wall time and CPU time of the run per input
  record. The feed sink puts a file's ledger rows in when it records the file as pending
  (``record_pending_file``: up to 100,000 keys, sorted, one transaction), so its ledger inserts
  are per file, its look-ups per batch of ``MSGEVENTS_CHUNK_SIZE`` events.

The large ledger is built once and cached in ``benchmarks/out/`` (50M rows: 1.8 GiB, 6–15 min of
one core): ``rows / days`` ids per day over ``--days`` days (default 90, the default retention)
up to the build time, inserted with ``executemany`` in key order straight into the table of a
state file created and migrated by :class:`~msgevents.state.StateStore`. It is used in place
(rounds add their events to it; the pipeline renames its one sink to the feed directory's);
``--ledger`` names another copy (built there when missing).
Three input shapes, each over ``--input-hours`` hours of events:

- ``new``: events after the newest in the ledger (a live run, a new file);
- ``re-read``: the same events again, every one already known (a restatement window, a file
  read twice) — look-ups only;
- ``interleaved``: new events between the ids the ledger holds for the same hours (a backfill
  of a day partly delivered) — the pessimistic case. Each round takes the next day back from
  the build time (``rows / days`` ids in it; counted in the file across runs of this script),
  so no round inserts between an earlier round's keys.

Wall time is what counts, CPU time is steadier on a shared machine; both are printed with
their rounds. The empty side is a fresh state file every round (it holds only that round's
events; for ``interleaved`` it first gets ``--records`` other ids of the same hours, untimed).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, fresh_dir, machine, mark_pruned, median, remove, run_pipeline
from datagen import generate

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
    """The second of the newest key in the large ledger (rounds add theirs after it)."""
    conn = sqlite3.connect(path)
    try:  # through the primary key: the newest key of the one sink
        row = conn.execute(
            "SELECT max(key) FROM ledger WHERE sink_id = (SELECT min(id) FROM sinks)"
        ).fetchone()
    finally:
        conn.close()
    return int.from_bytes(row[0][:4], "big") if row and row[0] else 0


def built_at(path: Path) -> int:
    """When the large ledger was built: the ``acked_at`` of its rows (its last day ends there)."""
    conn = sqlite3.connect(path)
    try:  # the first key is a built one: rounds add keys after it, or between built ones
        row = conn.execute(
            "SELECT acked_at FROM ledger WHERE sink_id = (SELECT min(id) FROM sinks) ORDER BY key LIMIT 1"
        ).fetchone()
    finally:
        conn.close()
    return int(row[0])


def next_day(path: Path, days: int) -> int:
    """The next day back from the build time that no earlier round inserted between (counted in
    the large ledger's ``meta``, across runs of this script; after ``days`` it starts over)."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'benchmark_days_used'").fetchone()
            used = int(row[0]) if row else 0
            conn.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('benchmark_days_used', ?)", (str(used + 1),)
            )
    finally:
        conn.close()
    return used % days + 1


def use_sink(path: Path, key: str) -> None:
    """Name the large ledger's one sink ``key`` (the feed directory of ``--pipeline``, or :data:`SINK`)."""
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute("UPDATE sinks SET key = ? WHERE id = (SELECT min(id) FROM sinks)", (key,))
    finally:
        conn.close()


def one_round(path: Path, keys: list[bytes], batch: int, claims: bool) -> tuple[float, float]:
    """µs per record (wall, CPU) of the state's part of delivering ``keys`` in batches of ``batch``."""
    store = StateStore.open(path)
    try:
        sink_id = store.sink_id(SINK)
        assert sink_id is not None
        run_id = store.start_run("benchmark", "ledger", SINK, "collect")
        started, cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(keys), batch):
            chunk = keys[start : start + batch]
            known = store.ledger_status(sink_id, chunk)
            fresh = [k for k in chunk if k not in known]
            if claims and fresh:
                fresh, _ = store.claiming.claim(sink_id, run_id, fresh)
            store.acknowledge(sink_id, delivered=fresh)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        store.close()
    return elapsed / len(keys) * 1e6, cpu / len(keys) * 1e6


def state_rounds(args: argparse.Namespace, big: Path, empty: Path) -> dict[str, dict[str, list[float]]]:
    use_sink(big, SINK)
    span, end = args.input_hours * 3600, built_at(big)
    results: dict[str, dict[str, list[float]]] = {}

    def note(shape: str, side: str, costs: tuple[float, float]) -> None:
        for unit, cost in zip(("wall", "cpu"), costs, strict=True):
            results.setdefault(f"{shape} {unit}", {}).setdefault(side, []).append(cost)

    for _ in range(args.repeat):
        after = newest(big) + 1
        window = end - next_day(big, args.days) * DAY  # a day of the built ledger no round touched
        shapes = {
            "new": timed_keys(args.records, after, span),
            "interleaved": timed_keys(args.records, window, span),
        }
        for shape, keys in shapes.items():
            for side, path in (("empty", empty), ("large", big)):
                if side == "empty":
                    remove(empty)
                    if shape == "interleaved":  # the empty side holds the same hours' ids first
                        one_round(empty, timed_keys(args.records, window, span), args.batch, args.claims)
                note(shape, side, one_round(path, keys, args.batch, args.claims))
                if shape == "new":
                    note("re-read", side, one_round(path, keys, args.batch, args.claims))
    remove(empty)
    return results


def pipeline_rounds(args: argparse.Namespace, big: Path, empty: Path) -> dict[str, dict[str, list[float]]]:
    """The real pipeline over generated export files (``--records`` rows) into each side."""
    from msgevents.sinks.feed import FeedSink

    work = OUT / "ledger-pipeline"
    feed = work / "feed"
    use_sink(big, FeedSink(str(feed)).key)
    span, end = args.input_hours * 3600, built_at(big)
    seed = int.from_bytes(os.urandom(4), "big")  # other events than earlier runs of this script
    results: dict[str, dict[str, list[float]]] = {}

    def run(paths: list[Path], state: Path, shape: str | None, side: str) -> None:
        fresh_dir(feed)
        mark_pruned(state)  # pruning (at most every 12 h) is not what is measured
        cpu = time.process_time()
        seconds, report = run_pipeline(paths, feed, state)
        cpu = time.process_time() - cpu
        totals = report["totals"]
        if shape is not None:
            for unit, value in (("wall", seconds), ("cpu", cpu)):
                results.setdefault(f"{shape} {unit}", {}).setdefault(side, []).append(
                    value / args.records * 1e6
                )
            if (totals["delivered"] == 0) != (shape == "re-read"):
                raise SystemExit(f"{shape} into the {side} ledger: unexpected totals {totals}")

    try:
        for round_ in range(args.repeat):
            after = newest(big) + 1
            window = end - next_day(big, args.days) * DAY

            def inputs(name: str, start: int, seed: int) -> list[Path]:
                return generate(work / name, args.records, seed, start_ms=start * 1000, span_ms=span * 1000)

            new = inputs("new", after, seed + 3 * round_)
            between = inputs("interleaved", window, seed + 3 * round_ + 1)
            for side, path in (("empty", empty), ("large", big)):
                if side == "empty":
                    remove(empty)
                    StateStore.open(empty).close()  # created and migrated before the clock starts
                run(new, path, "new", side)
                run(new, path, "re-read", side)
            for side, path in (("empty", empty), ("large", big)):
                if side == "empty":
                    remove(empty)
                    StateStore.open(empty).close()
                    run(inputs("prefill", window, seed + 3 * round_ + 2), empty, None, side)
                run(between, path, "interleaved", side)
            print(f"  round {round_ + 1} done", flush=True)
    finally:
        use_sink(big, SINK)
        remove(empty)
        remove(work)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--records", type=int, default=100_000, help="keys (input rows) per round")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--input-hours", type=int, default=24)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--no-claims", dest="claims", action="store_false", help="the state's part without claims"
    )
    parser.add_argument(
        "--pipeline", action="store_true", help="the real pipeline end to end (Optimizely exports)"
    )
    parser.add_argument(
        "--ledger", type=Path, help="the large ledger (default: benchmarks/out/ledger-flat-ROWS-DAYSd.db)"
    )
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    big = args.ledger or OUT / f"ledger-flat-{args.rows}-{args.days}d.db"
    build(big, args.rows, args.days, int(time.time()))
    if args.input_hours > 24:
        raise SystemExit("--input-hours: at most 24 (each round takes a day of the built ledger)")
    empty = OUT / "ledger-flat-empty.db"
    print(machine())
    what = "the pipeline end to end" if args.pipeline else f"the state's part, batches of {args.batch}"
    claims = "" if args.pipeline else (" with claims" if args.claims else " without claims")
    print(
        f"ledger {args.rows:,} ids over {args.days} days ({big.stat().st_size / 2**30:.2f} GiB); "
        f"{what}{claims}; {args.records:,} records per round over {args.input_hours} h; "
        f"{args.repeat} rounds, empty and large alternating"
    )
    results = (pipeline_rounds if args.pipeline else state_rounds)(args, big, empty)
    for shape, sides in results.items():
        e, g = median(sides["empty"]), median(sides["large"])
        print(
            f"{shape:16} empty {e:6.2f} µs/record   {args.rows:,} ids {g:6.2f} µs/record   "
            f"{(g / e - 1) * 100:+6.1f} %   (rounds: empty {[round(x, 2) for x in sides['empty']]}, "
            f"large {[round(x, 2) for x in sides['large']]})"
        )


if __name__ == "__main__":
    main()
