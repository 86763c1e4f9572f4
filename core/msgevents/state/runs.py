"""Run records: one row per run, its outcome, exit code and report."""

from __future__ import annotations

import os
from typing import Any

import orjson

from msgevents.state.db import Database, now_iso

__all__ = ["Runs"]

_COLUMNS = ("id", "provider", "account", "sink", "mode", "started_at", "ended_at", "outcome", "exit_code")


class Runs:
    """The ``runs`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def start(self, provider: str, account: str, sink: str, mode: str, part: str | None = None) -> int:
        with self.db.transaction() as tx:
            return tx.insert_id(
                "INSERT INTO runs(provider, account, sink, mode, pid, started_at, part) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (provider, account, sink, mode, os.getpid(), now_iso(), part),
            )

    def of_parts(self, prefix: str) -> dict[str, list[dict[str, Any]]]:
        """Runs whose ``part`` starts with ``prefix``: per part, ``id``, ``outcome``, ``exit_code``."""
        found: dict[str, list[dict[str, Any]]] = {}
        if self.db.conn is None:
            return found
        rows = self.db.execute(
            "SELECT part, id, outcome, exit_code FROM runs WHERE substr(part, 1, ?) = ? ORDER BY id",
            (len(prefix), prefix),
        )
        for part, run_id, outcome, exit_code in rows:
            found.setdefault(part, []).append({"id": run_id, "outcome": outcome, "exit_code": exit_code})
        return found

    def finish(self, run_id: int, outcome: str, exit_code: int | None, report: dict[str, Any]) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE runs SET ended_at=?, outcome=?, exit_code=?, report=? WHERE id=?",
                (now_iso(), outcome, exit_code, orjson.dumps(report).decode(), run_id),
            )

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        if self.db.conn is None:
            return []
        rows = self.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        return [dict(zip(_COLUMNS, row, strict=True)) for row in rows]
