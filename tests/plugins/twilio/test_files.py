"""Reading Twilio status-callback dumps: JSON Lines (parameters or raw bodies), arrays, gzip,
bad lines, batches.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import msgevents
from msgevents_twilio import TwilioProvider, TwilioSettings
from msgevents_twilio.provider import BATCH_SIZE

from .samples import STATUSES, as_body, callback


@pytest.fixture
def provider() -> TwilioProvider:
    return TwilioProvider(TwilioSettings(_env_file=None))


def read(provider: TwilioProvider, path: Path) -> list[msgevents.Record]:
    return [record for batch in provider.read_input(path) for record in batch]


def jsonl(values) -> str:
    return "".join(json.dumps(v) + "\n" for v in values)


CALLBACKS = [callback(status) for status in STATUSES]


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("form", ["parameters", "bodies", "array"])
def test_dump_forms(provider, tmp_path, gzipped, form):
    values = [as_body(c) for c in CALLBACKS] if form == "bodies" else CALLBACKS
    text = json.dumps(values) if form == "array" else jsonl(values)
    path = tmp_path / ("dump.jsonl.gz" if gzipped else "dump.jsonl")
    path.write_bytes(gzip.compress(text.encode()) if gzipped else text.encode())
    records = read(provider, path)
    assert [r.data for r in records] == values
    assert all(r.error is None and r.stream == "callbacks" for r in records)
    assert len({r.source for r in records}) == len(records)


def test_bad_lines_and_non_objects_are_quarantined_the_rest_read(provider, tmp_path):
    path = tmp_path / "dump.jsonl"
    good = json.dumps(callback("sent"))
    path.write_text("\n".join([good, "MessageSid=SM1&MessageStatus=sent", "17", good]) + "\n")
    records = read(provider, path)
    assert [r.error is None for r in records] == [True, False, False, True]
    assert "not a status callback" in records[2].error


def test_batches(provider, tmp_path):
    path = tmp_path / "many.jsonl"
    path.write_text(jsonl([callback("sent")] * (BATCH_SIZE + 1)))
    assert [len(b) for b in provider.read_input(path)] == [BATCH_SIZE, 1]


_value = st.text(max_size=10) | st.integers() | st.none()
_dumps = st.lists(st.dictionaries(st.text(min_size=1, max_size=8), _value, max_size=5), max_size=6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=_dumps, gzipped=st.booleans())
def test_reading_gives_back_the_objects_written(provider, tmp_path, values, gzipped):
    text = jsonl(values)
    path = tmp_path / ("p.jsonl.gz" if gzipped else "p.jsonl")
    path.write_bytes(gzip.compress(text.encode()) if gzipped else text.encode())
    assert [r.data for r in read(provider, path)] == values


def test_a_truncated_gzip_is_a_file_error_after_what_could_be_read(provider, tmp_path):
    from msgevents import InputFileError

    data = gzip.compress(jsonl([callback("delivered")] * 4000).encode())
    path = tmp_path / "dump.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    batches = provider.read_input(path)
    first = next(batches)
    assert first
    assert all(r.error is None for r in first)
    with pytest.raises(InputFileError, match=r"dump\.jsonl\.gz"):
        list(batches)
