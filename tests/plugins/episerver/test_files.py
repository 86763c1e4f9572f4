"""Export files (``--input``): delimiters, gzip, headers, corrupt rows, streaming, the samples.

The reader needs no credentials. A row with the wrong field count comes back
as a record with ``error``; bad values (timestamps…) fail in mapping; both name
the line, column and value. A file that cannot be read to its end (truncated
gzip, bytes that are not UTF-8) or is not an export at all (wrong delimiter,
unknown header) yields the rows before the fault and raises InputFileError.
"""

from __future__ import annotations

import gzip
import re
import tracemalloc
from pathlib import Path

import pytest

import msgevents
from msgevents import EventType, NotModelled
from msgevents_episerver import EpiserverProvider, EpiserverSettings
from msgevents_episerver.files import normalise_header

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples" / "episerver"
HEADER = "mailing_id;recipient_list_id;recipient_id;timestamp"


@pytest.fixture
def provider() -> EpiserverProvider:
    """A provider with empty settings: --input runs need no credentials."""
    return EpiserverProvider(EpiserverSettings())


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def read(provider: EpiserverProvider, path: Path) -> list[msgevents.Record]:
    return [record for batch in provider.read_input(path) for record in batch]


def outcome(provider: EpiserverProvider, record: msgevents.Record) -> str:
    """What the core would do with a record: an event type, not-modelled, or quarantine."""
    if record.error:
        return "quarantined"
    try:
        result = provider.map_record(record)
    except msgevents.MappingError:
        return "quarantined"
    if isinstance(result, NotModelled):
        return "not modelled"
    (event,) = result
    return event.event.value


def test_semicolon_file_with_header(provider, tmp_path):
    path = write(tmp_path / "opens_20241104.csv", f"{HEADER}\n304405;987654;jane@example.com;1730716800123\n"
                 "304405;987654;100234;1730716801000\n")  # fmt: skip

    records = read(provider, path)

    assert [r.data for r in records] == [
        {"mailing_id": "304405", "recipient_list_id": "987654", "recipient_id": "jane@example.com",
         "timestamp": "1730716800123"},
        {"mailing_id": "304405", "recipient_list_id": "987654", "recipient_id": "100234",
         "timestamp": "1730716801000"},
    ]  # fmt: skip
    assert [r.source for r in records] == ["opens_20241104.csv:2", "opens_20241104.csv:3"]
    assert {r.stream for r in records} == {"opens"}
    assert [outcome(provider, r) for r in records] == ["Message Viewed"] * 2


@pytest.mark.parametrize("header", ["Campaign ID", "campaignId", "_smart_campaign_id"])
def test_a_campaign_column_in_a_file_never_becomes_the_campaign_id(provider, tmp_path, header):
    """campaign_id is the mailing id (CAMPAIGN_ID=mailing), whatever extra columns a file holds."""
    path = write(tmp_path / "unsubscribes_20241104.csv", f"{HEADER};{header}\n"
                 "304405;987654;jane@example.com;1730716800123;777\n"
                 "0;987654;joe@example.com;1730716801000;778\n")  # fmt: skip

    events = [e for r in read(provider, path) for e in provider.map_record(r)]

    assert [(e.message_id, e.campaign_id) for e in events] == [("304405", "304405"), (None, None)]


def test_a_header_with_other_names_is_recognised_not_read_as_data(provider, tmp_path):
    """Any known column name or alias makes line 1 a header: the rows are read by its names."""
    path = write(tmp_path / "opens_20241104.csv", "Recipient,Mailing,List,Created\n"
                 "jane@example.com,304405,987654,1730716800123\n")  # fmt: skip

    records = read(provider, path)

    assert len(records) == 1
    (event,) = provider.map_record(records[0])
    assert (event.email, event.message_id) == ("jane@example.com", "304405")


def test_a_header_without_a_required_column_is_a_file_error(provider, tmp_path):
    path = write(tmp_path / "opens_20241104.csv", "Email,Created\njane@example.com,1730716800123\n")

    with pytest.raises(msgevents.InputFileError, match=r"no column.*mailing_id"):
        read(provider, path)


def test_comma_file_with_quoted_fields(provider, tmp_path):
    text = (
        "mailing_id,recipient_list_id,recipient_id,timestamp,link_id,link_url\n"
        '304405,987654,jane@example.com,1730716800123,11,"https://shop.example.com/?a=1,b=2"\n'
    )
    path = write(tmp_path / "clicks_20241104.csv", text)

    (record,) = read(provider, path)
    (event,) = provider.map_record(record)

    assert event.url == "https://shop.example.com/?a=1,b=2"
    assert event.event is EventType.CLICKED


def test_gzipped_file(provider, tmp_path):
    path = tmp_path / "responses_20241104.csv.gz"
    rows = "".join(f"304405;987654;user{n}@example.com;17307168{n:05d};hardbounce\n" for n in range(5))
    path.write_bytes(gzip.compress(f"{HEADER};category\n{rows}".encode()))

    records = read(provider, path)

    assert [r.data["recipient_id"] for r in records] == [f"user{n}@example.com" for n in range(5)]
    assert {outcome(provider, r) for r in records} == {"Message hard_bounced"}


