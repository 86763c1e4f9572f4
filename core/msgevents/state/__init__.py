"""The state store: one SQLite file holding positions, the delivery ledger, the outbox and runs.

- **positions** (:mod:`.positions`): per (provider, account, stream, sink) the end of
  the last live window whose events were all acknowledged;
- **ledger** (:mod:`.ledger`): keys of acknowledged (or rejected-for-good) events per
  sink, so nothing is sent twice; rows of a feed file stay tied to that file
  until it is known to be renamed into place;
- **feed_files** (:mod:`.journal`): files written and fsynced but not yet known to be renamed;
- **outbox** (:mod:`.outbox`): mapped events a sink did not acknowledge, sent first next run;
- **runs** (:mod:`.runs`): one report per run;
- **quarantined** (:mod:`.quarantine_keys`): bad records already written to quarantine.

:mod:`.db` opens the file (directory and file owner-only), migrates its schema
and runs transactions; :class:`StateStore` (:mod:`.store`) is the entry point.
"""

from __future__ import annotations

from pathlib import Path

from msgevents.sink import ledger_key
from msgevents.state.db import SCHEMA_VERSION
from msgevents.state.journal import FeedJournal
from msgevents.state.ledger import DELIVERED, REJECTED
from msgevents.state.store import StateStore

__all__ = [
    "DEFAULT_STATE_PATH",
    "DELIVERED",
    "REJECTED",
    "SCHEMA_VERSION",
    "FeedJournal",
    "StateStore",
    "ledger_key",
]

DEFAULT_STATE_PATH = Path(".msgevents") / "state.db"
