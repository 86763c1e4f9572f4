"""Feed files written and fsynced but not yet known to be renamed (the sink journal).

A pending file's ledger rows are written with it (``record_pending_file``), in
one transaction; on start they are reconciled: renamed → committed, not renamed
→ its rows deleted so its events are sent again.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

from msgevents.sink import PendingFile
from msgevents.state.claims import Claims
from msgevents.state.db import Database, Tx, now_iso
from msgevents.state.ledger import Ledger

__all__ = ["FeedFiles", "FeedJournal"]


class FeedFiles:
    """The ``feed_files`` table, and which files' keys are in the ledger already (this process)."""

    def __init__(self, db: Database, ledger: Ledger, claims: Claims) -> None:
        self.db = db
        self.ledger = ledger
        self.claims = claims
        #: feed file id -> (sink id, the sorted ledger keys recorded with it), until acknowledged
        self._journaled: dict[int, tuple[int, list[bytes]]] = {}

    def record(self, sink_id: int, tmp_path: str, final_path: str, keys: Sequence[bytes]) -> int:
        now = int(time.time())
        ordered = sorted(keys)
        with self.db.transaction() as tx:
            file_id = tx.insert_id(
                "INSERT INTO feed_files(sink_id, tmp_path, final_path, status, events, created_at) "
                "VALUES (?, ?, ?, 'pending', ?, ?)",
                (sink_id, tmp_path, final_path, len(keys), now_iso()),
            )
            self.ledger.insert(tx, sink_id, ordered, file_id=file_id, now=now)
            self.claims.release(tx, sink_id, ordered)  # the pending file's ledger rows hold them now
        self._journaled[file_id] = (sink_id, ordered)  # acknowledging the file need not insert them again
        return file_id

    def commit(self, tx: Tx, file_id: int) -> tuple[int, list[bytes]] | None:
        """Mark ``file_id`` committed; returns ``(sink id, keys)`` already in the ledger for it."""
        cursor = tx.execute("UPDATE feed_files SET status='committed' WHERE id=?", (file_id,))
        # the file's row is still there, so are the ledger rows recorded with it
        # (they are only ever deleted together with it, or once it is committed)
        return self._journaled.pop(file_id, None) if cursor.rowcount == 1 else None

    def pending(self, sink_id: int) -> list[PendingFile]:
        rows = self.db.execute(
            "SELECT id, tmp_path, final_path FROM feed_files WHERE sink_id=? AND status='pending' "
            "ORDER BY id",
            (sink_id,),
        )
        return [PendingFile(int(i), tmp, final) for i, tmp, final in rows]

    def resolve(self, sink_id: int, file_id: int, renamed: bool) -> None:
        self._journaled.pop(file_id, None)
        with self.db.transaction() as tx:
            if renamed:
                tx.execute("UPDATE feed_files SET status='committed' WHERE id=?", (file_id,))
            else:
                self.ledger.delete_file_rows(tx, sink_id, file_id)
                tx.execute("DELETE FROM feed_files WHERE id=?", (file_id,))

    def prune(self, tx: Tx) -> None:
        """Forget committed files no ledger row refers to any more."""
        tx.execute(
            "DELETE FROM feed_files WHERE status='committed' AND id NOT IN "
            "(SELECT DISTINCT file_id FROM ledger WHERE file_id IS NOT NULL)"
        )


class FeedJournal:
    """:class:`~msgevents.sink.SinkJournal` over the state store, for one sink."""

    def __init__(self, files: FeedFiles, identity: str, sink_id: int) -> None:
        """``identity``: the state file's resolved path, or the state URL without its password."""
        self.files = files
        self.sink_id = sink_id
        where = f"{identity}\x1f{sink_id}".encode()
        self.owner = hashlib.blake2b(where, digest_size=4).hexdigest()

    def record_pending_file(self, tmp_path: str, final_path: str, keys: Sequence[bytes]) -> int:
        return self.files.record(self.sink_id, tmp_path, final_path, keys)

    def pending_files(self) -> list[PendingFile]:
        return self.files.pending(self.sink_id)

    def resolve_pending_file(self, file_id: int, renamed: bool) -> None:
        self.files.resolve(self.sink_id, file_id, renamed)
