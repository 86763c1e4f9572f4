"""Which time window a run reads, per stream: pure functions, no I/O.

- **live** (no ``--since``/``--until``, or ``--since`` before any live position
  exists): from the saved position minus the provider's restatement window
  (first run: ``--since`` or now minus the default lookback) up to now minus
  the settle delay; the position advances when everything read was acknowledged.
- **backfill** (``--until``, or ``--since`` once a live position exists): exactly
  ``[since or now - lookback, until or now - settle)``; never moves the live position.
- ``--full-refresh`` restarts the live position at ``--since`` or the default lookback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from msgevents.errors import ConfigError
from msgevents.provider import Window
from msgevents.timestamps import UTC, TimestampError, parse_iso8601

__all__ = ["Bound", "Plan", "check_order", "parse_bound", "parse_when", "plan_windows", "resolve"]

#: A ``--since``/``--until`` value: a time, or how long before the provider's clock (``2h``).
Bound = datetime | timedelta

_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str, now: datetime, option: str) -> datetime:
    """``--since``/``--until`` values: ISO 8601 (offset required; a bare date means
    00:00 UTC) or relative like ``2h``, ``7d``, ``30m`` (before ``now``)."""
    match = _RELATIVE.match(value)
    if match:
        amount, unit = match.groups()
        return now - timedelta(**{_UNITS[unit]: int(amount)})
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00Z"
    try:
        return parse_iso8601(text)
    except TimestampError as exc:
        raise ConfigError(
            f"{option} {value!r}: expected ISO 8601 with an offset (2024-05-01T10:00:00Z), "
            f"a date (2024-05-01, read as UTC) or a relative time like 2h or 7d ({exc})"
        ) from None


def parse_bound(value: str, option: str) -> Bound:
    """Like :func:`parse_when`, but a relative value stays relative (a timedelta): a live run
    resolves it against the provider's clock, not the local one."""
    match = _RELATIVE.match(value)
    if match:
        amount, unit = match.groups()
        return timedelta(**{_UNITS[unit]: int(amount)})
    return parse_when(value, datetime.now(UTC), option)


def resolve(bound: Bound | None, now: datetime) -> datetime | None:
    """The time of ``bound`` when the clock reads ``now``."""
    return now - bound if isinstance(bound, timedelta) else bound


def check_order(since: Bound | None, until: Bound | None, now: datetime) -> None:
    """ConfigError unless ``--until`` lies after ``--since`` (before any login or settings check)."""
    start, stop = resolve(since, now), resolve(until, now)
    if start is not None and stop is not None and stop <= start:
        raise ConfigError(f"--until {stop.isoformat()} is not after --since {start.isoformat()}")


@dataclass(frozen=True)
class Plan:
    """The windows of one run: mode (``live`` or ``backfill``) and a window per stream."""

    mode: str
    windows: dict[str, Window]
    warnings: tuple[str, ...] = ()

    @property
    def advances(self) -> bool:
        return self.mode == "live"


def plan_windows(
    streams: tuple[str, ...],
    positions: dict[str, datetime],
    now: datetime,
    *,
    settle: timedelta,
    restatement: timedelta,
    lookback: timedelta,
    retention: timedelta | None,
    ledger_retention: timedelta,
    since: datetime | None = None,
    until: datetime | None = None,
    full_refresh: bool = False,
    first_start: datetime | None = None,
) -> Plan:
    """Decide the mode and the window of every stream (see the module docstring).

    ``first_start`` is where an earlier first live run was asked to start: a stream it
    left without a position starts there, not at the default lookback.
    """
    end = now - settle
    warnings: list[str] = []
    if since is not None and until is not None and until <= since:
        raise ConfigError(f"--until {until.isoformat()} is not after --since {since.isoformat()}")
    if since is not None and since >= end:
        warnings.append(
            f"--since {since.isoformat()} is not before the provider's clock ({now.isoformat()}"
            + (f" minus its {settle} settle delay" if settle else "")
            + "): there is nothing to read yet"
        )
    backfill = until is not None or (since is not None and bool(positions) and not full_refresh)
    windows: dict[str, Window] = {}
    if backfill:
        start = since if since is not None else now - lookback
        stop = min(until, end) if until is not None else end
        if start < now - ledger_retention:
            warnings.append(
                f"backfill from {start.isoformat()} reaches past the ledger retention "
                f"({ledger_retention.days} days): events delivered before then may be sent again"
            )
        if retention is not None and start < now - retention:
            warnings.append(
                f"the provider keeps data for {retention.days} days: nothing before "
                f"{(now - retention).isoformat()} can be read"
            )
        if stop > start:
            windows = {stream: Window(start, stop) for stream in streams}
        return Plan("backfill", windows, tuple(warnings))
    for stream in streams:
        position = None if full_refresh else positions.get(stream)
        if position is None:
            if since is not None:
                start = since
            elif first_start is not None and not full_refresh:
                start = first_start
            else:
                start = now - lookback
        else:
            start = position - restatement
            if retention is not None and position < now - retention:
                warnings.append(
                    f"stream {stream!r}: last position {position.isoformat()} is older than the "
                    f"provider's {retention.days}-day retention: events in between may be lost (gap)"
                )
        if end > start:
            windows[stream] = Window(start.astimezone(UTC), end.astimezone(UTC))
    return Plan("live", windows, tuple(warnings))
