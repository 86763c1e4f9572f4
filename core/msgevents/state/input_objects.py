"""Input objects (``s3://…``) whose events all reached a sink, remembered by URL and ETag.

A re-run over the same prefix lists the objects and skips those it finds here
unchanged: it costs a listing, not a download of everything delivered before.
Kept per provider, account and sink: another destination reads them again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from msgevents.state.db import Database

__all__ = ["InputObjects"]

_IN_CHUNK = 900  # bound on SQL variables per IN (...) query


class InputObjects:
    """The ``input_objects`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def finished(
        self, provider: str, account: str, sink_id: int | None, urls: Sequence[str]
    ) -> set[tuple[str, str]]:
        """``(url, etag)`` of those of ``urls`` whose events all reached this sink already."""
        conn = self.db.conn
        if conn is None or sink_id is None:
            return set()
        found: set[tuple[str, str]] = set()
        for start in range(0, len(urls), _IN_CHUNK):
            chunk = list(urls[start : start + _IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                "SELECT url, etag FROM input_objects WHERE provider=? AND account=? AND sink_id=? "
                f"AND url IN ({marks})",
                (provider, account, sink_id, *chunk),
            )
            found.update((url, etag) for url, etag in rows)
        return found

    def remember(self, provider: str, account: str, sink_id: int, objects: Iterable[tuple[str, str]]) -> None:
        """Record objects (``(url, etag)``) whose events all reached the sink; read-only stores skip it."""
        if self.db.conn is None or self.db.readonly:
            return
        now = int(time.time())
        with self.db.transaction() as tx:
            tx.executemany(
                "INSERT OR REPLACE INTO input_objects(provider, account, sink_id, url, etag, finished_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(provider, account, sink_id, url, etag, now) for url, etag in objects],
            )
