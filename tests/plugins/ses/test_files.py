"""Reading SES input files: JSON Lines, Firehose objects (JSON values concatenated with or
without newlines), JSON arrays, gzip; values that are not records; streaming in bounded memory.
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import msgevents
from msgevents_ses import SesProvider, SesSettings
from msgevents_ses.provider import BATCH_SIZE

from .samples import ALL, sns

RECORDS = [ALL[name] for name in sorted(ALL)]


@pytest.fixture
def provider() -> SesProvider:
    return SesProvider(SesSettings(_env_file=None))


def read(provider: SesProvider, path: Path) -> list[msgevents.Record]:
    return [record for batch in provider.read_input(path) for record in batch]


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


LAYOUTS = {
    "jsonl": lambda values: "".join(compact(v) + "\n" for v in values),
    "firehose": lambda values: "".join(compact(v) for v in values),  # no separators at all
    "pretty": lambda values: "\n".join(json.dumps(v, indent=2) for v in values) + "\n",
    "array": lambda values: json.dumps(values),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gz"])
def test_every_layout_gives_the_same_records(provider, tmp_path, layout, gzipped):
    text = LAYOUTS[layout](RECORDS)
    path = tmp_path / ("events.json.gz" if gzipped else "events.json")
    if gzipped:
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    records = read(provider, path)
    assert [r.data for r in records] == RECORDS
    assert all(r.error is None and r.stream == "events" for r in records)
    assert all(str(path.name) in r.source for r in records)
    assert len({r.source for r in records}) == len(records)  # each record says where it was


def test_sns_dump_and_firehose_object_map_to_the_same_events(provider, tmp_path):
    firehose = tmp_path / "firehose.json"
    firehose.write_text(LAYOUTS["firehose"](RECORDS))
    dump = tmp_path / "sns.jsonl"
    dump.write_text(LAYOUTS["jsonl"]([sns(r) for r in RECORDS]))

    def events(path):
        result = []
        for record in read(provider, path):
            mapped = provider.map_record(record)
            if not isinstance(mapped, msgevents.NotModelled):
                result.extend(mapped)
        return result

    assert events(firehose) == events(dump)
    assert len(events(firehose)) >= len(RECORDS) - 3


def test_values_that_are_not_objects_are_quarantined_with_a_reason(provider, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        compact(ALL["send"]) + "\n42\n" + compact(["a", "list"]) + "\n" + compact(ALL["open"]) + "\n"
    )
    records = read(provider, path)
    good = [r for r in records if r.error is None]
    bad = [r for r in records if r.error is not None]
    assert [r.data for r in good] == [ALL["send"], ALL["open"]]
    assert bad
    assert all("not an SES record" in r.error for r in bad)


def test_records_come_in_batches(provider, tmp_path):
    path = tmp_path / "many.json"
    path.write_text(LAYOUTS["firehose"]([ALL["send"]] * (2 * BATCH_SIZE + 5)))
    sizes = [len(batch) for batch in provider.read_input(path)]
    assert sizes == [BATCH_SIZE, BATCH_SIZE, 5]


def test_an_empty_file_has_no_records(provider, tmp_path):
    path = tmp_path / "empty.json"
    path.write_text("")
    assert read(provider, path) == []


def _peak_while_reading(provider: SesProvider, path: Path, count: int) -> int:
    with gzip.open(path, "wt", encoding="utf-8") as out:
        for n in range(count):  # a Firehose object: no separators
            record = dict(ALL["delivery"])
            record["mail"] = {**record["mail"], "messageId": f"m-{n}"}
            out.write(compact(record))
    tracemalloc.start()
    try:
        for _batch in provider.read_input(path):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_firehose_object_streams_in_bounded_memory(provider, tmp_path):
    small = _peak_while_reading(provider, tmp_path / "small.json.gz", 3_000)
    large = _peak_while_reading(provider, tmp_path / "large.json.gz", 18_000)
    assert large < small * 1.3


# -- properties -----------------------------------------------------------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_records = st.lists(st.dictionaries(_text, _json, max_size=4) | st.sampled_from(RECORDS), max_size=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=_records, layout=st.sampled_from(sorted(LAYOUTS)), gzipped=st.booleans())
def test_reading_gives_back_exactly_the_objects_written(provider, tmp_path, records, layout, gzipped):
    text = LAYOUTS[layout](records)
    path = tmp_path / ("p.json.gz" if gzipped else "p.json")
    path.write_bytes(gzip.compress(text.encode()) if gzipped else text.encode())
    read_back = read(provider, path)
    assert [r.data for r in read_back] == records
    assert all(r.error is None for r in read_back)


def test_a_line_that_is_not_json_is_quarantined_and_the_rest_read(provider, tmp_path):
    path = tmp_path / "dump.jsonl"
    lines = [
        compact(sns(ALL["send"])),
        '{"Type":"Notification","Message":"cut off',
        compact(sns(ALL["open"])),
    ]
    path.write_text("\n".join(lines) + "\n")
    records = read(provider, path)
    assert [r.error is None for r in records] == [True, False, True]
    assert records[1].source.endswith(":2")
    assert records[1].data  # the bad line is kept for the quarantine entry


def test_a_truncated_gzip_is_a_file_error_after_what_could_be_read(provider, tmp_path):
    from msgevents.errors import InputFileError

    data = gzip.compress(LAYOUTS["jsonl"]([ALL["send"]] * 3000).encode())
    path = tmp_path / "cut.json.gz"
    path.write_bytes(data[: len(data) // 2])
    read_before: list[msgevents.Record] = []

    def read_all() -> None:
        for batch in provider.read_input(path):
            read_before.extend(batch)

    with pytest.raises(InputFileError, match=r"cut\.json\.gz"):
        read_all()
    assert read_before
    assert all(r.data == ALL["send"] for r in read_before)


def test_a_file_that_is_not_json_at_all_is_a_file_error(provider, tmp_path):
    from msgevents.errors import InputFileError

    path = tmp_path / "events.csv"
    path.write_text("eventType;messageId\nSend;abc\nOpen;def\n" * 20)
    with pytest.raises(InputFileError, match=r"events\.csv"):
        read(provider, path)
