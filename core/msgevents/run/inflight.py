"""What was handed to the sink and not yet acknowledged, by key and by origin."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from msgevents.run.origins import Origin
from msgevents.sink import Receipt

__all__ = ["InFlight"]


class InFlight:
    """Keys in flight (deduplication skips them) and how many per origin (positions wait for them)."""

    def __init__(self) -> None:
        self.keys: set[bytes] = set()
        self.per_origin: Counter[Origin] = Counter()

    def add(self, origin: Origin, keys: Sequence[bytes]) -> None:
        self.keys.update(keys)
        self.per_origin[origin] += len(keys)

    def settle(self, receipts: Iterable[Receipt]) -> None:
        """Receipts came back (delivered, rejected or failed): no longer in flight."""
        by_origin: Counter[Origin] = Counter()
        keys = []
        for receipt in receipts:
            by_origin[receipt.tag] += 1
            keys.append(receipt.key)
        self.keys.difference_update(keys)
        self.per_origin.subtract(by_origin)

    def holds(self, origin: Origin) -> bool:
        return self.per_origin[origin] > 0

    def drop(self, origin: Origin, keys: Sequence[bytes]) -> None:
        """Keys of ``origin`` no longer in flight without a receipt (deferred, settled elsewhere)."""
        self.keys.difference_update(keys)
        self.per_origin[origin] -= len(keys)
