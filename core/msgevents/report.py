"""The run report: counters kept while a run goes, the JSON report and the human summary."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tqdm import tqdm

from msgevents.errors import MsgEventsError
from msgevents.events import Event, EventType
from msgevents.redact import redact, redact_value
from msgevents.timestamps import UTC, format_timestamp

__all__ = ["COLUMNS", "Progress", "RunReport"]

_EVENT_OF = attrgetter("event")

#: Per-event-type counters, in summary order.
COLUMNS = ("collected", "delivered", "already_delivered", "quarantined", "rejected", "pending")


@dataclass
class RunReport:
    """Everything a run counts; :meth:`as_dict` is the ``--report`` JSON."""

    provider: str
    account: str
    sink: str
    destination: str
    mode: str
    dry_run: bool = False
    run_id: int | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    ended_at: datetime | None = None
    records: int = 0
    events: dict[str, Counter[str]] = field(default_factory=dict)
    not_modelled: Counter[str] = field(default_factory=Counter)
    unmapped: int = 0  # records quarantined before they had an event type
    contract_violations: int = 0
    quarantined_before: int = 0  # bad records read again that an earlier run already quarantined
    rejected_before: int = 0  # events read again that the sink refused in an earlier run
    duplicates: int = 0  # events read again while pending in the outbox or earlier in this run
    claimed_elsewhere: int = 0  # events another live run held when this one wanted to send them
    claims_released: int = 0  # claims of runs found dead, released (their events sent again)
    part: str | None = None  # the backfill part this run was
    dropped: Counter[str] = field(default_factory=Counter)
    outbox_sent: int = 0
    outbox_pending: int = 0
    windows: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: list[str] = field(default_factory=list)
    inputs_skipped: list[str] = field(default_factory=list)  # objects finished by earlier runs
    files: list[str] = field(default_factory=list)
    delivery: dict[str, int] = field(default_factory=dict)
    provider_http: dict[str, int] = field(default_factory=dict)
    quarantine_file: str | None = None
    file_errors: list[dict[str, str]] = field(default_factory=list)  # input files not read to the end
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    outcome: str = "running"
    #: What made the run end as it did (None: done); its ``exit_code`` is the run's.
    verdict: type[MsgEventsError] | None = field(default=None, repr=False)
    crashed: bool = False  # an internal error (exit 1)

    @property
    def exit_code(self) -> int:
        """The exit code of this run: 0 when done, else its verdict's (an error class's own)."""
        if self.crashed:
            return MsgEventsError.exit_code
        return self.verdict.exit_code if self.verdict is not None else 0

    def conclude(self, outcome: str, verdict: type[MsgEventsError] | None = None) -> None:
        """Say how the run ended: ``outcome`` for people, ``verdict`` for the exit code."""
        self.outcome, self.verdict = outcome, verdict

    def count(self, event_type: EventType | str, column: str, amount: int = 1) -> None:
        self.events.setdefault(str(event_type), Counter())[column] += amount

    def count_all(self, events: Iterable[Event], column: str) -> None:
        for event_type, amount in Counter(map(_EVENT_OF, events)).items():
            self.events.setdefault(event_type, Counter())[column] += amount

    def total(self, column: str) -> int:
        return sum(counter[column] for counter in self.events.values())

    def file_error(self, path: str, reason: str) -> None:
        """An input file that could not be read to its end, or is not the expected format."""
        self.file_errors.append({"file": path, "reason": redact(reason)})

    def warn(self, message: str) -> None:
        self.warnings.append(redact(message))

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data, every secret masked (it goes to a file and the state)."""
        ordered = [t.value for t in EventType if t.value in self.events]
        report = {
            "run_id": self.run_id,
            "provider": self.provider,
            "account": self.account,
            "sink": self.sink,
            "destination": self.destination,
            "mode": self.mode,
            "dry_run": self.dry_run,
            "started_at": format_timestamp(self.started_at),
            "ended_at": format_timestamp(self.ended_at) if self.ended_at else None,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "records": self.records,
            "events": {name: {column: self.events[name][column] for column in COLUMNS} for name in ordered},
            "totals": {column: self.total(column) for column in COLUMNS},
            "unmapped_quarantined": self.unmapped,
            "contract_violations": self.contract_violations,
            "quarantined_before": self.quarantined_before,
            "rejected_before": self.rejected_before,
            "duplicates_in_run": self.duplicates,
            "claimed_elsewhere": self.claimed_elsewhere,
            "claims_released": self.claims_released,
            "part": self.part,
            "not_modelled": dict(self.not_modelled),
            "dropped_by_processor": dict(self.dropped),
            "outbox": {"sent": self.outbox_sent, "pending": self.outbox_pending},
            "delivery": dict(self.delivery),
            "provider_http": dict(self.provider_http),
            "windows": self.windows,
            "inputs": self.inputs,
            "inputs_skipped": self.inputs_skipped,
            "files": self.files,
            "quarantine_file": self.quarantine_file,
            "file_errors": self.file_errors,
            "warnings": self.warnings,
            "errors": self.errors,
        }
        return redact_value(report)  # type: ignore[no-any-return]

    def summary(self) -> str:
        """The human summary printed to stderr at the end of every run."""
        title = "dry run (nothing sent, state unchanged)" if self.dry_run else self.outcome
        lines = [
            f"msgevents collect --provider {self.provider}: {title}",
            f"  mode {self.mode}, to {self.sink} {self.destination}",
        ]
        for stream, window in self.windows.items():
            lines.append(
                f"  {stream:<13} {window['since']} .. {window['until']}  "
                f"{window.get('records', 0)} records"
                + ("" if window.get("advanced", True) else "  (position kept)")
            )
        shown = self.inputs if len(self.inputs) <= 12 else self.inputs[:10]
        lines.extend(f"  input {path}" for path in shown)
        if len(shown) < len(self.inputs):
            lines.append(f"  … and {len(self.inputs) - len(shown)} more inputs (see --report)")
        if self.inputs_skipped:
            lines.append(
                f"  skipped {len(self.inputs_skipped)} unchanged objects whose events earlier runs delivered"
            )
        labels = [c.replace("_", " ") for c in COLUMNS]
        widths = [max(9, len(label) + 2) for label in labels]
        lines.append(f"  {'event':<24}" + "".join(f"{x:>{w}}" for x, w in zip(labels, widths, strict=True)))
        rows = [(t.value, self.events[t.value]) for t in EventType if t.value in self.events]
        for name, counter in rows:
            cells = "".join(f"{counter[c]:>{w}}" for c, w in zip(COLUMNS, widths, strict=True))
            lines.append(f"  {name:<24}{cells}")
        totals = "".join(f"{self.total(c):>{w}}" for c, w in zip(COLUMNS, widths, strict=True))
        lines.append(f"  {'total':<24}{totals}")
        lines.append(f"  records read: {self.records}")
        if self.unmapped:
            lines.append(f"  unmappable records quarantined: {self.unmapped}")
        if self.contract_violations:
            lines.append(f"  events rejected as plugin contract violations: {self.contract_violations}")
        if self.quarantined_before:
            lines.append(f"  of these, already in quarantine from earlier runs: {self.quarantined_before}")
        if self.rejected_before:
            lines.append(
                "  refused by the sink in earlier runs (in quarantine; see msgevents replay): "
                f"{self.rejected_before}"
            )
        if self.duplicates:
            lines.append(
                "  duplicates (read earlier in this run, or pending in the outbox; sent once): "
                f"{self.duplicates}"
            )
        if self.claimed_elsewhere:
            lines.append(
                f"  held by another run at once (waited for, counted above): {self.claimed_elsewhere}"
            )
        if self.claims_released:
            lines.append(
                f"  claims of runs that died, released (their events sent again): {self.claims_released}"
            )
        if self.not_modelled:
            parts = ", ".join(f"{k} {v}" for k, v in sorted(self.not_modelled.items()))
            lines.append(f"  not modelled (counted, not sent): {parts}")
        if self.dropped:
            parts = ", ".join(f"{k} {v}" for k, v in sorted(self.dropped.items()))
            lines.append(f"  dropped by processors: {parts}")
        if self.outbox_sent or self.outbox_pending:
            lines.append(
                f"  outbox: {self.outbox_sent} sent from earlier runs, {self.outbox_pending} pending"
            )
        d = self.delivery
        if d.get("requests"):
            lines.append(
                f"  delivery: {d.get('requests', 0)} requests, {d.get('retries', 0)} retries, "
                f"{d.get('throttled', 0)} throttled (429), {d.get('ambiguous', 0)} ambiguous"
            )
        if self.provider_http.get("requests"):
            p = self.provider_http
            lines.append(
                f"  provider API: {p.get('requests', 0)} requests, {p.get('retries', 0)} retries, "
                f"{p.get('throttled', 0)} throttled (429)"
            )
        for path in self.files:
            lines.append(f"  wrote {path}")
        if self.quarantine_file:
            lines.append(f"  quarantine: {self.quarantine_file}")
        for item in self.file_errors:
            reason = item["reason"]
            named = reason if item["file"] in reason else f"{item['file']}: {reason}"
            lines.append(f"  file error: {named}")
        lines.extend(f"  warning: {w}" for w in self.warnings)
        lines.extend(f"  error: {e}" for e in self.errors)
        return redact("\n".join(lines))


class Progress:
    """Records read, their rate and events collected per type on stderr, on a TTY only (tqdm)."""

    def __init__(self, stream: IO[str] | None = None, interval: float = 1.0) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self._bar: tqdm[Any] | None = None

    def update(self, report: RunReport) -> None:
        if not self.enabled:
            return
        if self._bar is None:
            from tqdm import tqdm  # only on a terminal: unattended runs never load it

            self._bar = tqdm(
                file=self.stream, unit=" records", mininterval=self.interval, leave=False, dynamic_ncols=True
            )
        per_type = " ".join(
            f"{name.removeprefix('Message ')}={counter['collected']}"
            for name, counter in report.events.items()
        )
        self._bar.set_postfix_str(per_type, refresh=False)
        self._bar.update(report.records - self._bar.n)

    def done(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
