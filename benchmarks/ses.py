"""SES throughput: ``msgevents collect --provider ses --input FILE --to feed:DIR`` against a bare
orjson loop doing the same mapping, in the same run, alternating, medians.

    .venv/bin/python benchmarks/ses.py                       # 100,000 records, 3 rounds
    .venv/bin/python benchmarks/ses.py --records 500000 --rounds 5
    .venv/bin/python benchmarks/ses.py --pipeline-only --records 100000   # one in-process run

Input: a generated Firehose object (``benchmarks/out/ses-N.json``): SES event-publishing records as
Firehose writes them to S3, JSON values glued together without separators. The mix: 30 % Send,
28 % Delivery, 20 % Open, 10 % Click, 2 % transient and 2 % permanent bounces, 1 % suppressed
bounces (not modelled), 1 % complaints, 4 % DeliveryDelay and 2 % Reject (not modelled); 80 % tagged
with ``user_id`` (one event per record), the rest fanned out per recipient (5 % of those to two
recipients); ``mail.headers`` and ``commonHeaders`` as SES writes them; timestamps rising, in
milliseconds.

Each round runs, in turn:

1. ``bare``: the yardstick below in this process: the file read in 1 MiB blocks, the glued values
   cut at ``}{`` and parsed with ``orjson.loads`` (a cut inside a string fails to parse and is
   widened to the next ``}{``), the plugin's mapping decisions inline, ``orjson.dumps`` per feed
   object, Data Feed files of at most 100,000 lines. No model validation, event ids, ledger, fsync
   or quarantine;
2. ``pipeline``: ``Collector.run`` in this process, as ``msgevents collect`` builds it (fresh state);
3. ``cli``: ``msgevents collect --provider ses …`` as a child process (interpreter start and imports
   included), fresh state; its peak RSS from ``wait4``.

Before timing, the feed lines of ``bare`` and ``pipeline`` are compared byte for byte.
"""

from __future__ import annotations

import argparse
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    OUT,
    compare_to_bare,
    compile_sources,
    fresh_dir,
    machine,
    provider_pipeline,
    remove,
)

MIX = [("Send", 30), ("Delivery", 28), ("Open", 20), ("Click", 10), ("Bounce:Transient", 2),
       ("Bounce:Permanent", 2), ("Bounce:Suppressed", 1), ("Complaint", 1), ("DeliveryDelay", 4),
       ("Reject", 2)]  # fmt: skip
