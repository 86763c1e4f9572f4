"""Property-based tests (hypothesis): bad input never crashes the Episerver mapping or file reader.

The mapper gets random, truncated, oversized and wrongly typed rows under every
setting that changes how a row is read; each one either maps to valid events,
is not modelled, or is refused with ``MappingError`` / ``ValidationError``
(what the core quarantines, with the reason). Anything else would end the run
as a plugin bug.

The file reader gets random bytes, gzips cut short, files in other encodings,
oversized fields and random rows: it yields records (a row it cannot read has
``error`` set: quarantined) and either reaches the end of the file or raises
``InputFileError`` (a file error naming the file), never anything else.

Examples are bounded (``max_examples`` below) so the whole suite stays fast.
"""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from msgevents import Event, InputFileError, MappingError, NotModelled, Record
from msgevents.formats import api_event, feed_object
from msgevents_episerver import EpiserverProvider, EpiserverSettings
from msgevents_episerver.mapping import CAMPAIGN_KEY
from msgevents_episerver.settings import COLUMN_NAMES, DEFAULT_COLUMNS, STREAMS

EXAMPLES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILE_EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# -- strategies -------------------------------------------------------------------------------------

_OVERSIZED = st.sampled_from([5_000, 50_000]).flatmap(
    lambda n: st.sampled_from(["9", "x", "@", " ", "é"]).map(lambda c: c * n)
)
#: What a closed-loop cell may hold: real-looking values, their near misses, junk, huge values.
cell = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"\A-?[0-9]{1,25}\Z"),  # ids and epoch times, too long ones included
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:?[0-9]{2})?\Z"),
    st.from_regex(r"\A[a-z0-9.+-]{1,12}@[a-z0-9-]{1,12}\.[a-z]{2,6}\Z"),
    st.sampled_from(["²", "١٢٣", "1730716800123²", "", " ", "0", "NaN", "1e3"]),
    st.sampled_from(["hardbounce", "softbounce", "HardBounce ", "autoresponder"]),
    st.sampled_from(["https://shop.example.com/a?b=1", "javascript:x", "\x00", "\ufeff", "\u2028"]),
    _OVERSIZED,
)
#: Wrongly typed values, as a JSON element (REST) may carry them.
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=5,
)
row_data = st.dictionaries(
    st.sampled_from(sorted(COLUMN_NAMES | {"x_extra", CAMPAIGN_KEY})), cell, max_size=len(COLUMN_NAMES) + 2
)
rest_data = st.fixed_dictionaries(
    {},
    optional={
        "recipientId": json_value | cell,
        "created": json_value | cell,
        "mailingId": json_value | cell,
        "recipientListId": json_value,
        "reason": json_value,
        CAMPAIGN_KEY: json_value,
    },
)
setting_variants = st.fixed_dictionaries(
    {
        "identity": st.sampled_from(["auto", "user_id", "email"]),
        "timestamp_format": st.sampled_from(
            ["epoch_millis", "epoch_seconds", "iso8601", "%Y-%m-%d %H:%M:%S"]
        ),
        "campaign_id": st.sampled_from(["mailing", "smart_campaign"]),
        "message_type": st.sampled_from([None, "Newsletter"]),
    }
)


def provider_with(variant: dict) -> EpiserverProvider:
    return EpiserverProvider(EpiserverSettings(client_id="123456", **variant))


# -- the property every record must have ------------------------------------------------------------


def assert_quarantined_or_valid(provider: EpiserverProvider, record: Record) -> list[Event]:
    """Map ``record``: a refusal the core quarantines (with a reason), NotModelled, or valid events."""
    try:
        result = provider.map_record(record)
    except (MappingError, ValidationError) as exc:
        reason = str(exc)
        result = None
    if result is None:
        assert reason.strip(), "a quarantine reason must say something"
        return []
    if isinstance(result, NotModelled):
        assert result.native_type
        return []
    assert isinstance(result, list)
    assert result, "an empty list would drop the record silently"
    for event in result:
        assert isinstance(event, Event)
        assert event.event in provider.supported_events
        assert event.provider == "episerver"
        assert event.account == "123456"
        assert event.timestamp.tzinfo is UTC
        assert event.user_id or event.email
        assert event.event_id
        assert event.message_id is None or (event.message_id.isascii() and event.message_id.isdigit())
        orjson.dumps(api_event(event))  # what the sinks write can be written
        orjson.dumps(feed_object(event))
    again = provider.map_record(record)
    assert [e.event_id for e in again] == [e.event_id for e in result]  # pure and deterministic
    return result


