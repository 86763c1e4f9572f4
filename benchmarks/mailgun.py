"""Mailgun throughput: ``msgevents collect --provider mailgun --input FILE --to feed:DIR`` against a
bare orjson loop doing the same mapping, in the same run, alternating, medians.

    .venv/bin/python benchmarks/mailgun.py                       # 200,000 events, 3 rounds
    .venv/bin/python benchmarks/mailgun.py --records 1000000 --rounds 5

Input: a generated JSON Lines file of Mailgun Events API items (``benchmarks/out/mailgun-N.jsonl``):
30 % accepted, 27 % delivered, 20 % opened (a third flagged as bots), 10 % clicked, 3 % temporary
and 2 % permanent failures, 1 % suppressed sends, 2 % unsubscribed, 1 % complained, 4 % rejected or
stored (not modelled); 80 % carry ``user-variables.user_id``, the rest only the recipient; every
event distinct, timestamps rising with microseconds as Mailgun writes them.

Each round runs, in turn:

1. ``bare``: the yardstick below in this process: ``orjson.loads`` per line, the plugin's mapping
   decisions inline, ``orjson.dumps`` per feed object, Data Feed files of at most 100,000 lines. No
   model validation, event ids, ledger, fsync or quarantine;
2. ``pipeline``: ``Collector.run`` in this process, as ``msgevents collect`` builds it (fresh state);
3. ``cli``: ``msgevents collect --provider mailgun --input FILE --to feed:DIR`` as a child process
   (interpreter start and imports included), fresh state; its peak RSS from ``wait4``.

Before timing, the feed lines of ``bare`` and ``pipeline`` are compared byte for byte: the two
programs do the same job.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    OUT,
    compare_to_bare,
    compile_sources,
    machine,
)

MIX = [("accepted", 30), ("delivered", 27), ("opened", 20), ("clicked", 10), ("failed:temporary", 3),
       ("failed:permanent", 2), ("failed:suppress-bounce", 1), ("unsubscribed", 2), ("complained", 1),
       ("rejected", 2), ("stored", 2)]  # fmt: skip
START = 1_730_707_200.0


def generate(records: int) -> Path:
    path = OUT / f"mailgun-{records}.jsonl"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(7)
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for n in range(records):
            kind = rng.choice(kinds)
            event, _, detail = kind.partition(":")
            person = rng.randrange(50_000)
            item: dict = {
                "event": event,
                "id": f"{n:010d}{rng.getrandbits(48):012x}",
                "timestamp": round(START + n * 0.05 + rng.random() * 0.01, 6),
                "recipient": f"customer{person}@example.com",
                "recipient-domain": "example.com",
                "tags": ["newsletter", "2024-11"] if n % 4 else [],
                "campaigns": [],
                "user-variables": {"user_id": f"C{person:07d}"} if person % 5 else {},
                "message": {"headers": {"message-id": f"20241104.{n // 1000}.4890@mg.example.com"}},
                "flags": {"is-authenticated": True, "is-test-mode": False},
                "log-level": "info",
            }
            if event in ("opened", "clicked"):
                bot = "apple" if n % 3 == 0 else ""
                item["client-info"] = {"client-type": "browser", "user-agent": "Mozilla/5.0", "bot": bot}
                item["geolocation"] = {"country": "DE", "region": "BE", "city": "Berlin"}
            if event == "clicked":
                item["url"] = f"https://www.example.com/offer/{n % 97}"
            if event == "failed":
                suppressed = detail.startswith("suppress")
                item["severity"] = "permanent" if suppressed else detail
                item["reason"] = detail if suppressed else "generic"
                item["delivery-status"] = {"code": 605 if suppressed else 550, "message": "bounced"}
            if n % 10 == 0:
                item["user-variables"]["campaign_id"] = f"camp-{n % 13}"
            out.write(orjson.dumps(item) + b"\n")
    tmp.rename(path)
    return path


# -- the yardstick -----------------------------------------------------------------------------------

_TYPES = {"accepted": "Message Sent", "delivered": "Message Delivered", "opened": "Message Viewed",
          "clicked": "Message Clicked", "unsubscribed": "Message Unsubscribed",
          "complained": "Message marked_as_spam"}  # fmt: skip
_SEVERITY = {"temporary": "Message soft_bounced", "permanent": "Message hard_bounced"}
_SUPPRESSED = {"suppress-bounce", "suppress-unsubscribe", "suppress-complaint"}
_MAX_LINES = 100_000


def _timestamp(seconds: float) -> str:
    micros = int((Decimal(repr(seconds)) * 1_000_000).to_integral_value())
    whole, fraction = divmod(micros, 1_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    millis = fraction // 1000
    return f"{base}.{millis:03d}Z" if millis else f"{base}Z"


def bare_loop(path: Path, out_dir: Path) -> tuple[int, int]:
    """Map the events of ``path`` into feed files in ``out_dir``; (records read, events written)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    records = written = lines = files = 0
    out = None
    loads, dumps = orjson.loads, orjson.dumps
    with path.open("rb") as handle:
        for line in handle:
            records += 1
            item = loads(line)
            native = item.get("event")
            event = _TYPES.get(native)
            if event is None:
                if native != "failed" or item.get("reason") in _SUPPRESSED:
                    continue
                event = _SEVERITY.get(item.get("severity"))
                if event is None:
                    continue
            variables = item.get("user-variables") or {}
            user_id = variables.get("user_id")
            obj = {"id": user_id} if user_id else {"email": item["recipient"]}
            obj["event"] = event
            obj["timestamp"] = _timestamp(item["timestamp"])
            obj["channel"] = "Email"
            tags = item.get("tags")
            if tags:
                obj["type"] = tags[0]
            if native == "clicked" and item.get("url"):
                obj["url"] = item["url"]
            campaigns = item.get("campaigns")
            campaign = campaigns[0].get("id") if campaigns else variables.get("campaign_id")
            if campaign:
                obj["campaign_id"] = campaign
            message_id = ((item.get("message") or {}).get("headers") or {}).get("message-id")
            if message_id:
                obj["message_id"] = message_id
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


# -- the pipeline -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    compile_sources()
    print(machine())
    path = generate(args.records)
    compare_to_bare(
        "mailgun", path, OUT / "mailgun-work", bare_loop, records=args.records, rounds=args.rounds,
        label="Mailgun events",
    )  # fmt: skip


if __name__ == "__main__":
    main()
