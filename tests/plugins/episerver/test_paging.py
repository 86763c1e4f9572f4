"""``offset_pages``: the one paginator of the plugin's offset/limit lists."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from msgevents_episerver.paging import offset_pages


def lister(total: int, calls: list[tuple[int, int]]):
    def fetch(offset: int, limit: int) -> list[int]:
        calls.append((offset, limit))
        return list(range(offset, min(offset + limit, total)))

    return fetch


@settings(max_examples=50, deadline=None)
@given(total=st.integers(0, 60), page_size=st.integers(1, 13), start=st.integers(0, 5))
def test_every_element_once_in_order_and_a_short_page_ends_it(total, page_size, start):
    calls: list[tuple[int, int]] = []
    pages = list(offset_pages(lister(total, calls), page_size, start))
    assert [x for _offset, page in pages for x in page] == list(range(start, max(start, total)))
    assert [offset for offset, _page in pages] == [offset for offset, _limit in calls]
    assert all(limit == page_size for _offset, limit in calls)
    assert len(pages[-1][1]) < page_size  # the last page read was short (possibly empty)
    assert all(len(page) == page_size for _offset, page in pages[:-1])


def test_stopping_early_reads_no_further_page():
    calls: list[tuple[int, int]] = []
    for _offset, _page in offset_pages(lister(100, calls), 10):
        break
    assert calls == [(0, 10)]


def test_a_page_size_below_one_is_refused():
    with pytest.raises(ValueError, match="page_size"):
        next(offset_pages(lambda offset, limit: [], 0))
