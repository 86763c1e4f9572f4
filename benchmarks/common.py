"""Helpers shared by the benchmark scripts: the machine, the pipeline in-process, the CLI as a child."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"


def machine() -> str:
    """One line naming the machine and the software the figures came from."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f", {int(line.split()[1]) // 1024 // 1024} GiB RAM"
    except OSError:
        pass
    packages = ", ".join(f"{name} {version(name)}" for name in ("pydantic", "pydantic_core", "orjson"))
    return (
        f"{cpu}, {os.cpu_count()} CPUs{memory}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; sqlite {__import__('sqlite3').sqlite_version}; {packages}"
    )


def compile_sources() -> None:
    """Byte-compile msgevents and the plugins, as installing them from a wheel does.

    The development install is editable; with ``PYTHONDONTWRITEBYTECODE`` set (as on CI
    machines) every child process would compile the sources again (~0.1 s) and startup
    figures would measure that instead of what users run.
    """
    import compileall

    for folder in (ROOT / "core" / "msgevents", *sorted((ROOT / "plugins").glob("*/msgevents_*"))):
        compileall.compile_dir(folder, quiet=1)


def median(values: list[float]) -> float:
    return statistics.median(values)


def fresh_dir(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def remove(path: Path) -> None:
    """Delete a state file with its WAL companions, or a directory."""
    if path.is_dir():
        shutil.rmtree(path)
        return
    for suffix in ("", "-wal", "-shm", ".lock"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def copy_state(source: Path, target: Path) -> None:
    remove(target)
    shutil.copyfile(source, target)


def ledger_template(rows: int, feed_dir: Path) -> Path:
    """A state file whose ledger holds ``rows`` keys (of the last 90 days) of the sink ``feed:feed_dir``."""
    from msgevents.sinks.feed import FeedSink
    from msgevents.state import StateStore

    key = FeedSink(str(feed_dir)).key
    path = OUT / f"ledger-v3-{rows}-{hashlib.sha1(key.encode()).hexdigest()[:8]}.db"
    marker = path.with_suffix(".ok")
    if path.exists() and marker.exists():
        return path
    remove(path)
    marker.unlink(missing_ok=True)
    print(f"  building a state with {rows:,} ledger rows (once; cached in {path.name}) …", flush=True)
    store = StateStore.open(path)
    try:
        sink_id = store.sink_id(key)
        assert sink_id is not None
        # keys as msgevents.sink.ledger_key makes them: the event's second, then 16 bytes of hash;
        # events spread evenly over the 90 days before now
        first, span = int(time.time()) - 90 * 86_400, 90 * 86_400
        for start in range(0, rows, 100_000):
            count = min(100_000, rows - start)
            store.acknowledge(
                sink_id,
                delivered=[
                    (first + (start + i) * span // rows).to_bytes(4, "big") + os.urandom(16)
                    for i in range(count)
                ],
            )
        store._require().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        store.close()
    marker.write_text(key)
    return path


def mark_pruned(state: Path) -> None:
    """Ledger pruning runs at most every 12 h; a copied template must not look overdue."""
    with sqlite3.connect(state) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO meta(key, value) VALUES ('ledger_pruned_at', ?)", (str(time.time()),)
        )
    conn.close()


# -- the pipeline, in this process ------------------------------------------------------------


def make_collector(paths: list[Path], feed_dir: Path, state_path: Path):  # type: ignore[no-untyped-def]
    """What ``msgevents collect --provider episerver --input … --to feed:DIR --state S`` builds."""
    from msgevents.pipeline import CollectOptions, Collector
    from msgevents.plugins import load_provider
    from msgevents.provider import load_settings
    from msgevents.settings import core_settings
    from msgevents.sinks.feed import FeedSink

    cls = load_provider("episerver")
    provider = cls(load_settings(cls.Settings))
    sink = FeedSink(str(feed_dir))
    settings = core_settings()
    options = CollectOptions(
        state_path=state_path,
        inputs=list(paths),
        chunk_size=settings.chunk_size,
        ledger_retention=settings.ledger_retention,
    )
    return Collector(provider, sink, options)


def run_pipeline(paths: list[Path], feed_dir: Path, state_path: Path) -> tuple[float, dict]:
    """Run the collector in this process; (seconds, report dict). Fails loudly unless exit 0."""
    collector = make_collector(paths, feed_dir, state_path)
    started = time.perf_counter()
    report = collector.run()
    elapsed = time.perf_counter() - started
    if report.exit_code != 0:
        raise SystemExit(f"pipeline run failed: {report.summary()}")
    return elapsed, report.as_dict()


# -- the CLI, as a child process ----------------------------------------------------------------


@dataclass
class ChildRun:
    seconds: float
    max_rss_kib: int
    cpu_seconds: float
    returncode: int
    stderr: str


def msgevents_command() -> list[str]:
    script = Path(sys.executable).with_name("msgevents")
    return [str(script)] if script.exists() else [sys.executable, "-m", "msgevents"]


# A tiny launcher between this process and the measured one. Linux hands a process's peak RSS
# on across exec (and a vforked child starts from its parent's), so a child started straight from
# this process would report at least this process's own peak. The launcher is ~8 MiB.
_LAUNCHER = """
import os, sys, time
result, args = sys.argv[1], sys.argv[2:]
started = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execvp(args[0], args)
    finally:
        os._exit(127)
_pid, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - started
cpu = usage.ru_utime + usage.ru_stime
with open(result, "w") as out:
    out.write(f"{elapsed} {usage.ru_maxrss} {cpu} {os.waitstatus_to_exitcode(status)}")
"""


def run_child(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> ChildRun:
    """Run ``args``: wall time, peak RSS and CPU time of that process alone (``wait4``)."""
    OUT.mkdir(parents=True, exist_ok=True)
    err_path = OUT / f".stderr-{os.getpid()}"
    result_path = OUT / f".result-{os.getpid()}"
    with err_path.open("w+") as err:
        subprocess.run(
            [sys.executable, "-S", "-c", _LAUNCHER, str(result_path), *args],
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=cwd,
            check=True,
        )
        err.seek(0)
        stderr = err.read()
    seconds, max_rss, cpu, returncode = result_path.read_text().split()
    err_path.unlink(missing_ok=True)
    result_path.unlink(missing_ok=True)
    return ChildRun(
        seconds=float(seconds),
        max_rss_kib=int(max_rss),  # KiB on Linux
        cpu_seconds=float(cpu),
        returncode=int(returncode),
        stderr=stderr,
    )


def collect_cli(
    paths: list[Path], feed_dir: Path, state_path: Path, extra: list[str] | None = None
) -> ChildRun:
    args = [*msgevents_command(), "collect", "--provider", "episerver"]
    for path in paths:
        args += ["--input", str(path)]
    args += ["--to", f"feed:{feed_dir}", "--state", str(state_path), *(extra or [])]
    run = run_child(args)
    if run.returncode != 0:
        raise SystemExit(f"msgevents collect exited {run.returncode}:\n{run.stderr}")
    return run


def feed_lines(directory: Path) -> list[bytes]:
    """The object lines of every feed file in ``directory``, in file-name order."""
    lines: list[bytes] = []
    for path in sorted(directory.glob("event_history_*.json")):
        for line in path.read_bytes().splitlines():
            if line not in (b"[", b"]"):
                lines.append(line.removesuffix(b","))
    return lines


def provider_pipeline(provider: str, path: Path, feed: Path, state: Path) -> float:
    """One in-process ``Collector.run`` of ``provider`` over ``path`` into ``feed``, as
    ``msgevents collect`` builds it; its seconds (exits on a failed run)."""
    from msgevents.pipeline import CollectOptions, Collector
    from msgevents.plugins import load_provider
    from msgevents.provider import load_settings
    from msgevents.settings import core_settings
    from msgevents.sinks.feed import FeedSink

    cls = load_provider(provider)
    settings = core_settings()
    options = CollectOptions(
        state_path=state,
        inputs=[path],
        chunk_size=settings.chunk_size,
        ledger_retention=settings.ledger_retention,
    )
    collector = Collector(cls(load_settings(cls.Settings)), FeedSink(str(feed)), options)
    started = time.perf_counter()
    report = collector.run()
    elapsed = time.perf_counter() - started
    if report.exit_code != 0:
        raise SystemExit(f"pipeline run failed: {report.as_dict()['errors']}")
    return elapsed


def compare_to_bare(
    provider: str,
    path: Path,
    work: Path,
    bare_loop,  # type: ignore[no-untyped-def]  # (path, out_dir) -> anything
    *,
    records: int,
    rounds: int,
    label: str,
) -> None:
    """The provider's yardstick ``bare_loop``, the in-process pipeline and ``msgevents collect``
    in turn for ``rounds`` rounds (after checking that the yardstick and the pipeline write the
    same feed lines); prints medians, records/s, the ratio to the bare loop and the CLI's peak RSS."""
    bare_dir, pipe_dir, state = work / "bare", work / "pipeline", work / "state.db"
    fresh_dir(bare_dir)
    bare_loop(path, bare_dir)
    remove(state)
    fresh_dir(pipe_dir)
    provider_pipeline(provider, path, pipe_dir, state)
    same = feed_lines(bare_dir) == feed_lines(pipe_dir)
    print(f"  feed lines of bare loop and pipeline identical: {same} ({len(feed_lines(bare_dir)):,} events)")
    if not same:
        raise SystemExit("the yardstick and the pipeline disagree: fix the bare loop first")

    times: dict[str, list[float]] = {"bare": [], "pipeline": [], "cli": []}
    peak = 0
    for _round in range(rounds):
        fresh_dir(bare_dir)
        started = time.perf_counter()
        bare_loop(path, bare_dir)
        times["bare"].append(time.perf_counter() - started)
        remove(state)
        fresh_dir(pipe_dir)
        times["pipeline"].append(provider_pipeline(provider, path, pipe_dir, state))
        remove(state)
        fresh_dir(pipe_dir)
        command = [*msgevents_command(), "collect", "--provider", provider, "--input", str(path)]
        child = run_child([*command, "--to", f"feed:{pipe_dir}", "--state", str(state)])
        if child.returncode != 0:
            raise SystemExit(f"msgevents collect exited {child.returncode}:\n{child.stderr}")
        times["cli"].append(child.seconds)
        peak = max(peak, child.max_rss_kib)
    remove(state)
    bare = median(times["bare"])
    print(f"  {records:,} {label}, {rounds} rounds alternating, medians:")
    for name, values in times.items():
        seconds = median(values)
        print(
            f"  {name:>9}: {seconds:7.2f} s  {records / seconds:>10,.0f} records/s  "
            f"{bare / seconds:5.2f} × bare"
        )
    print(f"  cli peak RSS {peak / 1024:.1f} MiB")
