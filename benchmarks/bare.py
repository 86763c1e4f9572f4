"""The throughput yardstick: a bare orjson read-map-write loop over Optimizely export files.

What a competent engineer writes for this job in an afternoon, without
msgevents: ``csv.reader`` over each export file, the same mapping decisions
inline (stream → event type, bounce categories, identity ``auto``, mailing id
→ ``campaign_id``/``message_id``, global unsubscribes without one, click URLs,
epoch milliseconds → ``…Z`` string with milliseconds only when non-zero,
channel ``Email``), ``orjson.dumps`` per object, Data Feed files of at most
100,000 lines. It does **not** validate events against a model, compute event
ids, check or write a ledger, fsync, or quarantine bad rows (it skips them):
that is exactly what the pipeline's extra cost buys.

Its output is byte-for-byte the pipeline's feed lines (``run.py`` checks that
once per run), so the comparison is between two programs doing the same job.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import orjson

__all__ = ["bare_loop"]

_STREAM_EVENTS = {
    "recipients": "Message Sent",
    "opens": "Message Viewed",
    "clicks": "Message Clicked",
    "unsubscribes": "Message Unsubscribed",
}
_BOUNCES = {"hardbounce": "Message hard_bounced", "softbounce": "Message soft_bounced"}
_MAX_LINES = 100_000


def _timestamp(millis: int) -> str:
    seconds, fraction = divmod(millis, 1000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{base}.{fraction:03d}Z" if fraction else f"{base}Z"


def bare_loop(paths: list[Path], out_dir: Path) -> tuple[int, int]:
    """Map ``paths`` into feed files in ``out_dir``; return (records read, events written)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    records = written = 0
    lines = 0
    files = 0
    out = None
    dumps = orjson.dumps
    for path in paths:
        stream = path.name.split("_", 1)[0]
        event_type = _STREAM_EVENTS.get(stream)
        with path.open(newline="", encoding="utf-8") as handle:
            first = handle.readline()
            delimiter = ";" if first.count(";") > first.count(",") else ","
            header = first.strip().split(delimiter)
            i_mailing = header.index("mailing_id")
            i_recipient = header.index("recipient_id")
            i_time = header.index("timestamp")
            i_url = header.index("link_url") if "link_url" in header else -1
            i_category = header.index("category") if "category" in header else -1
            for row in csv.reader(handle, delimiter=delimiter):
                records += 1
                if i_category >= 0:
                    event = _BOUNCES.get(row[i_category].strip().lower())
                    if event is None:
                        continue  # autoresponder etc.: not modelled
                else:
                    event = event_type
                recipient = row[i_recipient].strip()
                raw_time = row[i_time].strip()
                if not recipient or not raw_time.isdigit():
                    continue
                obj = {"email": recipient} if "@" in recipient else {"id": recipient}
                obj["event"] = event
                obj["timestamp"] = _timestamp(int(raw_time))
                obj["channel"] = "Email"
                if i_url >= 0:
                    url = row[i_url].strip()
                    if url:
                        obj["url"] = url
                mailing = row[i_mailing].strip()
                if stream == "unsubscribes" and mailing == "0":
                    mailing = ""  # a global unsubscribe
                if mailing:
                    obj["campaign_id"] = mailing
                    obj["message_id"] = mailing
                if out is None:
                    out = (out_dir / f"event_history_{files:06d}.json").open("wb", buffering=1 << 20)
                    out.write(b"[\n")
                else:
                    out.write(b",\n")
                out.write(dumps(obj))
                written += 1
                lines += 1
                if lines >= _MAX_LINES - 2:
                    out.write(b"\n]\n")
                    out.close()
                    out, lines, files = None, 0, files + 1
    if out is not None:
        out.write(b"\n]\n")
        out.close()
    return records, written
