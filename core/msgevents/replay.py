"""Reading quarantine files back for ``msgevents replay FILE``.

Entries with a raw native ``record`` are mapped again by the provider (after a
plugin fix or a settings change); entries holding only a canonical ``event``
(refused by the sink, e.g. an event type not yet activated in the tenant) are
validated again and sent as they are. Lines that cannot be read are reported
and quarantined again, never dropped.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
from pydantic import ValidationError

from msgevents.errors import ConfigError
from msgevents.events import Event
from msgevents.formats import event_from_jsonl
from msgevents.provider import Record
from msgevents.quarantine import QuarantineWriter

__all__ = ["quarantine_provider", "read_quarantine"]

BATCH = 1000


def quarantine_provider(path: Path) -> str:
    """The provider named by the first entry of a quarantine file."""
    try:
        with open(path, "rb") as handle:
            for line in handle:
                if line.strip():
                    provider = orjson.loads(line).get("provider")
                    if isinstance(provider, str) and provider:
                        return provider
                    break
    except OSError as exc:
        raise ConfigError(f"cannot read quarantine file {str(path)!r}: {exc.strerror}") from None
    except orjson.JSONDecodeError:
        pass
    raise ConfigError(f"{str(path)!r} is not a msgevents quarantine file (no provider in its first entry)")


def read_quarantine(
    path: Path, provider: str, requarantine: QuarantineWriter
) -> Iterator[tuple[list[Record], list[Event]]]:
    """Batches of ``(records to map, events to send)`` from a quarantine file of ``provider``."""
    records: list[Record] = []
    events: list[Event] = []
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise ConfigError(f"cannot read quarantine file {str(path)!r}: {exc.strerror}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{number}"
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                requarantine.add("mapping", f"unreadable quarantine line {where}: {exc}", source=where)
                continue
            if entry.get("provider") != provider:
                requarantine.add(
                    "mapping",
                    f"entry of provider {entry.get('provider')!r} in a replay of {provider!r}",
                    source=where,
                    record=entry,
                )
                continue
            stream = entry.get("stream") or ""
            if entry.get("record") is not None:
                records.append(Record(stream, entry["record"], source=entry.get("source") or where))
            elif entry.get("event") is not None:
                try:
                    events.append(event_from_jsonl(entry["event"]))
                except ValidationError as exc:
                    requarantine.add(
                        "mapping",
                        f"invalid event in {where}: {exc.errors()[0]['msg']}",
                        stream=stream,
                        source=where,
                        record=entry["event"],
                    )
            else:
                requarantine.add("mapping", f"entry {where} holds neither record nor event", source=where)
            if len(records) + len(events) >= BATCH:
                yield records, events
                records, events = [], []
    if records or events:
        yield records, events
