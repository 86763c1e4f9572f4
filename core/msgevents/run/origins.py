"""Where a batch of events came from: a type per origin, not a sentinel string.

The origin travels with a batch through every stage and, as the opaque ``tag``,
through the sink and back in its receipts; the acknowledgement stage reads it to
know whether an event left the outbox and which stream's position it holds.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "INPUTS",
    "OUTBOX",
    "REPLAY",
    "WEBHOOK",
    "Inputs",
    "Origin",
    "Outbox",
    "Replay",
    "Stream",
    "Webhook",
]


@dataclass(frozen=True, slots=True)
class Stream:
    """A provider stream pulled over its planned window; its position moves when all is acknowledged."""

    name: str

    @property
    def stream(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Inputs:
    """``--input`` files (no position)."""

    @property
    def stream(self) -> str:
        return ""


@dataclass(frozen=True, slots=True)
class Replay:
    """A quarantine file read back by ``msgevents replay``."""

    @property
    def stream(self) -> str:
        return ""


@dataclass(frozen=True, slots=True)
class Outbox:
    """Events an earlier run could not deliver (already in the outbox: never parked again)."""

    @property
    def stream(self) -> str:
        return ""


@dataclass(frozen=True, slots=True)
class Webhook:
    """Requests ``msgevents serve`` received (no position; committed to the outbox on receipt)."""

    @property
    def stream(self) -> str:
        return "webhook"


Origin = Stream | Inputs | Replay | Outbox | Webhook

INPUTS, REPLAY, OUTBOX, WEBHOOK = Inputs(), Replay(), Outbox(), Webhook()
