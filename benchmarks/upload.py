"""CrossEngage upload throughput against the local emulator with injected latency.

Starts the CrossEngage emulator as a separate process (so its work does not
share this process's GIL) answering every request after ``--latency`` seconds,
sends ``--events`` events spread over ``--users`` users through the
``crossengage`` sink, and prints the requests per second achieved against the
bound ``concurrency / latency`` (no request can take less than the latency) and
their ratio. The target is at least 80 % of the bound. Also shown: this
process's CPU time per request and the TCP connections the emulator saw
(connection reuse). Every event is checked to have arrived exactly once.

    .venv/bin/python benchmarks/upload.py                      # 20,000 events, concurrency 8, 20 ms
    .venv/bin/python benchmarks/upload.py --concurrency 1,8,32 --latency 0.05
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from msgevents import Event, EventType
from msgevents.sinks.crossengage import CrossEngageSettings, CrossEngageSink
from msgevents.testing.crossengage_emulator import compare, read_accepted

TYPES = list(EventType)
T0 = datetime(2024, 5, 1, tzinfo=UTC)


def make_events(count: int, users: int) -> list[Event]:
    return [
        Event(
            user_id=f"user{i * users // count:06d}",  # each user's events together
            event=TYPES[i % len(TYPES)],
            timestamp=T0 + timedelta(seconds=i),
            provider="bench",
            channel="Email",
            campaign_id=str(i % 97),
            message_id=str(i),
        )
        for i in range(count)
    ]


def run(events: list[Event], concurrency: int, latency: float, batch: int) -> dict[str, float]:
    api_key = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "accepted.jsonl"
        command = [sys.executable, "-m", "msgevents.testing.crossengage_emulator", "--api-key", api_key]
        command += ["--latency", str(latency), "--state-file", str(state)]
        emulator = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        try:
            assert emulator.stdout is not None
            base_url = emulator.stdout.readline().strip()
            settings = CrossEngageSettings(api_key=api_key, base_url=base_url, concurrency=concurrency)
            with CrossEngageSink(settings=settings) as sink:
                cpu_before = _cpu_seconds()
                started = time.perf_counter()
                outcomes = []
                for start in range(0, len(events), batch):
                    sink.submit(events[start : start + batch], start)
                    outcomes += sink.poll()
                outcomes += sink.flush()
                elapsed = time.perf_counter() - started
                cpu = _cpu_seconds() - cpu_before
        finally:
            emulator.send_signal(signal.SIGTERM)
            summary = json.loads(emulator.communicate(timeout=30)[0].strip().splitlines()[-1])
        comparison = compare(events, read_accepted(state))
    delivered = sum(len(o.delivered) for o in outcomes)
    if delivered != len(events) or not comparison.exact or summary["violations"]:
        raise SystemExit(f"delivery not exact: {delivered} of {len(events)} delivered; emulator: {summary}")
    requests = sink.stats.requests
    return {
        "requests": requests,
        "seconds": elapsed,
        "achieved": requests / elapsed,
        "bound": concurrency / latency,
        "ratio": requests / elapsed / (concurrency / latency),
        "events_per_s": len(events) / elapsed,
        "cpu_ms": cpu / requests * 1000,
        "connections": summary["connections"],
        "max_concurrent": summary["max_concurrent"],
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=4_000, help="events are spread over this many users")
    parser.add_argument("--concurrency", default="8", help="one value or a comma-separated list")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the emulator takes per request")
    parser.add_argument("--batch", type=int, default=5_000, help="events per submit() call")
    args = parser.parse_args()

    events = make_events(args.events, args.users)
    print(
        f"{args.events} events over {args.users} users, emulator latency {args.latency * 1000:g} ms, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    columns = ("conc", "requests", "seconds", "req/s", "bound", "ratio", "events/s", "CPU ms/req", "conns")
    print(" ".join(f"{c:>10}" for c in columns))
    for concurrency in (int(c) for c in args.concurrency.split(",")):
        r = run(events, concurrency, args.latency, args.batch)
        print(
            f"{concurrency:>10} {r['requests']:>10} {r['seconds']:>10.2f} {r['achieved']:>10.1f} "
            f"{r['bound']:>10.1f} {r['ratio']:>10.1%} {r['events_per_s']:>10.0f} {r['cpu_ms']:>10.2f} "
            f"{r['connections']:>10}"
        )
    print("ratio = achieved requests/s ÷ (concurrency ÷ latency); target ≥ 80 %")


if __name__ == "__main__":
    main()
