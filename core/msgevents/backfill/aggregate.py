"""One summary and one report from the reports of a backfill's parts."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from msgevents.backfill.executors import PartOutcome
from msgevents.backfill.plan import Part
from msgevents.errors import IncompleteError
from msgevents.events import EventType
from msgevents.redact import redact, redact_value
from msgevents.report import COLUMNS
from msgevents.timestamps import UTC, format_timestamp

__all__ = ["BackfillReport", "part_exit_code"]

#: exit codes in the order one wins over another (DESIGN: 2, 3, 6 abort; then 5 before 4 before 0)
_PRECEDENCE = (2, 3, 6, 5, 4)
_ADDED = ("records", "claimed_elsewhere", "claims_released", "quarantined_before", "rejected_before")


def part_exit_code(outcome: PartOutcome) -> int:
    """A part's exit code: its run's, or 4 when it failed for good otherwise (worker died, crash)."""
    code = int((outcome.result or {}).get("exit_code") or 0)
    if outcome.failed and code not in _PRECEDENCE:
        return IncompleteError.exit_code
    return code if code in _PRECEDENCE or code == 0 else IncompleteError.exit_code


class BackfillReport:
    """Counters summed over the parts, each part's outcome and attempts, the verdict."""

    def __init__(self, backfill_id: str, provider: str, parts: list[Part], executor: str, sink: str) -> None:
        self.backfill_id = backfill_id
        self.provider = provider
        self.parts = parts
        self.executor = executor
        self.sink = sink
        self.started_at = datetime.now(UTC)
        self.ended_at: datetime | None = None
        self.outcomes: dict[int, PartOutcome] = {}
        self.attempts: dict[str, int] = {}  # part name -> runs recorded in the state
        self.retries: dict[str, list[str]] = {}  # part name -> why it ran again

    def add(self, outcome: PartOutcome) -> None:
        self.outcomes[outcome.part.index] = outcome

    def retried(self, part: Part, reason: str) -> None:
        self.retries.setdefault(part.name, []).append(redact(reason))

    def _reports(self) -> list[dict[str, Any]]:
        return [o.result["report"] for o in self.outcomes.values() if o.result and o.result.get("report")]

    @property
    def failed(self) -> list[PartOutcome]:
        return [o for _, o in sorted(self.outcomes.items()) if part_exit_code(o) != 0]

    @property
    def exit_code(self) -> int:
        codes = {part_exit_code(o) for o in self.outcomes.values()}
        if len(self.outcomes) < len(self.parts):
            codes.add(IncompleteError.exit_code)  # interrupted before every part ended
        return next((code for code in _PRECEDENCE if code in codes), 0)

    def events(self) -> dict[str, Counter[str]]:
        summed: dict[str, Counter[str]] = {}
        for report in self._reports():
            for name, counts in report.get("events", {}).items():
                summed.setdefault(name, Counter()).update(counts)
        return summed

    def totals(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for counts in self.events().values():
            totals.update(counts)
        return {column: totals[column] for column in COLUMNS}

    def _part(self, part: Part) -> dict[str, Any]:
        outcome = self.outcomes.get(part.index)
        entry: dict[str, Any] = {
            "part": part.name,
            "status": "not finished"
            if outcome is None
            else ("failed" if part_exit_code(outcome) else "done"),
            "exit_code": None if outcome is None else part_exit_code(outcome),
            "attempts": self.attempts.get(part.name, 0),
            "retried_because": self.retries.get(part.name, []),
        }
        if outcome is not None:
            if outcome.error:
                entry["error"] = outcome.error
            if outcome.result and outcome.result.get("error"):
                entry["error"] = outcome.result["error"]
            entry["report"] = (outcome.result or {}).get("report")
        return entry

    def as_dict(self) -> dict[str, Any]:
        reports = self._reports()
        ordered = [t.value for t in EventType if t.value in self.events()]
        events = self.events()
        data = {
            "backfill_id": self.backfill_id,
            "provider": self.provider,
            "executor": self.executor,
            "sink": self.sink,
            "started_at": format_timestamp(self.started_at),
            "ended_at": format_timestamp(self.ended_at) if self.ended_at else None,
            "outcome": "done" if self.exit_code == 0 else "incomplete" if self.exit_code == 4 else "failed",
            "exit_code": self.exit_code,
            "events": {name: {c: events[name][c] for c in COLUMNS} for name in ordered},
            "totals": self.totals(),
            **{name: sum(int(r.get(name) or 0) for r in reports) for name in _ADDED},
            "files": [path for r in reports for path in r.get("files", [])],
            "failed_parts": [self._part(o.part)["part"] for o in self.failed],
            "parts": [self._part(part) for part in self.parts],
        }
        return redact_value(data)  # type: ignore[no-any-return]

    def summary(self) -> str:
        data = self.as_dict()
        failed = data["failed_parts"]
        title = data["outcome"] + (f" ({len(failed)} of {len(self.parts)} parts failed)" if failed else "")
        lines = [
            f"msgevents backfill --provider {self.provider}: {title}",
            f"  {len(self.parts)} parts on {self.executor}, to {self.sink}",
        ]
        labels = [c.replace("_", " ") for c in COLUMNS]
        widths = [max(9, len(label) + 2) for label in labels]
        lines.append(f"  {'event':<24}" + "".join(f"{x:>{w}}" for x, w in zip(labels, widths, strict=True)))
        for name, counts in data["events"].items():
            lines.append(
                f"  {name:<24}" + "".join(f"{counts[c]:>{w}}" for c, w in zip(COLUMNS, widths, strict=True))
            )
        totals = data["totals"]
        lines.append(
            f"  {'total':<24}" + "".join(f"{totals[c]:>{w}}" for c, w in zip(COLUMNS, widths, strict=True))
        )
        lines.append(f"  records read: {data['records']}")
        if data["claimed_elsewhere"]:
            lines.append(
                f"  held by another run at once (waited for, counted above): {data['claimed_elsewhere']}"
            )
        if data["claims_released"]:
            lines.append(
                f"  claims of runs that died, released (their events sent again): {data['claims_released']}"
            )
        retried = [p for p in data["parts"] if p["retried_because"] or p["attempts"] > 1]
        for entry in retried:
            runs = max(entry["attempts"], len(entry["retried_because"]) + 1)
            why = "; ".join(entry["retried_because"])
            lines.append(f"  part {entry['part']} ran {runs} times (retried: {why})")
        for entry in data["parts"]:
            if entry["status"] != "done":
                reason = entry.get("error") or "; ".join((entry.get("report") or {}).get("errors", [])) or ""
                lines.append(
                    f"  failed part {entry['part']}: exit {entry['exit_code']}: {reason}".rstrip(": ")
                )
        warnings = dict.fromkeys(w for r in self._reports() for w in r.get("warnings", []))
        lines.extend(f"  warning: {w}" for w in warnings)
        return redact("\n".join(lines))
