"""Backfill throughput with 1, 2 and 4 local worker processes (``msgevents backfill --input``).

Writes ``--days`` directories of Optimizely closed-loop export files (``datagen.py``, a
different seed per day, ``--records`` rows per day; five files a day, each one part), then
runs ``msgevents backfill --provider episerver --input <every file> --workers W --to
feed:DIR`` as a child process for each W, each time with a fresh state and feed directory,
alternating the worker counts for ``--repeat`` rounds; prints the median wall time,
records/s and the speed-up against one worker, and checks every run delivered the same
number of events. The figures include interpreter start, planning and the worker
processes' imports (``spawn``), as a user sees them.

    .venv/bin/python benchmarks/backfill.py                       # 8 days x 25,000 rows, 3 rounds
    .venv/bin/python benchmarks/backfill.py --days 4 --records 10000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, compile_sources, fresh_dir, machine, median, msgevents_command, run_child
from datagen import generate


def run_backfill(files: list[Path], workers: int, work: Path) -> tuple[float, int]:
    feed, state = fresh_dir(work / "feeds"), fresh_dir(work / "state") / "state.db"
    report = work / "report.json"
    args = [*msgevents_command(), "backfill", "--provider", "episerver", "--workers", str(workers)]
    for path in files:
        args += ["--input", str(path)]
    args += ["--to", f"feed:{feed}", "--state", str(state), "--report", str(report)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGEVENTS_")}
    env.update(MSGEVENTS_EPISERVER_FILE_LINK_LOOKUP="never", MSGEVENTS_EPISERVER_CAMPAIGN_ID="mailing")
    child = run_child(args, env=env)
    if child.returncode != 0:
        raise SystemExit(f"msgevents backfill exited {child.returncode}:\n{child.stderr}")
    return child.seconds, json.loads(report.read_text())["totals"]["delivered"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=8)
    parser.add_argument("--records", type=int, default=25_000, help="rows per day")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    compile_sources()
    files = [
        path
        for day in range(args.days)
        for path in generate(OUT / "backfill-input" / f"day{day}", args.records, seed=day + 1)
    ]
    counts = [int(w) for w in args.workers.split(",")]
    times: dict[int, list[float]] = {w: [] for w in counts}
    delivered: set[int] = set()
    for _ in range(args.repeat):
        for workers in counts:
            seconds, events = run_backfill(files, workers, OUT / "backfill-run")
            times[workers].append(seconds)
            delivered.add(events)
    if len(delivered) != 1:
        raise SystemExit(f"runs delivered different numbers of events: {sorted(delivered)}")
    rows = args.days * args.records
    print(machine())
    print(
        f"{args.days} days x {args.records} rows = {rows} rows in {len(files)} files (parts); "
        f"{delivered.pop()} events delivered per run; median of {args.repeat}"
    )
    base = median(times[counts[0]])
    for workers in counts:
        seconds = median(times[workers])
        print(f"  {workers} workers: {seconds:6.2f} s  {rows / seconds:9.0f} rows/s  x{base / seconds:.2f}")


if __name__ == "__main__":
    main()
