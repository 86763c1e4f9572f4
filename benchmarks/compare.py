"""A/B: the pipeline of a git revision against the working tree, alternating, on this machine.

    .venv/bin/python benchmarks/compare.py --base HEAD~1 [--records 100000] [--rounds 7]

Shared machines are noisy (±15 % between identical runs here), so one run
against another proves nothing. This extracts ``core/`` and ``plugins/`` of
``--base`` (``git archive``, the working tree is not touched) and runs
``Collector.run`` over the same export files, fresh state each time, in a new
process per run, alternating base and working tree. It prints the minimum and
the median of wall and CPU time per record for both. Use it for every
optimisation's before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, ROOT, machine, median
from datagen import generate

_CHILD = """
import json, sys, time
sys.path.insert(0, {bench!r})
from pathlib import Path
from common import fresh_dir, remove, run_pipeline
import msgevents
paths = [Path(p) for p in {paths!r}]
work = Path({work!r})
state = work / "compare.db"
remove(state)
cpu = time.process_time()
seconds, report = run_pipeline(paths, fresh_dir(work / "compare-feed"), state)
cpu = time.process_time() - cpu
remove(state)
remove(work / "compare-feed")
print(json.dumps({{"seconds": seconds, "cpu": cpu, "events": report["totals"]["delivered"],
                  "source": msgevents.__file__}}))
"""


def extract(revision: str, target: Path) -> Path:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", revision], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    tree = target / commit
    if not tree.exists():
        command = ["git", "archive", "--format=tar", commit, "core", "plugins"]
        archive = subprocess.run(command, cwd=ROOT, check=True, capture_output=True).stdout
        with tempfile.TemporaryFile() as handle:
            handle.write(archive)
            handle.seek(0)
            with tarfile.open(fileobj=handle) as tar:
                tar.extractall(tree, filter="data")
    return tree


def run_once(paths: list[Path], tree: Path | None) -> dict:
    env = dict(os.environ)
    if tree is not None:
        plugins = [str(p) for p in sorted((tree / "plugins").iterdir()) if p.is_dir()]
        env["PYTHONPATH"] = os.pathsep.join([str(tree / "core"), *plugins])
    code = _CHILD.format(
        bench=str(Path(__file__).resolve().parent),
        paths=[str(p) for p in paths],
        work=str(OUT / "work"),
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD", help="git revision to compare against (default HEAD)")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    paths = generate(OUT / f"data-{args.records}", args.records)
    (OUT / "work").mkdir(parents=True, exist_ok=True)
    tree = extract(args.base, OUT / "trees")
    results: dict[str, list[dict]] = {"base": [], "work": []}
    print(f"machine: {machine()}")
    for round_ in range(args.rounds):
        order = ("base", "work") if round_ % 2 == 0 else ("work", "base")
        for name in order:
            result = run_once(paths, tree if name == "base" else None)
            if name == "base" and not result["source"].startswith(str(tree)):
                raise SystemExit(f"base run imported {result['source']}, not the extracted tree")
            results[name].append(result)
        line = "  ".join(f"{n} {results[n][-1]['seconds'] / args.records * 1e6:6.2f}" for n in results)
        print(f"  round {round_ + 1}: µs/record wall {line}", flush=True)
    base_events, work_events = results["base"][0]["events"], results["work"][0]["events"]
    if base_events != work_events:
        print(f"  WARNING: events differ: base {base_events}, work {work_events}")
    print(f"\n{args.records:,} records, {args.rounds} rounds; µs/record (base = {args.base}: {tree.name})")
    print(f"  {'':<6}{'wall min':>10}{'wall median':>13}{'CPU min':>10}{'CPU median':>12}")
    summary = {}
    for name in ("base", "work"):
        walls = [r["seconds"] / args.records * 1e6 for r in results[name]]
        cpus = [r["cpu"] / args.records * 1e6 for r in results[name]]
        summary[name] = (min(walls), median(walls), min(cpus), median(cpus))
        print(f"  {name:<6}" + "".join(f"{v:>11.2f}" for v in summary[name]))
    gain = [summary["base"][i] / summary["work"][i] - 1 for i in range(4)]
    print(f"  {'gain':<6}" + "".join(f"{g:>+11.1%}" for g in gain))


if __name__ == "__main__":
    main()
