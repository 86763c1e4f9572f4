"""One paginator for Optimizely's offset/limit lists (closed-loop exports, REST lists)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

__all__ = ["offset_pages"]

T = TypeVar("T")


def offset_pages(
    fetch: Callable[[int, int], Sequence[T]], page_size: int, start: int = 0
) -> Iterator[tuple[int, Sequence[T]]]:
    """``(offset of its first element, elements)`` of each page ``fetch(offset, limit)`` returns,
    from ``start`` on, the next page at the offset after the last element read, until a
    page shorter than ``page_size`` (the last one). Stop iterating to read no further.
    """
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, not {page_size}")
    offset = start
    while True:
        page = fetch(offset, page_size)
        yield offset, page
        if len(page) < page_size:
            return
        offset += len(page)