# -- the mapper -----------------------------------------------------------------------------------


@EXAMPLES
@given(variant=setting_variants, stream=st.sampled_from(STREAMS), data=row_data)
def test_any_closed_loop_row_is_quarantined_with_a_reason_or_maps_to_valid_events(variant, stream, data):
    assert_quarantined_or_valid(provider_with(variant), Record(stream, data, f"{stream}_x.csv:2"))


@EXAMPLES
@given(variant=setting_variants, stream=st.sampled_from(STREAMS), data=row_data, cut=st.integers(0, 5))
def test_a_row_cut_short_is_quarantined_or_valid(variant, stream, data, cut):
    """Truncated rows: the last columns missing, the last cell cut in the middle."""
    columns = DEFAULT_COLUMNS[stream]
    kept = {name: data.get(name, "1") for name in columns[: max(0, len(columns) - cut)]}
    if kept:
        last = list(kept)[-1]
        kept[last] = kept[last][: len(kept[last]) // 2]
    assert_quarantined_or_valid(provider_with(variant), Record(stream, kept, "cut"))


@EXAMPLES
@given(variant=setting_variants, data=rest_data)
def test_any_rest_unsubscribe_element_is_quarantined_with_a_reason_or_maps(variant, data):
    assert_quarantined_or_valid(provider_with(variant), Record("unsubscribes", data, "GET /unsubscribes"))


@EXAMPLES
@given(
    variant=setting_variants,
    stream=st.sampled_from(STREAMS),
    data=st.dictionaries(st.sampled_from(sorted(COLUMN_NAMES)), json_value, max_size=7),
)
def test_wrongly_typed_row_values_are_quarantined_or_valid(variant, stream, data):
    """Rows hold text; a plugin or processor handing over numbers, lists or None must not crash."""
    assert_quarantined_or_valid(provider_with(variant), Record(stream, data, "typed"))


@EXAMPLES
@given(
    stream=st.sampled_from(STREAMS),
    mailing=st.integers(1, 10**9),
    recipient=st.from_regex(r"\A([a-z0-9.+-]{1,12}@[a-z0-9-]{1,12}\.[a-z]{2,6}|[A-Za-z0-9-]{1,20})\Z"),
    millis=st.integers(631_152_000_000, 4_102_444_800_000),  # 1990 .. 2100, the plausible range
    category=st.sampled_from(["hardbounce", "softbounce"]),
)
def test_a_well_formed_row_maps_to_one_event_with_its_values(stream, mailing, recipient, millis, category):
    data = {"mailing_id": str(mailing), "recipient_list_id": "1", "recipient_id": recipient,
            "timestamp": str(millis), "link_id": "7", "link_url": "", "category": category}  # fmt: skip
    provider = provider_with({})
    events = assert_quarantined_or_valid(provider, Record(stream, data, "ok"))
    assert len(events) == 1
    (event,) = events
    assert event.timestamp == datetime.fromtimestamp(millis / 1000, UTC).replace(
        microsecond=(millis % 1000) * 1000
    )
    assert event.message_id == str(mailing)
    assert (event.email or event.user_id) == recipient.strip()


# -- the defects these properties found, as examples ------------------------------------------------


def _refusal(record: Record) -> str:
    with pytest.raises(MappingError) as refused:
        provider_with({}).map_record(record)
    return str(refused.value)


def test_a_timestamp_of_ten_thousand_digits_is_quarantined_not_a_plugin_crash():
    """int() refuses strings over 4300 digits with ValueError: it was a plugin error (exit 5)."""
    data = {"mailing_id": "1", "recipient_id": "a@example.com", "timestamp": "9" * 10_000}
    assert _refusal(Record("opens", data, "x")).startswith("column timestamp:")


@pytest.mark.parametrize(("column", "value"), [("timestamp", "1730716800123²"), ("mailing_id", "١٢٣")])
def test_digits_other_than_ascii_are_not_ids_or_times(column, value):
    """str.isdigit() is true for '²' and Arabic-Indic digits; int('²') raised ValueError."""
    data = {"mailing_id": "1", "recipient_id": "a@example.com", "timestamp": "1730716800123", column: value}
    assert _refusal(Record("opens", data, "x")).startswith(f"column {column}:")


def test_row_values_that_are_not_text_are_quarantined_naming_the_column():
    data = {"mailing_id": "1", "recipient_id": True, "timestamp": 1730716800123}
    reason = _refusal(Record("recipients", data, "x"))
    assert "recipient_id (bool True)" in reason
    assert reason.endswith("not text")


# -- the file reader ----------------------------------------------------------------------------------

HEADER = ("mailing_id", "recipient_list_id", "recipient_id", "timestamp")


def valid_rows(count: int, recipient: str = "user{n}@example.com") -> list[tuple[str, ...]]:
    return [("304405", "987654", recipient.format(n=n), str(1730716800000 + n)) for n in range(count)]


def csv_text(header: tuple[str, ...] | None, rows: list[tuple[str, ...]], delimiter: str = ";") -> str:
    lines = [delimiter.join(header)] if header else []
    lines += [delimiter.join(row) for row in rows]
    return "\n".join(lines) + "\n"


def read_all(path: Path) -> tuple[list[Record], InputFileError | None]:
    """Every record ``read_input`` yields, and the file error that ended the file (if one did)."""
    provider = provider_with({})
    records: list[Record] = []
    try:
        for batch in provider.read_input(path):
            records.extend(batch)
    except InputFileError as exc:
        return records, exc
    return records, None


def assert_every_record_quarantined_or_valid(records: list[Record]) -> None:
    provider = provider_with({})
    for record in records:
        if record.error is not None:
            assert record.error.strip()
            assert record.source  # file:line, shown with the quarantined record
        else:
            assert_quarantined_or_valid(provider, record)


def assert_names_the_file(error: InputFileError, path: Path) -> None:
    assert str(path) in str(error)


@FILE_EXAMPLES
@given(content=st.binary(max_size=3000), gz=st.booleans())
def test_random_bytes_are_rows_or_a_file_error_never_a_crash(tmp_path_factory, content, gz):
    path = tmp_path_factory.mktemp("bytes") / ("opens_random.csv.gz" if gz else "opens_random.csv")
    path.write_bytes(content)
    records, error = read_all(path)
    if error is not None:
        assert_names_the_file(error, path)
    assert_every_record_quarantined_or_valid(records)


cell_text = st.one_of(st.text(max_size=12), st.sampled_from(['"', '""', "a;b", "x\ny", "\r", "304405"]))


@FILE_EXAMPLES
@given(
    header=st.one_of(
        st.none(), st.just(HEADER), st.lists(st.sampled_from([*HEADER, "x_a", "junk"]), max_size=6)
    ),
    rows=st.lists(st.lists(cell_text, max_size=6), max_size=30),
    delimiter=st.sampled_from([";", ",", "\t", "|"]),
    stream=st.sampled_from(STREAMS),
)
def test_random_rows_are_each_quarantined_or_valid_or_the_file_is_a_file_error(
    tmp_path_factory, header, rows, delimiter, stream
):
    path = tmp_path_factory.mktemp("rows") / f"{stream}_random.csv"
    text = csv_text(tuple(header) if header is not None else None, [tuple(r) for r in rows], delimiter)
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    records, error = read_all(path)
    if error is not None:
        assert_names_the_file(error, path)
    assert_every_record_quarantined_or_valid(records)


@FILE_EXAMPLES
@given(count=st.integers(1, 3000), fraction=st.floats(0.0, 0.999))
def test_a_gzip_cut_short_is_a_file_error_after_a_prefix_of_its_rows(tmp_path_factory, count, fraction):
    """Cut anywhere after its first byte (an empty file reads as an empty file, not as a gzip)."""
    whole = gzip.compress(csv_text(HEADER, valid_rows(count)).encode())
    path = tmp_path_factory.mktemp("cut") / "recipients_cut.csv.gz"
    path.write_bytes(whole[: max(1, int(len(whole) * fraction))])
    records, error = read_all(path)
    assert error is not None, "a gzip without its end must not pass for a whole file"
    assert_names_the_file(error, path)
    expected = [dict(zip(HEADER, row, strict=True)) for row in valid_rows(count)]
    assert [r.data for r in records] == expected[: len(records)]  # what was read, nothing invented
    assert all(r.error is None for r in records)  # the unread rest is not quarantined line by line


@FILE_EXAMPLES
@given(
    count=st.integers(1, 50),
    bad_at=st.integers(0, 49),
    encoding=st.sampled_from(["latin-1", "cp1252", "utf-16"]),
    name=st.sampled_from(["müller", "søren", "zoë"]),
)
def test_a_file_in_another_encoding_is_a_file_error_naming_it(
    tmp_path_factory, count, bad_at, encoding, name
):
    rows = valid_rows(count)
    index = min(bad_at, count - 1)
    rows[index] = (*rows[index][:2], f"{name}@example.com", rows[index][3])
    path = tmp_path_factory.mktemp("enc") / "opens_encoded.csv"
    path.write_bytes(csv_text(HEADER, rows).encode(encoding))
    records, error = read_all(path)
    assert error is not None
    assert_names_the_file(error, path)
    assert len(records) <= index  # nothing from the undecodable line on
    assert_every_record_quarantined_or_valid(records)


@FILE_EXAMPLES
@given(count=st.integers(2, 40), big_at=st.integers(0, 39), size=st.sampled_from([131_073, 400_000]))
def test_an_oversized_field_is_one_quarantined_row_and_the_rest_is_read(
    tmp_path_factory, count, big_at, size
):
    rows = valid_rows(count)
    index = min(big_at, count - 1)
    rows[index] = (*rows[index][:2], "x" * size, rows[index][3])
    path = tmp_path_factory.mktemp("big") / "clicks_big.csv"
    header = (*HEADER, "link_id", "link_url")
    path.write_text(csv_text(header, [(*row, "7", "https://example.com/") for row in rows]))
    records, error = read_all(path)
    assert error is None
    assert len(records) == count
    assert [r.error is not None for r in records] == [i == index for i in range(count)]
    assert_every_record_quarantined_or_valid(records)


def test_a_first_line_that_is_not_csv_is_a_file_error_not_a_plugin_crash(tmp_path):
    """A lone carriage return in line 1 made csv raise while the header was read (a plugin error)."""
    path = tmp_path / "opens_cr.csv"
    path.write_bytes(b"\r;\n" + csv_text(None, valid_rows(2)).encode())
    records, error = read_all(path)
    assert records == []
    assert error is not None
    assert_names_the_file(error, path)


def test_a_first_data_line_that_is_not_csv_is_quarantined_and_the_rest_read(tmp_path):
    path = tmp_path / "opens_cr.csv"
    path.write_bytes(b"304405;1\r;x;1730716800000\n" + csv_text(None, valid_rows(3)).encode())
    records, error = read_all(path)
    assert error is None
    assert [r.error is not None for r in records] == [True, False, False, False]
    assert records[0].source == "opens_cr.csv:1"


# -- whole runs -------------------------------------------------------------------------------------


files = st.lists(
    st.tuples(
        st.sampled_from(STREAMS),
        st.one_of(
            st.binary(max_size=400),
            st.lists(st.lists(cell_text, min_size=4, max_size=5), max_size=8).map(
                lambda rows: csv_text(HEADER, [tuple(r) for r in rows]).encode("utf-8", "surrogatepass")
            ),
            st.integers(1, 30).map(lambda n: csv_text(HEADER, valid_rows(n)).encode()),
        ),
        st.booleans(),
    ),
    min_size=1,
    max_size=3,
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(inputs=files)
def test_a_run_over_any_files_ends_done_or_incomplete_never_crashed(tmp_path_factory, inputs):
    """Exit 0, or 4 with each broken file reported; never a plugin error (5) or a crash (1)."""
    from msgevents.pipeline import CollectOptions, Collector
    from msgevents.sinks.jsonl import JsonlSink

    work = tmp_path_factory.mktemp("run")
    paths = []
    for number, (stream, content, gz) in enumerate(inputs):
        path = work / f"{stream}_{number}.csv{'.gz' if gz else ''}"
        path.write_bytes(gzip.compress(content) if gz else content)
        paths.append(path)
    options = CollectOptions(state_path=work / "state" / "state.db", inputs=paths)
    report = Collector(provider_with({}), JsonlSink(str(work / "events.jsonl")), options).run()

    assert report.exit_code in (0, 4), report.summary()
    assert (report.exit_code == 4) == bool(report.file_errors), report.summary()
    assert {item["file"] for item in report.file_errors} <= {str(p) for p in paths}
    assert report.contract_violations == 0
    quarantine = Path(report.quarantine_file).read_text() if report.quarantine_file else ""
    assert "plugin error" not in quarantine
    delivered = (work / "events.jsonl").read_text().splitlines() if (work / "events.jsonl").exists() else []
    assert len(delivered) == report.total("delivered")
