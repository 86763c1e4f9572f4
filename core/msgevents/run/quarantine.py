"""The quarantine decision: write a bad record or event once, not on every re-read."""

from __future__ import annotations

from msgevents.events import Event
from msgevents.provider import Record
from msgevents.quarantine import QuarantineWriter, quarantine_key
from msgevents.run.context import RunContext

__all__ = ["QuarantineBook"]


class QuarantineBook:
    """Quarantines records and events, remembering in the state what earlier runs quarantined."""

    def __init__(self, ctx: RunContext, writer: QuarantineWriter, *, defer: bool = False) -> None:
        """``defer``: keep the keys of new quarantine lines in :attr:`unsaved` instead of
        committing each at once; the owner syncs the file, then commits them in its own
        transaction (:meth:`take_unsaved`) — the receiver's group commit."""
        self.ctx = ctx
        self.writer = writer
        self._now: set[bytes] = set()  # quarantine keys this run wrote
        self.defer = defer
        self.unsaved: list[bytes] = []

    def take_unsaved(self) -> list[bytes]:
        """The deferred keys, handed over to be committed; a long-lived process forgets them
        here too (once committed, :meth:`once` finds them in the state)."""
        keys, self.unsaved = self.unsaved, []
        self._now.difference_update(keys)
        return keys

    def record(self, record: Record, reason: str, kind: str = "mapping") -> None:
        """A record that could not be mapped (it has no event type yet)."""
        self.ctx.report.unmapped += 1
        self.once(kind, reason, record)

    def once(
        self,
        kind: str,
        reason: str,
        record: Record | None,
        event: Event | None = None,
        stream: str | None = None,
    ) -> bool:
        """Quarantine unless an earlier run did (then False); re-read windows (the restatement
        overlap) would otherwise quarantine the same record on every run.

        The quarantine line is written (and handed to the OS) before the state remembers it,
        so a run killed in between quarantines the record again instead of losing it.
        """
        ctx = self.ctx
        payload = event.event_id if event is not None else (record.data if record else None)
        if stream is None:
            stream = record.stream if record else ""
        key = quarantine_key(ctx.provider.name, ctx.provider.account, kind, stream, payload)
        again = key in self._now  # read twice in this run: a line each time, as counted
        if not again and ctx.store.quarantined_before(key):
            ctx.report.quarantined_before += 1
            return False
        self.writer.add(
            kind,
            reason,
            account=ctx.provider.account,
            stream=stream,
            source=record.source if record else "",
            record=record.data if record else None,
            event=event,
        )
        if not again:
            self._now.add(key)
            if self.defer:
                self.unsaved.append(key)
            else:
                ctx.store.remember_quarantined(key)
        return True

    def rejected(self, event: Event, reason: str, stream: str) -> None:
        """An event the sink refused for good (``msgevents replay`` sends it again)."""
        self.writer.add("rejected", reason, account=event.account, stream=stream, event=event)