def test_header_spellings_are_normalised(provider, tmp_path):
    """camelCase, spaces, a BOM and 'created' name the same columns."""
    text = "\ufeffMailingId;Recipient List ID;recipientId;created\n304405;987654;100234;1730716800123\n"
    (record,) = read(provider, write(tmp_path / "unsubscribes-nov.csv", text))

    assert record.data == {"mailing_id": "304405", "recipient_list_id": "987654",
                           "recipient_id": "100234", "timestamp": "1730716800123"}  # fmt: skip
    assert normalise_header(" Link-URL ") == "link_url"


def test_file_without_header_uses_the_column_setting(tmp_path):
    """No header line: the stream's COLUMNS_* layout applies and line 1 is data."""
    provider = EpiserverProvider(EpiserverSettings(columns_opens="recipient_id,mailing_id,timestamp"))
    path = write(
        tmp_path / "opens.csv", "jane@example.com;304405;1730716800123\n100234;304406;1730716801000\n"
    )

    records = read(provider, path)

    assert [r.source for r in records] == ["opens.csv:1", "opens.csv:2"]
    assert records[1].data == {"recipient_id": "100234", "mailing_id": "304406", "timestamp": "1730716801000"}
    assert [e.message_id for r in records for e in provider.map_record(r)] == ["304405", "304406"]


def test_corrupt_rows_are_flagged_and_the_rest_is_read(provider, tmp_path):
    """Wrong field count → records with an error naming the line; the rows after are read."""
    path = tmp_path / "opens_20241104.csv"
    path.write_bytes(
        (HEADER + "\n").encode()
        + b"304405;987654;a@example.com;1730716800000\n"
        + b"304405;987654;b@example.com\n"
        + b"\n"
        + b"304405;987654;d@example.com;1730716800000;extra\n"
        + b"304405;987654;e@example.com;1730716809999\n"
    )

    records = read(provider, path)

    assert [r.source for r in records] == [f"opens_20241104.csv:{n}" for n in (2, 3, 5, 6)]
    assert [bool(r.error) for r in records] == [False, True, True, False]
    assert "3 fields where the header has 4" in records[1].error
    assert "5 fields where the header has 4" in records[2].error
    assert records[2].data == {"fields": ["304405", "987654", "d@example.com", "1730716800000", "extra"]}


def read_until_error(provider: EpiserverProvider, path: Path) -> tuple[list[msgevents.Record], str]:
    """The records yielded before the file error, and its message (fails without one)."""
    records: list[msgevents.Record] = []
    with pytest.raises(msgevents.InputFileError) as info:
        records.extend(record for batch in provider.read_input(path) for record in batch)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    return records, str(info.value)


def test_bytes_that_are_not_utf8_end_the_file_after_the_rows_before(provider, tmp_path):
    path = tmp_path / "opens_20241104.csv"
    path.write_bytes(
        (HEADER + "\n").encode()
        + b"304405;987654;a@example.com;1730716800000\n"
        + b"304405;987654;b@example.com;1730716800001\n"
        + b"304405;987654;c\xe9@example.com;1730716800000\n"
        + b"304405;987654;e@example.com;1730716809999\n"
    )

    records, message = read_until_error(provider, path)

    assert [r.data["recipient_id"] for r in records] == ["a@example.com", "b@example.com"]
    assert "not UTF-8" in message
    assert "0xe9" in message
    assert "line 4" in message


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # tab-separated with a header: the header is one cell no column name matches
        (HEADER.replace(";", "\t") + "\n304405\t987654\ta@example.com\t1730716800000\n",
         "none of the columns of its header"),
        # pipes without a header: no row has the layout's four fields
        ("".join(f"304405|987654|u{n}@example.com|17307168000{n:02d}\n" for n in range(20)),
         "wrong delimiter"),
        # a known header, rows with another delimiter
        (HEADER + "\n" + "".join(f"304405,987654,u{n}@example.com,17307168000{n:02d}\n" for n in range(3)),
         "wrong delimiter"),
        # a header of unknown names
        ("MID;List;Rcpt;When\n304405;987654;a@example.com;1730716800000\n",
         "none of the columns of its header"),
    ],
)  # fmt: skip
def test_a_file_that_is_not_an_export_is_a_file_error_without_rows(provider, tmp_path, text, reason):
    path = write(tmp_path / "opens_20241104.csv", text)

    records, message = read_until_error(provider, path)

    assert records == []  # nothing of it scattered into quarantine row by row
    assert reason in message


def test_bad_values_fail_in_mapping_naming_column_and_value(provider, tmp_path):
    path = write(tmp_path / "recipients_1.csv", f"{HEADER}\n304405;987654;a@example.com;04.11.2024 10:00\n")

    (record,) = read(provider, path)

    assert record.error is None
    with pytest.raises(msgevents.MappingError, match=r"column timestamp: .*'04.11.2024 10:00'"):
        provider.map_record(record)