START = datetime(2024, 11, 4, 9, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def generate(records: int) -> Path:
    path = OUT / f"ses-{records}.json"
    if path.exists():
        return path
    OUT.mkdir(parents=True, exist_ok=True)
    rng = random.Random(11)
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for n in range(records):
            kind, _, detail = rng.choice(kinds).partition(":")
            person = rng.randrange(50_000)
            sent = START + timedelta(milliseconds=n * 50 + rng.randrange(10))
            happened = sent + timedelta(milliseconds=rng.randrange(1, 60_000))
            recipients = [f"customer{person}@example.com"]
            if person % 5 == 0 and n % 20 == 0:
                recipients.append(f"customer{person + 1}@example.com")
            tags = {"ses:configuration-set": ["newsletter"], "ses:source-ip": ["192.0.2.1"]}
            if person % 5:
                tags["user_id"] = [f"C{person:07d}"]
            if n % 10 == 0:
                tags["campaign_id"] = [f"camp-{n % 13}"]
            mail = {
                "timestamp": _iso(sent),
                "source": "news@example.com",
                "sourceArn": "arn:aws:ses:eu-west-1:123456789012:identity/example.com",
                "sendingAccountId": "123456789012",
                "messageId": f"0100019{n:09x}-{rng.getrandbits(64):016x}-000000",
                "destination": recipients,
                "headersTruncated": False,
                "headers": [
                    {"name": "From", "value": "news@example.com"},
                    {"name": "To", "value": ", ".join(recipients)},
                    {"name": "Subject", "value": "Autumn offers"},
                ],
                "commonHeaders": {"from": ["news@example.com"], "to": recipients, "subject": "Autumn offers"},
                "tags": tags,
            }
            record: dict = {"eventType": kind, "mail": mail}
            if kind == "Send":
                record["send"] = {}
            elif kind == "Delivery":
                record["delivery"] = {"timestamp": _iso(happened), "processingTimeMillis": 812,
                                      "recipients": recipients, "smtpResponse": "250 2.0.0 OK",
                                      "reportingMTA": "a8-1.smtp-out.amazonses.com"}  # fmt: skip
            elif kind in ("Open", "Click"):
                detail_obj = {
                    "timestamp": _iso(happened),
                    "ipAddress": "192.0.2.10",
                    "userAgent": "Mozilla/5.0",
                }
                if kind == "Click":
                    detail_obj["link"] = f"https://www.example.com/offer/{n % 97}"
                    detail_obj["linkTags"] = {"samplekey0": ["samplevalue0"]}
                record[kind.lower()] = detail_obj
            elif kind == "Bounce":
                record["bounce"] = {
                    "bounceType": "Permanent" if detail == "Suppressed" else detail,
                    "bounceSubType": "Suppressed" if detail == "Suppressed" else "General",
                    "bouncedRecipients": [
                        {
                            "emailAddress": r,
                            "action": "failed",
                            "status": "5.1.1",
                            "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                        }
                        for r in recipients
                    ],
                    "timestamp": _iso(happened),
                    "feedbackId": f"0100019{n:09x}-feedback-000000",
                    "reportingMTA": "dsn; a8-1.smtp-out.amazonses.com",
                }
            elif kind == "Complaint":
                record["complaint"] = {"complainedRecipients": [{"emailAddress": r} for r in recipients],
                                       "timestamp": _iso(happened), "feedbackId": f"0100019{n:09x}-c-000000",
                                       "complaintFeedbackType": "abuse"}  # fmt: skip
            elif kind == "DeliveryDelay":
                delayed = [{"emailAddress": r} for r in recipients]
                record["deliveryDelay"] = {"timestamp": _iso(happened), "delayType": "MailboxFull",
                                           "delayedRecipients": delayed}  # fmt: skip
            else:
                record["reject"] = {"reason": "Bad content"}
            out.write(orjson.dumps(record))  # Firehose: no separator between records
    tmp.rename(path)
    return path


# -- the yardstick -----------------------------------------------------------------------------------

_TYPES = {"Send": "Message Sent", "Delivery": "Message Delivered", "Open": "Message Viewed",
          "Click": "Message Clicked", "Complaint": "Message marked_as_spam"}  # fmt: skip
_DETAIL = {
    "Delivery": "delivery",
    "Open": "open",
    "Click": "click",
    "Bounce": "bounce",
    "Complaint": "complaint",
}
_MAX_LINES = 100_000


def _timestamp(text: str) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    millis = moment.microsecond // 1000
    return f"{base}.{millis:03d}Z" if millis else f"{base}Z"


def _values(path: Path):  # type: ignore[no-untyped-def]
    """The glued JSON values of a Firehose object: cut at ``}{``, widened while a cut does not parse."""
    loads, rest = orjson.loads, b""
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            data, start, cut = rest + block, 0, 0
            while (cut := data.find(b"}{", cut) + 1) > 0:
                try:
                    value = loads(data[start:cut])
                except orjson.JSONDecodeError:
                    continue  # "}{" inside a string
                yield value
                start = cut
            rest = data[start:]
    if rest.strip():
        yield loads(rest)


def bare_loop(path: Path, out_dir: Path) -> tuple[int, int]:
    """Map the records of ``path`` into feed files in ``out_dir``; (records read, events written)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    records = written = lines = files = 0
    out = None
    dumps = orjson.dumps
    for record in _values(path):
        records += 1
        kind = record.get("eventType") or record.get("notificationType")
        mail = record["mail"]
        event = _TYPES.get(kind)
        detail = record.get(_DETAIL.get(kind, ""), {})
        if kind == "Bounce":
            bounce_type = detail.get("bounceType")
            if bounce_type == "Transient":
                event = "Message soft_bounced"
            elif bounce_type == "Permanent" and detail.get("bounceSubType") not in (
                "Suppressed",
                "OnAccountSuppressionList",
            ):
                event = "Message hard_bounced"
        if event is None:
            continue
        tags = mail.get("tags") or {}
        user_id = (tags.get("user_id") or [None])[0]
        base = {
            "event": event,
            "timestamp": _timestamp(detail["timestamp"] if kind != "Send" else mail["timestamp"]),
        }
        base["channel"] = "Email"
        if kind == "Click":
            base["url"] = detail["link"]
        campaign = (tags.get("campaign_id") or [None])[0]
        if campaign:
            base["campaign_id"] = campaign
        base["message_id"] = mail["messageId"]
        if user_id:
            objects = [{"id": user_id, **base}]
        else:
            if kind == "Delivery":
                recipients = detail["recipients"]
            elif kind in ("Bounce", "Complaint"):
                key = "bouncedRecipients" if kind == "Bounce" else "complainedRecipients"
                recipients = [r["emailAddress"] for r in detail[key]]
            else:
                recipients = mail["destination"]
            objects = [{"email": address, **base} for address in dict.fromkeys(recipients)]
        for obj in objects:
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
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pipeline-only", action="store_true", help="one in-process pipeline run, timed")
    args = parser.parse_args()
    compile_sources()
    print(machine())
    path = generate(args.records)
    work = OUT / "ses-work"
    if args.pipeline_only:
        state = work / "state.db"
        remove(state)
        seconds = provider_pipeline("ses", path, fresh_dir(work / "pipeline"), state)
        print(f"  pipeline: {seconds:.2f} s, {seconds / args.records * 1e6:.2f} µs/record")
        return
    compare_to_bare(
        "ses", path, work, bare_loop, records=args.records, rounds=args.rounds, label="SES records"
    )


if __name__ == "__main__":
    main()
