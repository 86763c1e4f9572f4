"""A/B: the pipeline of a git revision against the working tree, alternating, on this machine.

    .venv/bin/python benchmarks/compare.py --base HEAD~1 [--records 100000] [--rounds 7]
    .venv/bin/python benchmarks/compare.py --provider mailgun --records 3000 --instructions

Shared machines are noisy (±15 % between identical runs here), so one run
against another proves nothing. This extracts ``core/`` and ``plugins/`` of
``--base`` (``git archive``, the working tree is not touched) and runs
``Collector.run`` over the same export files, fresh state each time, in a new
process per run, alternating base and working tree. It prints the minimum and
the median of wall and CPU time per record for both. ``--ledger-rows N`` starts
every run from a state whose ledger already holds N other events.

``--provider mailgun`` (or ``ses``) runs that plugin over its generated input
(``mailgun.py``, ``ses.py``) instead of the Optimizely exports.

``--instructions`` counts instructions per record under valgrind's callgrind
instead (``--records 10000`` is plenty): immune to other jobs on the machine,
blind to memory stalls and I/O waits. Use both. Use it for every
optimisation's before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, ROOT, ledger_template, machine, median
from datagen import generate

_CHILD = """
import json, sys, time
sys.path.insert(0, {bench!r})
from pathlib import Path
from common import copy_state, fresh_dir, mark_pruned, provider_pipeline, remove, run_pipeline
import msgevents
paths = [Path(p) for p in {paths!r}]
provider = {provider!r}
work = Path({work!r})
state = work / "compare.db"
remove(state)
if {template!r}:
    copy_state(Path({template!r}), state)
    mark_pruned(state)
cpu = time.process_time()
if provider == "episerver":
    seconds, report = run_pipeline(paths, fresh_dir(work / "compare-feed"), state)
else:
    seconds, report = provider_pipeline(provider, paths[0], fresh_dir(work / "compare-feed"), state), None
cpu = time.process_time() - cpu
remove(state)
remove(work / "compare-feed")
events = report["totals"]["delivered"] if report else None
print(json.dumps({{"seconds": seconds, "cpu": cpu, "events": events, "source": msgevents.__file__}}))
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


def inputs(provider: str, records: int) -> list[Path]:
    """The generated input of ``records`` records for ``provider`` (written once, then reused)."""
    if provider == "mailgun":
        import mailgun

        return [mailgun.generate(records)]
    if provider == "ses":
        import ses

        return [ses.generate(records)]
    return generate(OUT / f"data-{records}", records)


def run_once(
    paths: list[Path],
    tree: Path | None,
    template: Path | None,
    callgrind: bool = False,
    provider: str = "episerver",
) -> dict:
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = "0"  # the same dict/set layouts in every run
    if tree is not None:
        plugins = [str(p) for p in sorted((tree / "plugins").iterdir()) if p.is_dir()]
        env["PYTHONPATH"] = os.pathsep.join([str(tree / "core"), *plugins])
    code = _CHILD.format(
        bench=str(Path(__file__).resolve().parent),
        paths=[str(p) for p in paths],
        work=str(OUT / "work"),
        template=str(template) if template else "",
        provider=provider,
    )
    command = [sys.executable, "-c", code]
    if callgrind:
        command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", *command]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if callgrind:
        found = re.search(r"Collected : (\d+)", out.stderr)
        assert found, out.stderr[-2000:]
        result["instructions"] = int(found.group(1))
    return result


def count_instructions(records: int, tree: Path, template: Path | None, provider: str) -> None:
    """Instructions per record under valgrind's callgrind: deterministic, unlike time on a busy machine.

    Each tree runs twice, over ``records`` records and over a third as many (imports,
    state and file set-up are the same); the difference divided by the difference in
    records is the per-record count.
    """
    small = max(1, records // 3)  # not 0: a plugin's empty input may be a file error
    few, paths = inputs(provider, small), inputs(provider, records)
    rows = {}
    for name, source in (("base", tree), ("work", None)):
        # once without valgrind first: a tree's first run compiles its .pyc files, which would
        # count in the smaller run only (a freshly extracted base read ~17k/record too few)
        run_once(few, source, template, provider=provider)
        fixed = run_once(few, source, template, callgrind=True, provider=provider)["instructions"]
        total = run_once(paths, source, template, callgrind=True, provider=provider)["instructions"]
        rows[name] = (total - fixed) / (records - small)
        fixed_m = f"{fixed / 1e6:,.0f} M for {small:,} records"
        print(f"  {name}: {rows[name]:,.0f} instructions/record ({fixed_m})", flush=True)
    print(f"  gain: {rows['base'] / rows['work'] - 1:+.1%} (fewer instructions per record)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default="HEAD", help="git revision to compare against (default HEAD)")
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--provider", choices=("episerver", "mailgun", "ses"), default="episerver")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--ledger-rows", type=int, default=0, help="start from a ledger this big")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per record under valgrind (callgrind) instead of timing; ~1 min per 1,000",
    )
    args = parser.parse_args()
    paths = inputs(args.provider, args.records)
    (OUT / "work").mkdir(parents=True, exist_ok=True)
    tree = extract(args.base, OUT / "trees")
    template = ledger_template(args.ledger_rows, OUT / "work" / "compare-feed") if args.ledger_rows else None
    results: dict[str, list[dict]] = {"base": [], "work": []}
    print(f"machine: {machine()}")
    if args.instructions:
        count_instructions(args.records, tree, template, args.provider)
        return
    for round_ in range(args.rounds):
        order = ("base", "work") if round_ % 2 == 0 else ("work", "base")
        for name in order:
            result = run_once(paths, tree if name == "base" else None, template, provider=args.provider)
            if name == "base" and not result["source"].startswith(str(tree)):
                raise SystemExit(f"base run imported {result['source']}, not the extracted tree")
            results[name].append(result)
        line = "  ".join(f"{n} {results[n][-1]['seconds'] / args.records * 1e6:6.2f}" for n in results)
        print(f"  round {round_ + 1}: µs/record wall {line}", flush=True)
    base_events, work_events = results["base"][0]["events"], results["work"][0]["events"]
    if base_events != work_events:
        print(f"  WARNING: events differ: base {base_events}, work {work_events}")
    ledger = f", ledger {args.ledger_rows:,} rows" if args.ledger_rows else ""
    base = f"base = {args.base}: {tree.name}"
    print(f"\n{args.records:,} records{ledger}, {args.rounds} rounds; µs/record ({base})")
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
