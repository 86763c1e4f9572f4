"""Peak RSS and load time of a run with a large identity lookup file (``MSGEVENTS_IDENTITY_FILE``).

``msgevents collect --provider episerver`` over the small sample files of ``examples/episerver``,
as a child process through the ``wait4`` launcher of ``common.py``, once without a lookup file
and once per size with a generated one (``email,phone,user_id``: half the rows an e-mail
address, half a phone number, every one distinct). The lookup file is read once per run into
the open-addressing table of ``msgevents.identity``; the difference to the run without it is
what the table and its loading cost. Target for the whole run (benchmarks/README.md): < 100 MiB.

    .venv/bin/python benchmarks/identity.py                  # 1,000,000 rows
    .venv/bin/python benchmarks/identity.py --rows 100000,1000000
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from common import OUT, ROOT, compile_sources, fresh_dir, machine, msgevents_command, remove, run_child

MIB = 1024


def lookup_file(rows: int) -> Path:
    path = OUT / f"identity-{rows}.csv"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as out:
        out.write("email,phone,user_id\n")
        for i in range(rows):
            if i % 2:
                out.write(f",+49151{i:08d},C{i:09d}\n")
            else:
                out.write(f"Customer.{i}@Example.com,,C{i:09d}\n")
    tmp.rename(path)
    return path


def run(identity: Path | None) -> tuple[float, float]:
    work = OUT / "identity-work"
    state = work / "state.db"
    remove(state)
    feed = fresh_dir(work / "feed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MSGEVENTS_")}
    env.update(MSGEVENTS_EPISERVER_FILE_LINK_LOOKUP="never", MSGEVENTS_EPISERVER_CAMPAIGN_ID="mailing")
    if identity is not None:
        env["MSGEVENTS_IDENTITY_FILE"] = str(identity)
    args = [*msgevents_command(), "collect", "--provider", "episerver"]
    for path in sorted((ROOT / "examples" / "episerver").glob("*.csv*")):
        args += ["--input", str(path)]
    args += ["--to", f"feed:{feed}", "--state", str(state)]
    child = run_child(args, env=env)
    if child.returncode != 0:
        raise SystemExit(f"msgevents collect exited {child.returncode}:\n{child.stderr}")
    remove(feed)
    remove(state)
    return child.max_rss_kib / MIB, child.seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="1000000", help="comma-separated lookup file sizes")
    args = parser.parse_args()
    compile_sources()
    print(machine())
    print(f"  {'lookup rows':>12}{'peak RSS MiB':>14}{'seconds':>10}")
    base_rss, base_seconds = run(None)
    print(f"  {'(none)':>12}{base_rss:>14.1f}{base_seconds:>10.2f}")
    for rows in (int(part) for part in args.rows.split(",")):
        rss, seconds = run(lookup_file(rows))
        print(
            f"  {rows:>12,}{rss:>14.1f}{seconds:>10.2f}"
            f"   (+{rss - base_rss:.1f} MiB, +{seconds - base_seconds:.2f} s; "
            f"{'met' if rss < 100 else 'NOT met'}: < 100 MiB)"
        )


if __name__ == "__main__":
    main()