def test_truncated_gzip_keeps_the_rows_before_the_damage(provider, tmp_path):
    rows = "".join(f"304405;987654;user{n}@example.com;{1730716800000 + n}\n" for n in range(3000))
    whole = gzip.compress(f"{HEADER}\n{rows}".encode())
    path = tmp_path / "opens_cut.csv.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])

    good, message = read_until_error(provider, path)

    assert "truncated" in message
    assert 1000 <= len(good) < 3000  # whole batches and the part batch before the damage
    assert all(r.error is None for r in good)
    assert [r.data["recipient_id"] for r in good] == [f"user{n}@example.com" for n in range(len(good))]


@pytest.mark.parametrize("name", ["bounces_20241104.csv", "20241104_opens.csv", "openings.csv"])
def test_unknown_prefix_is_a_config_error_naming_the_file(provider, tmp_path, name):
    path = write(tmp_path / name, f"{HEADER}\n")

    with pytest.raises(msgevents.ConfigError, match=re.escape(name)) as info:
        read(provider, path)
    assert "recipients, opens, clicks, responses, unsubscribes" in str(info.value)


def test_missing_file_is_a_config_error(provider, tmp_path):
    with pytest.raises(msgevents.ConfigError, match=r"opens_missing\.csv"):
        provider.read_input(tmp_path / "opens_missing.csv")


def test_file_that_is_not_gzip_is_a_file_error(provider, tmp_path):
    path = write(tmp_path / "opens_1.csv.gz", f"{HEADER}\n")

    records, message = read_until_error(provider, path)

    assert records == []
    assert "opens_1.csv.gz" in message


def test_header_without_a_required_column_is_a_file_error(provider, tmp_path):
    path = write(tmp_path / "responses_1.csv", f"{HEADER}\n304405;987654;a@example.com;1730716800000\n")

    with pytest.raises(msgevents.InputFileError, match=r"responses_1\.csv.*no column\(s\) category"):
        read(provider, path)


def test_empty_file_yields_nothing(provider, tmp_path):
    assert read(provider, write(tmp_path / "opens_empty.csv", "")) == []


def _peak_while_reading(provider: EpiserverProvider, path: Path, rows: int) -> tuple[int, list[int]]:
    with path.open("w") as out:
        out.write(HEADER + "\n")
        for n in range(rows):
            out.write(f"3044{n % 7:02d};987654;someone.{n}@example.com;{1730716800000 + n}\n")
    tracemalloc.start()
    try:
        sizes = [len(batch) for batch in provider.read_input(path)]
        return tracemalloc.get_traced_memory()[1], sizes
    finally:
        tracemalloc.stop()


def test_large_files_stream_in_batches_with_flat_memory(provider, tmp_path):
    """Batches of 1000; a file six times larger needs no more memory to read."""
    small, small_sizes = _peak_while_reading(provider, tmp_path / "recipients_small.csv", 5_000)
    large, large_sizes = _peak_while_reading(provider, tmp_path / "recipients_large.csv", 30_000)

    assert small_sizes == [1000] * 5
    assert large_sizes == [1000] * 30
    assert large < small * 1.25


def test_sample_files_collect_as_the_demo_expects(provider):
    """The five example files: every stream present, the corrupt rows quarantined, no more."""
    names = ["recipients_20241104.csv", "opens_20241104.csv", "clicks_20241104.csv.gz",
             "responses_20241104.csv", "unsubscribes_20241104.csv"]  # fmt: skip
    outcomes: dict[str, list[str]] = {}
    for name in names:
        outcomes[name] = [outcome(provider, r) for r in read(provider, EXAMPLES / name)]

    assert set(outcomes["recipients_20241104.csv"]) == {"Message Sent"}
    assert outcomes["opens_20241104.csv"].count("quarantined") == 2
    assert set(outcomes["opens_20241104.csv"]) == {"Message Viewed", "quarantined"}
    assert set(outcomes["clicks_20241104.csv.gz"]) == {"Message Clicked"}
    assert set(outcomes["responses_20241104.csv"]) == {
        "Message hard_bounced", "Message soft_bounced", "not modelled"}  # fmt: skip
    assert set(outcomes["unsubscribes_20241104.csv"]) == {"Message Unsubscribed"}
    assert all(len(rows) >= 12 for rows in outcomes.values())
    delimiters = {
        name: (EXAMPLES / name).read_text().splitlines()[0][10] for name in names if name.endswith(".csv")
    }
    assert set(delimiters.values()) == {";", ","}
    assert (EXAMPLES / "clicks_20241104.csv.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_sample_identities_mix_emails_and_customer_ids(provider):
    events = [e for r in read(provider, EXAMPLES / "recipients_20241104.csv") for e in provider.map_record(r)]

    emails = {e.email for e in events if e.email}
    assert emails
    assert all(email.endswith("@example.com") for email in emails)
    assert any(e.user_id and e.user_id.isdigit() for e in events)
