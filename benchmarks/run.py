"""Throughput, memory and re-run overhead against the targets of benchmarks/README.md (``make bench``).

Prints figures; asserts nothing about time. Every section can run alone::

    .venv/bin/python benchmarks/run.py                         # everything, ~15 min on 2 slow cores
    .venv/bin/python benchmarks/run.py --quick                 # small sizes, ~2 min, for development
    .venv/bin/python benchmarks/run.py --only throughput --records 1000000 --repeat 5
    .venv/bin/python benchmarks/run.py --only memory --memory-sizes 1000000,5000000,10000000

1. **throughput**: export CSVs of ``--records`` rows (``datagen.py``) mapped to
   Data Feed files by (i) the bare orjson loop of ``bare.py`` and (ii) the real
   pipeline, in this process, against a fresh state, (iii) again over the same
   input (everything already delivered), (iv) against a state whose ledger
   already holds ``--ledger-rows`` other events, and (v) ``msgevents collect``
   as a child process timed from outside (interpreter start included).
   Median of ``--repeat`` rounds; ratio = pipeline rate ÷ bare-loop rate.
2. **memory**: ``msgevents collect`` as a child process over ``--memory-sizes``
   records, fresh state each; peak RSS of that child (``wait4``).
3. **rerun**: a live collect against the Episerver emulator, then re-runs that
   find nothing new; provider calls counted, wall time minus time in HTTP.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bare import bare_loop
from common import (
    OUT,
    ROOT,
    collect_cli,
    compile_sources,
    copy_state,
    feed_lines,
    fresh_dir,
    ledger_template,
    machine,
    mark_pruned,
    median,
    msgevents_command,
    remove,
    run_child,
    run_pipeline,
)
from datagen import generate

MIB = 1024


def _sizes(text: str) -> list[int]:
    return [int(float(part)) for part in text.split(",") if part.strip()]


# -- 1. throughput -------------------------------------------------------------------------------


def throughput(records: int, repeat: int, ledger_rows: int) -> dict[str, float]:
    paths = generate(OUT / f"data-{records}", records)
    work = OUT / "work"
    big_feed = work / "feed-big"
    template = ledger_template(ledger_rows, big_feed) if ledger_rows else None
    rates: dict[str, list[float]] = {}
    events = 0

    def note(name: str, seconds: float) -> None:
        rates.setdefault(name, []).append(records / seconds)

    for round_ in range(1, repeat + 1):
        fresh_dir(work / "bare")
        started = time.perf_counter()
        read, events = bare_loop(paths, work / "bare")
        note("bare", time.perf_counter() - started)
        assert read == records, (read, records)

        feed, state = fresh_dir(work / "feed"), work / "fresh.db"
        remove(state)
        seconds, report = run_pipeline(paths, feed, state)
        note("pipeline", seconds)
        if report["totals"]["delivered"] != events:
            raise SystemExit(f"pipeline delivered {report['totals']['delivered']}, bare loop wrote {events}")
        if round_ == 1 and feed_lines(feed) != feed_lines(work / "bare"):
            raise SystemExit("the pipeline's feed lines differ from the bare loop's: not the same job")

        seconds, report = run_pipeline(paths, feed, state)
        note("rerun", seconds)
        if report["totals"]["already_delivered"] != events or report["totals"]["delivered"]:
            raise SystemExit(f"second run was not all 'already delivered': {report['totals']}")

        if template is not None:
            fresh_dir(big_feed)
            big_state = work / "big.db"
            copy_state(template, big_state)
            mark_pruned(big_state)
            seconds, report = run_pipeline(paths, big_feed, big_state)
            note("ledger", seconds)
            assert report["totals"]["delivered"] == events

        cli_state = work / "cli.db"
        remove(cli_state)
        run = collect_cli(paths, fresh_dir(work / "feed-cli"), cli_state)
        note("cli", run.seconds)
        bare = rates["bare"][-1]
        shown = ", ".join(
            f"{name} {values[-1]:,.0f}/s ({values[-1] / bare:.2f})" for name, values in rates.items()
        )
        print(f"  round {round_}: {shown}", flush=True)
    for path in (work / "bare", work / "feed", big_feed, work / "feed-cli"):
        remove(path)

    bare = median(rates["bare"])
    labels = {
        "bare": "bare orjson loop (bare.py)",
        "pipeline": "pipeline in-process, fresh state",
        "rerun": "pipeline, same input again (all known)",
        "ledger": f"pipeline, ledger already holds {ledger_rows:,}",
        "cli": "msgevents collect (child, end to end)",
    }
    print(f"\n  {records:,} records → {events:,} events; median of {repeat}")
    print(f"  {'':<44}{'records/s':>12}{'µs/record':>11}{'× bare':>9}")
    for name, values in rates.items():
        rate = median(values)
        print(f"  {labels[name]:<44}{rate:>12,.0f}{1e6 / rate:>11.1f}{rate / bare:>9.2f}")
    ratio = median(rates["pipeline"]) / bare
    verdict = "met" if ratio >= 0.8 else "NOT met"
    print(f"  target: pipeline ≥ 0.8 × bare loop → {ratio:.2f} × ({verdict})")
    return {name: median(values) for name, values in rates.items()}


# -- 2. memory -------------------------------------------------------------------------------------


def memory(sizes: list[int]) -> None:
    work = OUT / "work"
    peaks = []
    print(f"  {'records':>12}{'peak RSS MiB':>14}{'seconds':>10}{'records/s':>12}{'CPU s':>8}")
    for size in sizes:
        paths = generate(OUT / f"data-{size}", size)
        state = work / "memory.db"
        remove(state)
        feed = fresh_dir(work / "feed-memory")
        run = collect_cli(paths, feed, state)
        remove(feed)
        remove(state)
        peaks.append(run.max_rss_kib / MIB)
        print(
            f"  {size:>12,}{run.max_rss_kib / MIB:>14.1f}{run.seconds:>10.1f}"
            f"{size / run.seconds:>12,.0f}{run.cpu_seconds:>8.1f}",
            flush=True,
        )
    floor = run_child([*msgevents_command(), "providers"])
    print(f"  (interpreter + imports alone, `msgevents providers`: {floor.max_rss_kib / MIB:.1f} MiB)")
    if len(peaks) >= 2:
        spread = max(peaks) / min(peaks) - 1
        flat = spread <= 0.10
        small = max(peaks) < 100
        print(
            f"  target: within 10 % of each other and < 100 MiB → spread {spread:.1%}, "
            f"max {max(peaks):.1f} MiB ({'met' if flat and small else 'NOT met'})"
        )


# -- 3. re-run overhead ------------------------------------------------------------------------------

_HTTP_LINE = re.compile(r" (?:-> \d+ in|failed after) (\d+) ms")


def rerun(repeat: int) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "plugins"))
    from episerver.emulator import DAY_MS, HOUR_MS, Dataset

    startup = median([run_child([sys.executable, "-c", _IMPORTS]).seconds for _ in range(repeat)])
    print(f"  interpreter start + imports alone (python -c 'import msgevents.cli, …'): {startup:.3f} s")
    quiet = Dataset.generate(seed=1, mailings=4, recipients=3000)  # "now" = end of day: window empty
    _rerun_scenario("quiet: the restatement window holds no rows", quiet, repeat)
    busy = Dataset.generate(seed=1, mailings=4, recipients=3000)
    busy.now_ms = DAY_MS + 14 * HOUR_MS  # mid-send: 2 h of rows re-read, all already delivered
    _rerun_scenario("busy: 2 h restatement window re-read, every row already delivered", busy, repeat)


def _rerun_scenario(title: str, dataset, repeat: int) -> None:  # type: ignore[no-untyped-def]
    from episerver.emulator import EpiserverEmulator

    print(f"  -- {title}")
    work = fresh_dir(OUT / "work" / "rerun")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGEVENTS_")}
    with EpiserverEmulator(dataset) as emulator:
        env.update(emulator.env())
        command = [*msgevents_command(), "collect", "--provider", "episerver", "-v"]
        command += ["--to", f"feed:{work / 'feeds'}", "--state", str(work / "state.db")]
        first = run_child(command, env=env, cwd=work)
        if first.returncode != 0:
            raise SystemExit(f"first live run failed:\n{first.stderr}")
        delivered = _feed_events(work / "feeds")
        print(f"  first live run: {delivered:,} events delivered in {first.seconds:.2f} s")
        rows = []
        for _ in range(repeat):
            before = len(emulator.calls())
            run = run_child(command, env=env, cwd=work)
            if run.returncode != 0:
                raise SystemExit(f"re-run failed:\n{run.stderr}")
            calls = emulator.calls()[before:]
            http = sum(int(m) for m in _HTTP_LINE.findall(run.stderr)) / 1000
            rows.append((run.seconds, http, calls))
        inproc = [_rerun_in_process(work, emulator) for _ in range(repeat)]
        if _feed_events(work / "feeds") != delivered:
            raise SystemExit("a re-run delivered something")
    remove(work)
    wall = median([r[0] for r in rows])
    http = median([r[1] for r in rows])
    calls = rows[-1][2]
    names = sorted(set(calls), key=calls.index)
    shown = ", ".join(f"{n} ×{calls.count(n)}" if calls.count(n) > 1 else n for n in names)
    print(f"  provider calls per re-run: {len(calls)} ({shown})")
    print(
        f"  msgevents collect (child): wall {wall:.3f} s, in HTTP {http:.3f} s, overhead {wall - http:.3f} s"
    )
    in_wall = median([r[0] for r in inproc])
    in_http = median([r[1] for r in inproc])
    print(
        f"  Collector.run in-process:  wall {in_wall:.3f} s, in HTTP {in_http:.3f} s, "
        f"overhead {in_wall - in_http:.3f} s"
    )
    ok = wall - http < 1.0
    print(
        f"  target: a handful of calls and < 1 s overhead → {len(calls)} calls, "
        f"{wall - http:.2f} s end to end ({'met' if ok else 'NOT met'})"
    )


def _feed_events(directory: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) - 2 for p in directory.glob("event_history_*"))


_IMPORTS = "import msgevents.cli, msgevents.pipeline, msgevents_episerver.provider"


def _rerun_in_process(work: Path, emulator) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """Collector.run in this process with HttpClient.request timed; (wall, seconds in HTTP)."""
    import msgevents.http
    from msgevents.pipeline import CollectOptions, Collector
    from msgevents.plugins import load_provider
    from msgevents.provider import load_settings
    from msgevents.sinks.feed import FeedSink

    spent = [0.0]
    original = msgevents.http.HttpClient.request

    def timed(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - started

    saved = {k: os.environ.pop(k) for k in list(os.environ) if k.startswith("MSGEVENTS_")}
    os.environ.update(emulator.env())
    msgevents.http.HttpClient.request = timed  # type: ignore[method-assign]
    try:
        started = time.perf_counter()
        cls = load_provider("episerver")
        provider = cls(load_settings(cls.Settings))
        options = CollectOptions(state_path=work / "state.db")
        report = Collector(provider, FeedSink(str(work / "feeds")), options).run()
        wall = time.perf_counter() - started
    finally:
        msgevents.http.HttpClient.request = original  # type: ignore[method-assign]
        for key in emulator.env():
            os.environ.pop(key, None)
        os.environ.update(saved)
    if report.exit_code != 0 or report.total("delivered"):
        raise SystemExit(f"in-process re-run: {report.summary()}")
    return wall, spent[0]


# -- main ----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="throughput,memory,rerun", help="comma-separated sections")
    parser.add_argument("--quick", action="store_true", help="small sizes for development")
    parser.add_argument("--records", type=int, help="throughput input size (default 500,000)")
    parser.add_argument("--repeat", type=int, help="rounds per measurement, median reported (default 3)")
    parser.add_argument("--ledger-rows", type=int, help="ledger size of the big-state run (default 1M)")
    parser.add_argument("--memory-sizes", help="comma-separated input sizes (default 1M,5M)")
    args = parser.parse_args()
    quick = args.quick
    records = args.records or (100_000 if quick else 500_000)
    repeat = args.repeat or (1 if quick else 3)
    ledger_rows = args.ledger_rows if args.ledger_rows is not None else (200_000 if quick else 1_000_000)
    sizes = _sizes(args.memory_sizes or ("100000,500000" if quick else "1000000,5000000"))
    sections = {s.strip() for s in args.only.split(",")}
    OUT.mkdir(parents=True, exist_ok=True)
    print(f"machine: {machine()}")
    compile_sources()
    if "throughput" in sections:
        print("\n== throughput: export CSVs → Data Feed files")
        throughput(records, repeat, ledger_rows)
    if "memory" in sections:
        print("\n== memory: peak RSS of `msgevents collect` (child process)")
        memory(sizes)
    if "rerun" in sections:
        print("\n== re-run with nothing new: live collect against the Episerver emulator")
        rerun(repeat)


if __name__ == "__main__":
    main()
