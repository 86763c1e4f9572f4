"""Sources: what a run reads, as a stream of items — pages of records, events, and the end of a stream.

- :func:`streams`: the provider's API streams over the planned windows (:mod:`msgevents.windows`);
  a stream that fails stops the reading and keeps its position and those after it;
- :func:`inputs`: ``--input`` files whole; a broken file is reported and the next one read;
- :func:`replay`: a quarantine file (records to map again, events to send again).

The outbox, read before any of them, is :class:`msgevents.run.outbox.RunOutbox`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from msgevents.errors import (
    AuthError,
    ConfigError,
    IncompleteError,
    InputFileError,
    MsgEventsError,
    PluginError,
)
from msgevents.events import Event
from msgevents.objectstore import ObjectInput
from msgevents.provider import Record
from msgevents.quarantine import QuarantineWriter
from msgevents.redact import redact
from msgevents.run.context import RunContext
from msgevents.run.origins import INPUTS, REPLAY, Origin, Stream
from msgevents.timestamps import format_timestamp
from msgevents.windows import plan_windows, resolve

__all__ = ["Done", "Events", "Item", "Page", "inputs", "replay", "streams"]

log = logging.getLogger("msgevents.run")


@dataclass(frozen=True, slots=True)
class Page:
    """Native records to map."""

    origin: Origin
    records: Sequence[Record]


@dataclass(frozen=True, slots=True)
class Events:
    """Canonical events read as they are (a replayed refusal): checked, not mapped."""

    origin: Origin
    events: list[Event]


@dataclass(frozen=True, slots=True)
class Done:
    """A stream was read to its end; ``until`` is its next position (``None``: it does not move)."""

    origin: Stream
    until: datetime | None


Item = Page | Events | Done


def streams(ctx: RunContext) -> Iterator[Item]:
    """Pages of every stream over its planned window, each stream followed by :class:`Done`."""
    provider, options, report = ctx.provider, ctx.options, ctx.report
    state = ctx.store
    account = provider.account
    positions = state.positions(provider.name, account, ctx.sink_id)
    first_start = state.first_start(provider.name, account, ctx.sink_id)
    writable = not options.dry_run and ctx.sink_id is not None
    if options.full_refresh and writable:
        state.reset_positions(provider.name, account, ctx.sink_id)  # type: ignore[arg-type]
    now = next(guarded(ctx, "asking for the time", lambda: [provider.now()]))
    since = resolve(options.since, now)  # a relative --since counts back from the provider's clock
    plan = plan_windows(
        provider.streams,
        positions,
        now,
        settle=provider.settle,
        restatement=provider.restatement,
        lookback=provider.settings.lookback,
        retention=provider.retention,
        ledger_retention=options.ledger_retention,
        since=since,
        until=resolve(options.until, now),
        full_refresh=options.full_refresh,
        first_start=first_start,
    )
    report.mode = plan.mode
    if plan.advances and since is not None and writable:
        # a first live run (or a full refresh) from --since: a stream it does not finish must
        # start there next time, not at the default lookback
        state.set_first_start(provider.name, account, ctx.sink_id, since)  # type: ignore[arg-type]
    for warning in plan.warnings:
        report.warn(warning)
    for name in provider.streams:
        window = plan.windows.get(name)
        if window is None:
            continue
        info: dict[str, Any] = {
            "since": format_timestamp(window.since),
            "until": format_timestamp(window.until),
            "records": 0,
            "advanced": False,
        }
        report.windows[name] = info
        before = report.records
        origin = Stream(name)
        try:
            for page in guarded(ctx, f"pulling {name!r}", provider.pull, name, window):
                yield Page(origin, page)
                info["records"] = report.records - before
        except (AuthError, ConfigError):
            raise
        except IncompleteError as exc:
            ctx.verdict.provider_failed = redact(str(exc))
            report.errors.append(f"stream {name!r}: {ctx.verdict.provider_failed}")
            info["records"] = report.records - before
            return  # the provider is failing: the remaining streams keep their positions
        info["records"] = report.records - before
        yield Done(origin, window.until if plan.advances else None)


def inputs(ctx: RunContext, paths: Iterable[Path | ObjectInput], read: list[ObjectInput]) -> Iterator[Item]:
    """Pages of every ``--input`` file or object; one that cannot be read to its end is a file
    error. Objects read to their end are appended to ``read``."""
    for path in _unfinished(ctx, list(paths)):
        ctx.report.inputs.append(str(path))
        try:
            for page in guarded(ctx, f"reading {path}", ctx.provider.read_input, path):
                yield Page(INPUTS, page)
        except InputFileError as exc:  # what it yielded is delivered; the next file is read
            ctx.report.file_error(str(path), redact(str(exc)))
        else:
            if isinstance(path, ObjectInput):
                read.append(path)


def _unfinished(ctx: RunContext, paths: list[Path | ObjectInput]) -> list[Path | ObjectInput]:
    """``paths`` less the objects (same URL and ETag) whose events earlier runs delivered
    to this sink: a re-run over a prefix costs a listing, not a download of each object."""
    objects = [p for p in paths if isinstance(p, ObjectInput)]
    if not objects or ctx.state is None:
        return paths
    done = ctx.state.finished_objects(
        ctx.provider.name, ctx.provider.account, ctx.sink_id, [o.url for o in objects]
    )
    if not done:
        return paths
    skipped = [p for p in objects if (p.url, p.etag) in done]
    ctx.report.inputs_skipped.extend(o.url for o in skipped)
    return [p for p in paths if not (isinstance(p, ObjectInput) and (p.url, p.etag) in done)]


def replay(ctx: RunContext, path: Path, requarantine: QuarantineWriter) -> Iterator[Item]:
    """Records and events of a quarantine file (``msgevents replay``)."""
    from msgevents.replay import read_quarantine  # local: only replay needs it

    ctx.report.inputs.append(str(path))
    for records, events in read_quarantine(path, ctx.provider.name, requarantine):
        if records:
            yield Page(REPLAY, records)
        if events:
            yield Events(REPLAY, events)


def guarded(ctx: RunContext, doing: str, call: Callable[..., Iterable[Any]], *args: Any) -> Iterator[Any]:
    """Items of ``call(*args)``, a provider method; an exception that is not a msgevents
    error (a bug in the plugin) becomes a :class:`PluginError` naming the provider (exit 5)."""
    iterator = _plugin_call(ctx, doing, lambda: iter(call(*args)))
    while True:
        try:
            item = _plugin_call(ctx, doing, lambda: next(iterator))
        except StopIteration:
            return
        yield item


def _plugin_call(ctx: RunContext, doing: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except (MsgEventsError, StopIteration):
        raise
    except Exception as exc:
        name = ctx.provider.name
        log.debug("provider %r failed while %s", name, doing, exc_info=True)
        raise PluginError(f"provider {name!r} failed while {doing}: {type(exc).__name__}: {exc}") from exc
