"""The webhook receiver: signed requests per second and latency with durable acknowledgement.

Starts ``msgevents serve`` (provider ``mailgun``, feed sink, its own state) as a
subprocess on 127.0.0.1 and drives it with a small asyncio HTTP/1.1 client over
keep-alive connections, every request a distinct Mailgun-signed event (each ``200``
means its event is fsynced in the outbox). Phases:

- ``throughput``: ``--connections`` clients in a closed loop for ``--seconds``: req/s,
  latency p50/p99, requests per commit. Run with group commit on (the default) and off
  (``MSGEVENTS_SERVE_COMMIT_GROUP=1``), alternating, ``--repeat`` times: medians.
- ``rate``: an open loop at ``--rate`` requests/s (scheduled send times; latency counted
  from the scheduled time, so queueing shows): p50/p99/max.
- ``memory``: ``--soak`` seconds at ``--rate``: the receiver's RSS sampled each second
  (first vs last minute of samples).

    .venv/bin/python benchmarks/serve.py                       # all phases, ~3 min
    .venv/bin/python benchmarks/serve.py --only rate --rate 500 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out" / "serve"
KEY = "bench-signing-key-7c1e0d"
_LISTENING = re.compile(r"listening on http://([\d.]+):(\d+)")


def signed(n: int) -> bytes:
    item = {
        "event": "delivered",
        "id": f"bench-{n:09d}",
        "timestamp": 1_715_000_000.5 + n / 1000,
        "recipient": f"user{n % 5000}@example.com",
        "message": {"headers": {"message-id": f"{n}.bench@example.org"}},
        "user-variables": {"user_id": f"U{n % 5000}"},
        "delivery-status": {"code": 250, "message": "OK", "attempt-no": 1},
    }
    token = hashlib.sha256(str(n).encode()).hexdigest()[:50]
    signature = hmac.new(KEY.encode(), ("1715000000" + token).encode(), hashlib.sha256).hexdigest()
    return json.dumps(
        {"signature": {"timestamp": "1715000000", "token": token, "signature": signature}, "event-data": item}
    ).encode()


def start(workdir: Path, **env: str) -> tuple[subprocess.Popen[str], str, int]:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MSGEVENTS_")}
    environment.update(
        MSGEVENTS_MAILGUN_WEBHOOK_SIGNING_KEY=KEY, MSGEVENTS_MAILGUN_DOMAIN="mg.example.com", **env
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "msgevents",
            "serve",
            "--port",
            "0",
            "--provider",
            "mailgun",
            "--state",
            "state/state.db",
            "--to",
            "feed:feeds",
        ],
        cwd=workdir,
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        match = _LISTENING.search(line)
        if match:
            return proc, match.group(1), int(match.group(2))
    raise RuntimeError("serve did not start")


def stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Client:
    """One keep-alive HTTP/1.1 connection posting to /webhooks/mailgun."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def post(self, body: bytes) -> int:
        head = (
            f"POST /webhooks/mailgun HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self) -> None:
        self.writer.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def closed_loop(host: str, port: int, connections: int, seconds: float, first: int) -> dict:
    clients = [Client(host, port) for _ in range(connections)]
    await asyncio.gather(*(c.open() for c in clients))
    latencies: list[float] = []
    failures = 0
    counter = iter(range(first, first + 10_000_000))
    deadline = time.perf_counter() + seconds

    async def run(client: Client) -> None:
        nonlocal failures
        while time.perf_counter() < deadline:
            body = signed(next(counter))
            t0 = time.perf_counter()
            status = await client.post(body)
            latencies.append(time.perf_counter() - t0)
            failures += status != 200

    started = time.perf_counter()
    await asyncio.gather(*(run(c) for c in clients))
    elapsed = time.perf_counter() - started
    for c in clients:
        c.close()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "failures": failures,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


async def open_loop(
    host: str, port: int, rate: float, seconds: float, first: int, pool: int = 64, sample=None
) -> dict:
    """Requests at scheduled times ``i / rate``; latency from the scheduled time."""
    idle: asyncio.Queue[Client] = asyncio.Queue()
    for _ in range(pool):
        client = Client(host, port)
        await client.open()
        idle.put_nowait(client)
    latencies: list[float] = []
    failures = 0
    total = int(rate * seconds)
    start = time.perf_counter() + 0.1
    bodies = (signed(first + i) for i in range(total))

    async def one(i: int, body: bytes) -> None:
        nonlocal failures
        client = await idle.get()
        status = await client.post(body)
        latencies.append(time.perf_counter() - (start + i / rate))
        failures += status != 200
        idle.put_nowait(client)

    tasks = []
    next_sample = start
    for i, body in enumerate(bodies):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i, body)))
        if sample is not None and time.perf_counter() >= next_sample:
            sample()
            next_sample += 1.0
        if len(tasks) > 4096:
            await asyncio.gather(*tasks)
            tasks = []
    await asyncio.gather(*tasks)
    while not idle.empty():
        idle.get_nowait().close()
    return {
        "requests": len(latencies),
        "failures": failures,
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["throughput", "rate", "memory"])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--soak", type=float, default=120)
    args = parser.parse_args()
    print(
        f"# msgevents serve benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}"
    )
    if args.only in (None, "throughput"):
        results: dict[str, list[dict]] = {"group commit": [], "one commit per request": []}
        for round_ in range(args.repeat):
            for label, env in (
                ("group commit", {}),
                ("one commit per request", {"MSGEVENTS_SERVE_COMMIT_GROUP": "1"}),
            ):
                proc, host, port = start(OUT / "throughput", **env)
                try:
                    before = cpu_seconds(proc.pid)
                    result = asyncio.run(
                        closed_loop(host, port, args.connections, args.seconds, round_ * 10**7)
                    )
                    result["cpu_us"] = (cpu_seconds(proc.pid) - before) / max(1, result["requests"]) * 1e6
                finally:
                    stop(proc)
                results[label].append(result)
                print(
                    f"  round {round_ + 1} {label}: {result['rps']:.0f} req/s, "
                    f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
                    f"receiver CPU {result['cpu_us']:.0f} µs/request, "
                    f"{result['failures']} non-200"
                )
        for label, rounds in results.items():
            print(
                f"throughput, {label} ({args.connections} connections, median of {len(rounds)}): "
                f"{statistics.median(r['rps'] for r in rounds):.0f} req/s, "
                f"p99 {statistics.median(r['p99_ms'] for r in rounds):.1f} ms, "
                f"receiver CPU {statistics.median(r['cpu_us'] for r in rounds):.0f} µs/request"
            )
    if args.only in (None, "rate"):
        proc, host, port = start(OUT / "rate")
        try:
            result = asyncio.run(open_loop(host, port, args.rate, args.seconds, 0))
        finally:
            stop(proc)
        print(
            f"open loop at {args.rate:.0f} req/s for {args.seconds:.0f} s: p50 {result['p50_ms']:.1f} ms, "
            f"p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms, {result['failures']} non-200"
        )
    if args.only in (None, "memory"):
        proc, host, port = start(OUT / "memory")
        samples: list[float] = []
        try:
            result = asyncio.run(
                open_loop(
                    host, port, args.rate, args.soak, 0, sample=lambda: samples.append(rss_mib(proc.pid))
                )
            )
        finally:
            stop(proc)
        window = max(1, len(samples) // 4)
        head, tail = samples[window : 2 * window] or samples[:1], samples[-window:]
        print(
            f"memory over {args.soak:.0f} s at {args.rate:.0f} req/s ({result['requests']} requests): RSS "
            f"{statistics.median(head):.1f} MiB (second quarter) -> {statistics.median(tail):.1f} MiB (last "
            f"quarter), max {max(samples):.1f} MiB; p99 {result['p99_ms']:.1f} ms"
        )


if __name__ == "__main__":
    main()
