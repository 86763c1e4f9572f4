"""Live positions: per (provider, account, stream, sink) the end of the last fully acknowledged window."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from msgevents.state.db import Database, Tx, now_iso
from msgevents.timestamps import format_timestamp, parse_iso8601

__all__ = ["Positions"]


def _start_key(provider: str, account: str, sink_id: int) -> str:
    return f"first_start\x1f{provider}\x1f{account}\x1f{sink_id}"


class Positions:
    """The ``positions`` table, and where the first live run was asked to start (``meta``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, provider: str, account: str, stream: str, sink_id: int | None) -> datetime | None:
        if self.db.conn is None or sink_id is None:
            return None
        row = self.db.execute(
            "SELECT position FROM positions WHERE provider=? AND account=? AND stream=? AND sink_id=?",
            (provider, account, stream, sink_id),
        ).fetchone()
        return parse_iso8601(row[0]) if row else None

    def all(self, provider: str, account: str, sink_id: int | None) -> dict[str, datetime]:
        if self.db.conn is None or sink_id is None:
            return {}
        rows = self.db.execute(
            "SELECT stream, position FROM positions WHERE provider=? AND account=? AND sink_id=?",
            (provider, account, sink_id),
        )
        return {stream: parse_iso8601(value) for stream, value in rows}

    def advance(self, tx: Tx, sink_id: int, positions: Iterable[tuple[str, str, str, datetime]]) -> None:
        """Set ``(provider, account, stream, new position)`` inside the caller's transaction."""
        stamp = now_iso()
        for provider, account, stream, position in positions:
            tx.execute(
                "INSERT INTO positions(provider, account, stream, sink_id, position, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(provider, account, stream, sink_id) "
                "DO UPDATE SET position=excluded.position, updated_at=excluded.updated_at",
                (provider, account, stream, sink_id, format_timestamp(position), stamp),
            )

    def reset(self, provider: str, account: str, sink_id: int) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "DELETE FROM positions WHERE provider=? AND account=? AND sink_id=?",
                (provider, account, sink_id),
            )
            tx.execute("DELETE FROM meta WHERE key=?", (_start_key(provider, account, sink_id),))

    def first_start(self, provider: str, account: str, sink_id: int | None) -> datetime | None:
        """Where the first live run was asked to start (``--since``), kept for streams it did not finish."""
        if sink_id is None:
            return None
        found = self.db.meta(_start_key(provider, account, sink_id))
        return parse_iso8601(found) if found else None

    def set_first_start(self, provider: str, account: str, sink_id: int, start: datetime) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                tx.dialect.upsert("meta", ("key", "value"), ("key",)),
                (_start_key(provider, account, sink_id), start.isoformat()),
            )
