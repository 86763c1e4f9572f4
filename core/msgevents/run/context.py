"""What every stage of one run shares: the provider, the sink, the state, the report, the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

from msgevents.provider import Provider
from msgevents.report import RunReport
from msgevents.run.options import CollectOptions
from msgevents.sink import Sink
from msgevents.state import StateStore

__all__ = ["RunContext", "Verdict"]


@dataclass
class Verdict:
    """What went wrong so far without stopping the run (each makes it incomplete or broken)."""

    sink_down: str | None = None  # why the sink stopped acknowledging
    provider_failed: str | None = None  # why a stream could not be read to its end
    plugin_broke: bool = False  # the plugin broke its contract (exit 5)
    unparked: set[bytes] = field(default_factory=set)  # failed events the sink could not give back


@dataclass
class RunContext:
    """The run's shared parts. ``state`` and ``sink_id`` are set once the state is open."""

    provider: Provider
    sink: Sink | None
    options: CollectOptions
    report: RunReport
    verdict: Verdict = field(default_factory=Verdict)
    state: StateStore | None = None
    sink_id: int | None = None

    @property
    def delivering(self) -> bool:
        """Whether events go to a sink and the state records it (not a dry run, a sink given)."""
        return self.sink is not None and not self.options.dry_run and self.sink_id is not None

    @property
    def store(self) -> StateStore:
        assert self.state is not None, "the state is opened before any stage runs"
        return self.state
