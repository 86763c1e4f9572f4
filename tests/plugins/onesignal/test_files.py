"""Reading dumps of Event Streams bodies (``--input``): JSON Lines, a JSON array, concatenated
values, gzip; bad lines quarantined, broken files a file error after what came before.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import msgevents
from msgevents import InputFileError, NotModelled
from msgevents_onesignal import OneSignalProvider, OneSignalSettings

from .samples import body, grouped, nested

BODIES = [body("message.push.sent", **{"event.id": f"0b6f1c8e-4a51-4c59-9d0a-{n:012d}"}) for n in range(1, 6)]


@pytest.fixture
def provider() -> OneSignalProvider:
    return OneSignalProvider(OneSignalSettings(_env_file=None))


def read(provider: OneSignalProvider, path: Path) -> list[msgevents.Record]:
    return [record for batch in provider.read_input(path) for record in batch]


def write(path: Path, text: str, gzipped: bool) -> Path:
    path.write_bytes(gzip.compress(text.encode()) if gzipped else text.encode())
    return path


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("form", ["lines", "array", "concatenated"])
def test_dump_forms(provider, tmp_path, gzipped, form):
    values = [BODIES[0], grouped(BODIES[1]), nested(BODIES[2])]
    text = {
        "lines": "".join(json.dumps(v) + "\n" for v in values),
        "array": json.dumps(values, indent=1),
        "concatenated": "".join(json.dumps(v) for v in values),
    }[form]
    path = write(tmp_path / ("dump.json" + (".gz" if gzipped else "")), text, gzipped)
    records = read(provider, path)
    assert [r.data for r in records] == values
    assert all(r.error is None and r.stream == "events" for r in records)
    ids = [provider.map_record(r)[0].event_id for r in records]
    assert ids == [b["event.id"] for b in BODIES[:3]]


def test_bad_lines_are_records_with_errors_and_the_rest_is_read(provider, tmp_path):
    lines = [json.dumps(BODIES[0]), "{cut off", "[1, 2]", json.dumps(BODIES[1])]
    records = read(provider, write(tmp_path / "d.jsonl", "\n".join(lines) + "\n", False))
    assert [r.error is None for r in records] == [True, False, False, True]
    assert "not JSON" in records[1].error
    assert "not a OneSignal Event Streams body" in records[2].error
    assert records[1].source.endswith("d.jsonl:2")


def test_a_truncated_gzip_is_a_file_error_after_the_records_before(provider, tmp_path):
    text = "".join(json.dumps(b) + "\n" for b in BODIES * 400)
    data = gzip.compress(text.encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    got = []

    def drain() -> None:
        for batch in provider.read_input(path):
            got.extend(batch)

    with pytest.raises(InputFileError, match=r"cut\.jsonl\.gz"):
        drain()
    assert 0 < len(got) < 2000
    assert all(r.error is None for r in got)


def test_a_file_that_is_not_json_at_all_is_a_file_error(provider, tmp_path):
    path = write(tmp_path / "events.csv", "event.kind,event.id\nmessage.push.sent,1\n", False)
    with pytest.raises(InputFileError):
        read(provider, path)


def test_the_sample_maps_as_its_readme_says():
    root = Path(__file__).resolve().parents[3]
    os = OneSignalProvider(OneSignalSettings(_env_file=None))
    records = read(os, root / "examples" / "onesignal" / "event-stream-20250310.jsonl")
    assert len(records) == 18
    outcomes = []
    for r in records:
        if r.error is not None:
            outcomes.append("unreadable")
            continue
        try:
            result = os.map_record(r)
        except msgevents.MappingError:
            outcomes.append("error")
            continue
        outcomes.append(result.native_type if isinstance(result, NotModelled) else result[0].event.value)
    assert outcomes.count("error") == 2
    assert outcomes.count("unreadable") == 1
    assert sorted(o for o in outcomes if o.startswith("message.")) == [
        "message.email.suppressed",
        "message.iam.impression",
    ]
    assert outcomes.count("Message hard_bounced") == 2
    assert outcomes.count("Message soft_bounced") == 1


def test_stored_requests_are_read_by_their_raw_body_and_their_headers_dropped(provider, tmp_path):
    """A receiver that keeps requests verbatim: {"received_at", "headers", "body": "<raw JSON>"}."""
    secret = "Bearer stream-secret-9d8c7b6a"
    stored = [
        {"received_at": "2025-03-10T09:00:01Z", "headers": {"authorization": secret}, "body": json.dumps(b)}
        for b in (BODIES[0], grouped(BODIES[1]), [BODIES[2], BODIES[3]])
    ]
    stored.append({"headers": {"authorization": secret}, "body": "{cut"})
    path = write(tmp_path / "requests.jsonl", "".join(json.dumps(s) + "\n" for s in stored), False)
    records = read(provider, path)
    assert [r.data for r in records[:4]] == [BODIES[0], grouped(BODIES[1]), BODIES[2], BODIES[3]]
    assert [r.source.rsplit(" ", 1)[-1] for r in records[:4]] == ["body", "body", "body[0]", "body[1]"]
    assert records[4].error.startswith("body is not JSON")
    assert records[4].data == {"body": "{cut"}
    assert all(secret not in json.dumps(r.data) for r in records)
    events = [provider.map_record(r)[0] for r in records[:4]]
    assert [e.event_id for e in events] == [b["event.id"] for b in BODIES[:4]]


def test_a_body_with_a_body_field_of_its_own_is_still_a_body(provider, tmp_path):
    data = {**BODIES[0], "body": "the push text"}
    records = read(provider, write(tmp_path / "d.jsonl", json.dumps(data) + "\n", False))
    assert [r.data for r in records] == [data]
