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

_COLUMNS = ("provider", "account", "sink_id", "url", "etag", "finished_at")


class InputObjects:
    """The ``input_objects`` table."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def finished(
        self, provider: str, account: str, sink_id: int | None, urls: Sequence[str]
    ) -> set[tuple[str, str]]:
        """``(url, etag)`` of those of ``urls`` whose events all reached this sink already."""
        if self.db.conn is None or sink_id is None:
            return set()
        rows = self.db.select_keys(
            "SELECT url, etag FROM input_objects WHERE provider=? AND account=? AND sink_id=? AND {keys}",
            (provider, account, sink_id),
            "url",
            urls,
        )
        return {(url, etag) for url, etag in rows}

    def remember(self, provider: str, account: str, sink_id: int, objects: Iterable[tuple[str, str]]) -> None:
        """Record objects (``(url, etag)``) whose events all reached the sink; read-only stores skip it."""
        if self.db.conn is None or self.db.readonly:
            return
        now = int(time.time())
        with self.db.transaction() as tx:
            tx.executemany(
                tx.dialect.upsert("input_objects", _COLUMNS, _COLUMNS[:5]),
                [(provider, account, sink_id, url, etag, now) for url, etag in objects],
            )
