"""Reading Mailgun files (--input): JSON Lines, arrays, saved pages, webhook bodies, gzip, bad lines."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgevents.pipeline import CollectOptions, Collector
from msgevents.sinks.feed import FeedSink
from msgevents_mailgun import MailgunProvider, MailgunSettings

from .test_mapping import ACCEPTED, CLICKED, COMPLAINED, DELIVERED, OPENED, TEMPORARY

ITEMS = [ACCEPTED, DELIVERED, OPENED, CLICKED, TEMPORARY, COMPLAINED]
SIGNATURE = {"timestamp": "1529692199", "token": "c0ffee" * 8, "signature": "5f" * 32}


@pytest.fixture
def provider() -> MailgunProvider:
    return MailgunProvider(MailgunSettings(_env_file=None))


def records(provider: MailgunProvider, path: Path) -> list:
    return [record for batch in provider.read_input(path) for record in batch]


def ids(provider: MailgunProvider, path: Path) -> list[str]:
    return [provider.map_record(r)[0].event_id for r in records(provider, path)]


def test_json_lines_arrays_pages_and_webhook_bodies_give_the_same_events(provider, tmp_path):
    lines = tmp_path / "items.jsonl"
    lines.write_text("".join(json.dumps(item) + "\n" for item in ITEMS))
    array = tmp_path / "items.json"
    array.write_text(json.dumps(ITEMS, indent=2))
    pages = tmp_path / "pages.jsonl"
    pages.write_text(
        json.dumps({"items": ITEMS[:4], "paging": {"next": "https://api.mailgun.net/v3/x/events/abc"}})
        + "\n"
        + json.dumps({"items": ITEMS[4:], "paging": {}})
        + "\n"
    )
    hooks = tmp_path / "hooks.jsonl.gz"
    with gzip.open(hooks, "wt") as out:
        for item in ITEMS:
            out.write(json.dumps({"signature": SIGNATURE, "event-data": item}) + "\n")
    expected = ids(provider, lines)
    assert len(expected) == len(ITEMS)
    for path in (array, pages, hooks):
        assert ids(provider, path) == expected, path.name


def test_webhook_signatures_are_dropped(provider, tmp_path):
    hooks = tmp_path / "hooks.jsonl"
    hooks.write_text(json.dumps({"signature": SIGNATURE, "event-data": DELIVERED}) + "\n")
    (record,) = records(provider, hooks)
    assert record.data == DELIVERED
    assert SIGNATURE["signature"] not in json.dumps(record.data)


def test_bad_lines_and_values_become_records_with_errors(provider, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        json.dumps(ACCEPTED)
        + "\n{broken json\n"
        + json.dumps([1, 2])
        + "\n"
        + json.dumps({"signature": SIGNATURE, "event-data": "text"})
        + "\n"
        + json.dumps(DELIVERED)
        + "\n"
    )
    got = records(provider, path)
    assert [r.error is None for r in got] == [True, False, False, False, True]
    assert "not JSON" in got[1].error
    assert "JSON list" in got[2].error
    assert "event-data is a JSON str" in got[3].error
    assert got[1].source.startswith("mixed.jsonl:2")


def test_an_input_run_quarantines_bad_lines_without_the_signature_and_delivers_the_rest(tmp_path):
    path = tmp_path / "hooks.jsonl"
    path.write_text(
        json.dumps({"signature": SIGNATURE, "event-data": DELIVERED})
        + "\n"
        + json.dumps({"signature": SIGNATURE, "event-data": {**OPENED, "timestamp": "soon"}})
        + "\n"
        + "not json at all\n"
    )
    provider = MailgunProvider(MailgunSettings(_env_file=None))
    options = CollectOptions(state_path=tmp_path / "state" / "s.db", inputs=[path])
    report = Collector(provider, FeedSink(str(tmp_path / "feeds")), options).run()
    assert report.exit_code == 0
    assert report.total("delivered") == 1
    assert report.unmapped == 2
    quarantine = Path(report.quarantine_file).read_text()
    assert "field timestamp" in quarantine
    assert "not JSON" in quarantine
    assert SIGNATURE["signature"] not in quarantine
    assert SIGNATURE["token"] not in quarantine


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            st.sampled_from([json.dumps(i) for i in ITEMS]),
            st.sampled_from([json.dumps({"signature": SIGNATURE, "event-data": i}) for i in ITEMS]),
            st.text(max_size=40).filter(lambda t: "\n" not in t and "\r" not in t),
            st.builds(
                json.dumps,
                st.recursive(
                    st.none() | st.integers() | st.text(max_size=5),
                    lambda x: (
                        st.lists(x, max_size=2)
                        | st.dictionaries(
                            st.sampled_from(["event", "items", "event-data", "x"]), x, max_size=2
                        )
                    ),
                    max_leaves=5,
                ),
            ),
        ),
        max_size=8,
    )
)
def test_reading_and_mapping_any_lines_never_crashes(tmp_path_factory, lines):
    """Any lines: records (maybe with errors) that map to events, NotModelled or mapping errors —
    or, for input that is not JSON at all, an InputFileError naming the file. Never a crash."""
    from pydantic import ValidationError

    from msgevents import MappingError, NotModelled
    from msgevents.errors import InputFileError

    path = tmp_path_factory.mktemp("in") / "any.jsonl"
    path.write_text("\n".join(lines) + "\n")
    provider = MailgunProvider(MailgunSettings(_env_file=None))
    try:
        got = records(provider, path)
    except InputFileError as exc:
        message = str(exc)
        assert "any.jsonl" in message
        return
    for record in got:
        assert isinstance(record.data, dict)
        if record.error is not None:
            continue
        try:
            result = provider.map_record(record)
        except (MappingError, ValidationError):
            continue
        assert isinstance(result, NotModelled) or len(result) == 1


def test_a_truncated_gzip_file_yields_what_was_read_then_a_file_error(provider, tmp_path):
    from msgevents.errors import InputFileError

    lines = "".join(json.dumps({**DELIVERED, "id": f"d{i}"}) + "\n" for i in range(400))
    whole = gzip.compress(lines.encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    got = []

    def read_all() -> None:
        for batch in provider.read_input(path):
            got.extend(batch)

    with pytest.raises(InputFileError, match=r"cut\.jsonl\.gz"):
        read_all()
    assert 0 < len(got) < 400
    assert all(record.error is None for record in got)
