"""Planning a backfill: parts of a time range or of a set of input files. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from msgevents.errors import ConfigError
from msgevents.objectstore import ObjectInput
from msgevents.timestamps import format_timestamp
from msgevents.windows import parse_bound

__all__ = ["MAX_PARTS", "ObjectRef", "Part", "parse_partition", "plan_input_parts", "plan_window_parts"]

#: More parts than this is a typo in --partition (1s over a year), not a plan.
MAX_PARTS = 10_000


@dataclass(frozen=True)
class ObjectRef:
    """A listed object (``s3://…``) as plain data: a worker opens it with its own S3 client."""

    bucket: str
    key: str
    etag: str
    size: int

    @property
    def url(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class Part:
    """One task of a backfill: a window ``[since, until)``, or input files read whole."""

    index: int
    name: str
    since: datetime | None = None
    until: datetime | None = None
    inputs: tuple[Path | ObjectRef, ...] = ()


def parse_partition(text: str) -> timedelta:
    """``--partition``: a duration like ``1d``, ``6h``, ``30m``."""
    value = parse_bound(text, "--partition") if text.strip()[:1].isdigit() else None
    if not isinstance(value, timedelta) or value <= timedelta(0):
        raise ConfigError(f"--partition {text!r}: expected a duration like 1d, 6h or 30m")
    return value


def plan_window_parts(since: datetime, until: datetime, partition: timedelta) -> list[Part]:
    """``[since, until)`` cut into consecutive windows of ``partition`` (the last one shorter)."""
    if until <= since:
        raise ConfigError(f"--until {until.isoformat()} is not after --since {since.isoformat()}")
    count = -(-(until - since) // partition)  # ceiling
    if count > MAX_PARTS:
        raise ConfigError(
            f"--partition {partition} cuts the range into {count} parts (at most {MAX_PARTS}); "
            "choose a longer partition"
        )
    parts = []
    start = since
    while start < until:
        stop = min(start + partition, until)
        name = f"{format_timestamp(start)}..{format_timestamp(stop)}"
        parts.append(Part(len(parts), name, since=start, until=stop))
        start = stop
    return parts


def plan_input_parts(inputs: Sequence[Path | ObjectInput]) -> list[Part]:
    """One part per input file or object (each is read whole, as by ``collect --input``)."""
    if len(inputs) > MAX_PARTS:
        raise ConfigError(f"--input names {len(inputs)} files (at most {MAX_PARTS} parts)")
    parts = []
    for index, item in enumerate(inputs):
        ref: Path | ObjectRef = (
            ObjectRef(item.bucket, item.key, item.etag, item.size)
            if isinstance(item, ObjectInput)
            else Path(item).resolve()  # workers may run in another directory
        )
        parts.append(Part(index, str(ref), inputs=(ref,)))
    return parts
