"""Check: the plugin contract, the identity step and the processors, before deduplication."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from msgevents.errors import PluginError
from msgevents.events import Event
from msgevents.identity import IdentityStep
from msgevents.processing import Processor
from msgevents.provider import Record
from msgevents.run.context import RunContext
from msgevents.run.origins import Origin
from msgevents.run.quarantine import QuarantineBook

__all__ = ["Checks", "Contract"]


class Contract:
    """The plugin contract: canonical events of declared types, carrying the provider's own name."""

    def __init__(self, ctx: RunContext, quarantine: QuarantineBook) -> None:
        self.ctx = ctx
        self.quarantine = quarantine
        self.supported = ctx.provider.supported_events
        self.name = ctx.provider.name

    def accepts(self, event: Any) -> bool:
        """The common case, tested without side effects; anything else goes through :meth:`checked`."""
        return type(event) is Event and event.event in self.supported and event.provider == self.name

    def checked(self, events: Iterable[Any], record: Record | None) -> Iterator[Event]:
        """The events that keep the contract; the others are quarantined (the run exits 5)."""
        report = self.ctx.report
        for event in events:
            if not isinstance(event, Event):
                self._violation(f"map_record returned {type(event).__name__}, not an Event", record)
                continue
            if event.event not in self.supported:
                report.count(event.event, "quarantined")
                self._violation(
                    f"event type {event.event.value!r} is not declared by provider "
                    f"{self.name!r} (declared: {sorted(e.value for e in self.supported)})",
                    record,
                    event,
                )
                continue
            if event.provider != self.name:
                report.count(event.event, "quarantined")
                self._violation(
                    f"event.provider is {event.provider!r}, expected {self.name!r}", record, event
                )
                continue
            yield event

    def _violation(self, reason: str, record: Record | None, event: Event | None = None) -> None:
        self.ctx.verdict.plugin_broke = True
        self.ctx.report.contract_violations += 1
        self.quarantine.once("contract", reason, record, event)


class Checks:
    """Resolve identities (unresolved events are quarantined), run the processors, count what is left."""

    def __init__(
        self,
        ctx: RunContext,
        quarantine: QuarantineBook,
        contract: Contract,
        identity: IdentityStep,
        processors: Sequence[tuple[str, Processor]],
    ) -> None:
        self.ctx = ctx
        self.quarantine = quarantine
        self.contract = contract
        self.identity = identity
        self.processors = list(processors)

    def __call__(self, origin: Origin, events: list[Event]) -> list[Event]:
        if not events:
            return events
        report = self.ctx.report
        events, unresolved = self.identity(events)
        for event, reason in unresolved:  # phone-only events CrossEngage cannot key
            if self.quarantine.once("identity", reason, None, event, stream=origin.stream):
                report.count(event.event, "quarantined")
        for name, processor in self.processors:
            before = len(events)
            try:
                events = list(processor(events, self.ctx.provider))
            except Exception as exc:
                raise PluginError(f"processor {name!r} failed: {type(exc).__name__}: {exc}") from exc
            if len(events) < before:
                report.dropped[name] += before - len(events)
            events = list(self.contract.checked(events, None))  # a processor is held to the contract too
        report.count_all(events, "collected")
        return events
