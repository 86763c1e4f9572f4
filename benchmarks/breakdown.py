"""Where a record's time goes: each pipeline stage timed alone, in µs per record.

    .venv/bin/python benchmarks/breakdown.py [--records 200000] [--repeat 3]

Stages, each over the same export files (``datagen.py``) with everything it
needs prepared beforehand:

- **read**: ``EpiserverProvider.read_input`` — CSV rows to ``Record`` batches;
- **map, without the model**: ``map_record`` with ``msgevents.Event`` replaced
  by a stub that only keeps its arguments;
- **Event validation**: ``Event(**kwargs)`` over those arguments (pydantic
  plus the model's own checks), of which **event id** is ``compute_event_id``;
- **ledger keys**: ``ledger_key`` per event;
- **ledger look-up**: ``StateStore.known`` in chunks, against an empty ledger;
- **feed lines**: ``feed_object`` + ``orjson.dumps`` + the file write;
- **ledger insert**: ``FeedJournal.record_pending_file`` into an empty ledger
  (100,000 keys per transaction, as the feed sink does);
Inputs prepared for a stage are moved out of the garbage collector's sight
(``gc.freeze``) so that a stage's time does not include scanning them.

- **whole pipeline**: ``Collector.run`` in-process (fresh state) — the
  difference to the stages' sum is the pipeline's own bookkeeping (contract
  checks, counters, buffers, receipts, outcomes) and file handling.

The bare loop (``bare.py``) is shown for scale.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bare import bare_loop
from common import OUT, fresh_dir, machine, median, remove, run_pipeline
from datagen import generate


class _Kwargs:
    """Stands in for the model while mapping: keeps the fields the mapping validates."""

    calls: ClassVar[list[dict]] = []

    def __init__(self, fields: dict | None = None, **kwargs: object) -> None:
        _Kwargs.calls.append(fields if fields is not None else kwargs)


def _timed(function, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n, repeat = args.records, args.repeat

    import msgevents
    import msgevents_episerver.mapping as mapping_module
    from msgevents.events import Event, compute_event_id
    from msgevents.formats import dumps, feed_object
    from msgevents.plugins import load_provider
    from msgevents.provider import load_settings
    from msgevents.sink import ledger_key
    from msgevents.state import StateStore

    paths = generate(OUT / f"data-{n}", n)
    work = OUT / "work"
    cls = load_provider("episerver")
    provider = cls(load_settings(cls.Settings))
    results: dict[str, float] = {}

    def read() -> list:  # type: ignore[type-arg]
        return [r for p in paths for page in provider.read_input(p) for r in page]

    def read_only() -> None:
        for p in paths:
            for _page in provider.read_input(p):
                pass

    records = read()
    gc.freeze()  # prepared inputs live on; keep them out of the collector's way
    results["read (CSV → Record batches)"] = _timed(read_only, repeat)

    def map_stub() -> None:
        _Kwargs.calls = []
        for record in records:
            provider.map_record(record)

    # the mapping validates through Event.model_validate (bound once) or msgevents.Event(...)
    validate_event = getattr(mapping_module, "_validate_event", None)
    if validate_event is not None:
        mapping_module._validate_event = _Kwargs  # type: ignore[assignment]
    else:
        mapping_module.msgevents = _Namespace(msgevents, Event=_Kwargs)  # type: ignore[assignment]
    try:
        results["map, without the model"] = _timed(map_stub, repeat)
    finally:
        mapping_module.msgevents = msgevents
        if validate_event is not None:
            mapping_module._validate_event = validate_event
    kwargs = _Kwargs.calls

    gc.freeze()

    def validate() -> None:
        for kw in kwargs:
            Event.model_validate(kw)

    events = [Event.model_validate(kw) for kw in kwargs]
    gc.freeze()
    results["Event validation (pydantic + checks + id)"] = _timed(validate, repeat)

    def event_ids() -> None:
        for e in events:
            identity = e.user_id or e.email or ""
            compute_event_id(e.provider, e.account, e.event, identity, e.message_id, e.url, e.timestamp)

    results["  of which compute_event_id"] = _timed(event_ids, repeat)

    all_keys = [ledger_key(e) for e in events]
    gc.freeze()
    times = []
    for _ in range(repeat):  # the first ledger_key of an event computes it; later calls read it back
        fresh = [Event.model_validate(kw) for kw in kwargs]
        started = time.perf_counter()
        for e in fresh:
            ledger_key(e)
        times.append(time.perf_counter() - started)
        del fresh
    results["ledger_key (first call per event)"] = median(times)

    state_path = work / "breakdown.db"

    def lookup() -> None:
        store = StateStore.open(state_path)
        sink_id = store.sink_id("feed:/breakdown")
        for start in range(0, len(all_keys), 5000):
            store.known(sink_id, all_keys[start : start + 5000])
        store.close()

    remove(state_path)
    results["ledger look-up (known, empty ledger)"] = _timed(lookup, repeat)

    def lines() -> None:
        with (work / "breakdown.json").open("wb", buffering=1 << 20) as out:
            for e in events:
                out.write(b",\n" + dumps(feed_object(e)))

    results["feed lines (feed_object + dumps + write)"] = _timed(lines, repeat)
    (work / "breakdown.json").unlink()

    def insert() -> None:
        remove(state_path)
        store = StateStore.open(state_path)
        journal = store.journal(store.sink_id("feed:/breakdown"))  # type: ignore[arg-type]
        for start in range(0, len(all_keys), 100_000):
            journal.record_pending_file("tmp", "final", all_keys[start : start + 100_000])
        store.close()

    results["ledger insert (record_pending_file)"] = _timed(insert, repeat)
    remove(state_path)

    event_count = len(events)
    records, kwargs, events, all_keys = [], [], [], []  # free them before the whole-pipeline run
    _Kwargs.calls = []
    gc.unfreeze()
    gc.collect()

    def pipeline() -> None:
        remove(state_path)
        run_pipeline(paths, fresh_dir(work / "breakdown-feed"), state_path)

    whole = _timed(pipeline, repeat)
    remove(state_path)
    remove(work / "breakdown-feed")

    def bare() -> None:
        bare_loop(paths, fresh_dir(work / "breakdown-bare"))

    bare_seconds = _timed(bare, repeat)
    remove(work / "breakdown-bare")

    print(f"machine: {machine()}")
    print(f"{n:,} records → {event_count:,} events; median of {repeat}; µs per record")
    total = 0.0
    for name, seconds in results.items():
        if not name.startswith("  "):
            total += seconds
        print(f"  {name:<46}{seconds / n * 1e6:>8.2f}")
    print(f"  {'sum of the stages':<46}{total / n * 1e6:>8.2f}")
    print(f"  {'pipeline bookkeeping (whole − sum)':<46}{(whole - total) / n * 1e6:>8.2f}")
    print(f"  {'whole pipeline (Collector.run)':<46}{whole / n * 1e6:>8.2f}")
    print(f"  {'bare orjson loop, for scale':<46}{bare_seconds / n * 1e6:>8.2f}")


class _Namespace:
    """``msgevents`` with one attribute replaced."""

    def __init__(self, module: object, **overrides: object) -> None:
        self._module = module
        self.__dict__.update(overrides)

    def __getattr__(self, name: str) -> object:
        return getattr(self._module, name)


if __name__ == "__main__":
    main()
