"""What a run was asked to do, and how a validation error is told to the user."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from pydantic import ValidationError

from msgevents.objectstore import ObjectInput
from msgevents.windows import Bound

__all__ = ["CollectOptions", "describe_validation_error"]


@dataclass
class CollectOptions:
    """What ``msgevents collect`` (and ``replay``) asked for."""

    state_path: Path | str  # a state file, or a postgresql:// URL (msgevents.state.location)
    since: Bound | None = None
    until: Bound | None = None
    inputs: list[Path | ObjectInput] = field(default_factory=list)  # see msgevents.objectstore
    replay: Path | None = None
    dry_run: bool = False
    full_refresh: bool = False
    limit: int | None = None
    chunk_size: int = 5000
    ledger_retention: timedelta = timedelta(days=90)
    quarantine_dir: Path | None = None
    identity_file: Path | None = None  # MSGEVENTS_IDENTITY_FILE; the provider's own setting wins
    #: a backfill part (``msgevents backfill``): locks this name instead of the whole account
    part: str | None = None

    @property
    def mode(self) -> str:
        return "replay" if self.replay else ("input" if self.inputs else "live")


def describe_validation_error(exc: ValidationError) -> str:
    """A one-line reason naming each bad field and showing its value."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "event"
        message = error["msg"].removeprefix("Value error, ")
        value = error.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        parts.append(f"{where}: {message}{shown}")
    return "; ".join(parts)
