"""One part of a backfill: an ordinary backfill run of the collector, in whatever process runs it.

:func:`run_part` is what an executor calls in a worker, with a :class:`PartTask` (plain,
picklable data). It builds the provider and the sink from the worker's own environment
(credentials never travel with the task), runs the part under its own part lock, and
returns the run report as plain data. A part that ended incomplete (exit 4: a provider
or sink failure outlasted the retries) raises :class:`PartFailed` so the engine runs it
again; other verdicts (configuration, authentication, lock, plugin contract) would fail
the same way again and are returned as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from msgevents.backfill.plan import ObjectRef, Part
from msgevents.errors import IncompleteError, MsgEventsError
from msgevents.objectstore import ObjectInput, s3_client
from msgevents.redact import redact
from msgevents.run import CollectOptions, Collector
from msgevents.state.location import state_location

__all__ = ["PartFailed", "PartTask", "run_part"]


@dataclass(frozen=True)
class PartTask:
    """Everything a worker needs to run one part, besides its environment."""

    backfill_id: str
    provider: str
    sink_spec: str
    state: str
    part: Part
    chunk_size: int = 5000
    ledger_retention: timedelta = timedelta(days=90)
    identity_file: str | None = None
    verbose: int = 0

    @property
    def run_name(self) -> str:
        """The part's name in the state's run records: ``<backfill id>/<part name>``."""
        return f"{self.backfill_id}/{self.part.name}"


class PartFailed(Exception):
    """A part ended incomplete; ``result`` is its report as :func:`run_part` returns it."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(result)
        self.result = result

    def __str__(self) -> str:
        errors = (self.result.get("report") or {}).get("errors") or [self.result.get("error") or "incomplete"]
        return f"part {self.result['part']}: " + "; ".join(str(e) for e in errors)


def _inputs(part: Part) -> list[Path | ObjectInput]:
    client = None
    found: list[Path | ObjectInput] = []
    for item in part.inputs:
        if isinstance(item, ObjectRef):
            client = client or s3_client()
            found.append(ObjectInput(item.bucket, item.key, item.etag, item.size, client))
        else:
            found.append(Path(item))
    return found


def run_part(task: PartTask) -> dict[str, Any]:
    """Run one part; its result: ``part``, ``index``, ``exit_code``, ``report`` (or ``error``)."""
    # imported here: the CLI modules register commands and need the plugin registry
    from msgevents.assemble import make_provider, make_sink
    from msgevents.cli.base import setup_logging
    from msgevents.plugins import Registry, load_general_plugins

    setup_logging(task.verbose)
    part = task.part
    result: dict[str, Any] = {"part": part.name, "index": part.index}
    try:
        registry = Registry()
        provider = make_provider(task.provider, registry)
        sink = make_sink(task.sink_spec, registry, required=True)
        load_general_plugins(registry)
        options = CollectOptions(
            state_path=state_location(task.state),
            since=part.since,
            until=part.until,
            inputs=_inputs(part),
            chunk_size=task.chunk_size,
            ledger_retention=task.ledger_retention,
            identity_file=Path(task.identity_file) if task.identity_file else None,
            part=task.run_name,
        )
        report = Collector(provider, sink, options, processors=registry.processors).run()
    except MsgEventsError as exc:
        report = getattr(exc, "report", None)
        if report is None:
            result.update(exit_code=exc.exit_code, error=redact(str(exc)), report=None)
            if isinstance(exc, IncompleteError):
                raise PartFailed(result) from None
            return result
    result.update(exit_code=report.exit_code, report=report.as_dict())
    if report.exit_code == IncompleteError.exit_code:
        raise PartFailed(result)
    return result
