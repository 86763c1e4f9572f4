"""Keys of bad records already quarantined, so re-reading a window does not quarantine them again."""

from __future__ import annotations

import time

from msgevents.state.db import Database, Tx

__all__ = ["QuarantineKeys"]


class QuarantineKeys:
    """The ``quarantined`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def seen(self, key: bytes) -> bool:
        """Whether a bad record with this key was quarantined by an earlier run (or this one)."""
        if self.db.conn is None:
            return False
        return self.db.execute("SELECT 1 FROM quarantined WHERE key=?", (key,)).fetchone() is not None

    def remember(self, key: bytes) -> None:
        """Record that the quarantine file now holds this bad record; read-only stores skip it."""
        if self.db.conn is None or self.db.readonly:
            return
        with self.db.transaction() as tx:
            sql = tx.dialect.insert_ignore("quarantined", ("key", "first_seen"))
            tx.execute(sql, (key, int(time.time())))

    def insert(self, tx: Tx, keys: list[bytes]) -> None:
        """Remember many keys inside the caller's transaction."""
        now = int(time.time())
        sql = tx.dialect.insert_ignore("quarantined", ("key", "first_seen"))
        tx.executemany(sql, ((k, now) for k in keys))

    def prune(self, tx: Tx, cutoff: int) -> None:
        tx.execute("DELETE FROM quarantined WHERE first_seen < ?", (cutoff,))
