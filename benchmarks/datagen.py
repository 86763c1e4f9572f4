"""Realistic Optimizely closed-loop export CSVs for the benchmarks.

The files have the layout of ``examples/episerver/`` (the default row layouts of plugins/episerver/README.md):
one file per stream, named after it, a header line, ``;`` or ``,`` as the
delimiter, epoch-millisecond timestamps. The mix follows a newsletter day:

======================  =====  ==================================================
stream                  share  notes
======================  =====  ==================================================
recipients (Sent)        50 %  every recipient of a mailing, in send order
opens (Viewed)           28 %
clicks (Clicked)         12 %  90 % carry ``link_url``; ``link_id`` always
responses (bounces)       6 %  40 % hardbounce, 40 % softbounce, 20 % autoresponder
                               (autoresponder is "not modelled": counted, no event)
unsubscribes              4 %  10 % global (``mailing_id`` 0)
======================  =====  ==================================================

Recipients are 75 % e-mail addresses at example.com and 25 % numeric customer
ids (``MSGEVENTS_EPISERVER_IDENTITY=auto`` tells them apart). Timestamps rise
strictly within a stream, so every row is a distinct event (no duplicates that
the pipeline would drop and a bare loop would not). Generation is
deterministic for a given ``(records, seed)`` and cached: a directory holding a
matching ``manifest.json`` is reused.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

__all__ = ["DAY_MS", "SHARES", "generate"]

#: 2024-11-04T00:00:00Z, the day of the example files.
DAY_MS = 1_730_678_400_000
FORMAT_VERSION = 1
#: (stream, share of the records, delimiter)
SHARES = (
    ("recipients", 0.50, ";"),
    ("opens", 0.28, ","),
    ("clicks", 0.12, ";"),
    ("responses", 0.06, ","),
    ("unsubscribes", 0.04, ";"),
)
_HEADERS = {
    "recipients": ("mailing_id", "recipient_list_id", "recipient_id", "timestamp"),
    "opens": ("mailing_id", "recipient_list_id", "recipient_id", "timestamp"),
    "clicks": ("mailing_id", "recipient_list_id", "recipient_id", "timestamp", "link_id", "link_url"),
    "responses": ("mailing_id", "recipient_list_id", "recipient_id", "timestamp", "category"),
    "unsubscribes": ("mailing_id", "recipient_list_id", "recipient_id", "timestamp"),
}
_FIRST = ["anna", "ben", "clara", "david", "eva", "felix", "greta", "jonas", "lena", "paul", "mia", "tom"]
_LAST = ["schmidt", "meyer", "weber", "fischer", "wagner", "becker", "hoffmann", "koch", "richter"]
_CATEGORIES = ["hardbounce"] * 2 + ["softbounce"] * 2 + ["autoresponder"]
_LIST_ID = "987654"


def _people(count: int, rng: random.Random) -> list[str]:
    people = []
    for n in range(count):
        if rng.random() < 0.25:
            people.append(str(1_000_000 + n))
        else:
            people.append(f"{_FIRST[n % 12]}.{_LAST[(n * 7) % 9]}{n}@example.com")
    return people


def _counts(records: int) -> dict[str, int]:
    counts = {stream: int(records * share) for stream, share, _ in SHARES}
    counts["recipients"] += records - sum(counts.values())
    return counts


def generate(
    directory: Path, records: int, seed: int = 1, *, start_ms: int = DAY_MS, span_ms: int | None = None
) -> list[Path]:
    """Write (or reuse) ``records`` rows of export files in ``directory``; return their paths.

    Every stream starts at ``start_ms`` (epoch milliseconds; default the example files' day);
    consecutive rows of a stream are 1–60 ms apart, or spread so that each stream covers about
    ``span_ms`` when given (a day's export, events between those a ledger already holds).
    """
    directory = Path(directory)
    manifest_path = directory / "manifest.json"
    wanted: dict[str, int] = {"version": FORMAT_VERSION, "records": records, "seed": seed}
    if start_ms != DAY_MS or span_ms is not None:
        wanted.update(start_ms=start_ms, span_ms=span_ms or 0)
    paths = [directory / f"{stream}_20241104.csv" for stream, _, _ in SHARES]
    if manifest_path.exists() and all(p.exists() for p in paths):
        try:
            if json.loads(manifest_path.read_text()) == {**wanted, "files": [p.name for p in paths]}:
                return paths
        except ValueError:
            pass
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    rng = random.Random(seed)
    counts = _counts(records)
    population = max(1000, counts["recipients"] // 8)  # each person gets ~8 mailings
    people = _people(population, rng)
    mailings = [str(304405 + m) for m in range(max(1, counts["recipients"] // population + 1))]
    for (stream, _share, delimiter), path in zip(SHARES, paths, strict=True):
        step = 60 if span_ms is None else max(1, 2 * span_ms // max(1, counts[stream]) - 1)
        _write_stream(path, stream, delimiter, counts[stream], people, mailings, rng, start_ms, step)
    manifest_path.write_text(json.dumps({**wanted, "files": [p.name for p in paths]}))
    return paths


def _write_stream(
    path: Path,
    stream: str,
    delimiter: str,
    count: int,
    people: list[str],
    mailings: list[str],
    rng: random.Random,
    start_ms: int = DAY_MS,
    step: int = 60,
) -> None:
    d = delimiter
    randrange = rng.randrange
    random_ = rng.random
    npeople = len(people)
    at = start_ms + randrange(1000)
    buffer: list[str] = [d.join(_HEADERS[stream]) + "\n"]
    with path.open("w", encoding="utf-8", newline="") as out:
        for i in range(count):
            at += 1 + randrange(step)  # strictly rising: distinct events, mostly non-zero milliseconds
            if stream == "recipients":
                mailing = mailings[i // npeople % len(mailings)]
                person = people[i % npeople]
            else:
                mailing = mailings[randrange(len(mailings))]
                person = people[randrange(npeople)]
            if stream == "clicks":
                link = 11 + randrange(5)
                url = f"https://shop.example.com/{mailing}/offer-{link - 11}" if random_() < 0.9 else ""
                line = f"{mailing}{d}{_LIST_ID}{d}{person}{d}{at}{d}{link}{d}{url}\n"
            elif stream == "responses":
                category = _CATEGORIES[randrange(5)]
                line = f"{mailing}{d}{_LIST_ID}{d}{person}{d}{at}{d}{category}\n"
            elif stream == "unsubscribes":
                if random_() < 0.1:
                    mailing = "0"
                line = f"{mailing}{d}{_LIST_ID}{d}{person}{d}{at}\n"
            else:
                line = f"{mailing}{d}{_LIST_ID}{d}{person}{d}{at}\n"
            buffer.append(line)
            if len(buffer) >= 10_000:
                out.write("".join(buffer))
                buffer.clear()
        out.write("".join(buffer))


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="write benchmark export files")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    for written in generate(args.directory, args.records, args.seed):
        print(written)
