"""The quarantine writer (``msgevents.quarantine.QuarantineWriter``).

Covers the JSON Lines entries (``kind``, ``provider``, ``account``,
``stream``, ``source``, ``reason``, ``run_at`` and ``record`` or ``event``),
lazy and owner-only file creation, the disabled writer (``--dry-run``), and
that secrets registered with :func:`msgevents.redact.add_secret` never appear
in the file, not even JSON-escaped.
"""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest

from msgevents.formats import event_from_jsonl, jsonl_object
from msgevents.quarantine import QuarantineWriter
from msgevents.redact import MASK, add_secret


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    return tmp_path / "state" / "quarantine"


def entries(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_mapping_entry_holds_the_raw_record_and_its_context(directory):
    writer = QuarantineWriter(directory, "episerver")
    record = {"recipientId": "", "timestamp": "2024-05-01 10:00:00", "n": 3, "nested": {"a": [1, None]}}
    writer.add(
        "mapping",
        "no identity: recipientId is empty",
        account="acct-1",
        stream="opens",
        source="opens.csv:17",
        record=record,
    )
    writer.close()
    [entry] = entries(writer.path)
    assert entry.pop("run_at").endswith("Z")
    assert entry == {
        "kind": "mapping",
        "provider": "episerver",
        "account": "acct-1",
        "stream": "opens",
        "source": "opens.csv:17",
        "reason": "no identity: recipientId is empty",
        "record": record,
    }
    assert writer.count == 1


def test_an_event_entry_holds_the_canonical_event(directory, make_event):
    event = make_event(email="jane@example.com", url="https://shop.example/p/1", account="acct-1")
    writer = QuarantineWriter(directory, "test")
    writer.add("rejected", '{"field":"event","type":"UNKNOWN_VALUE"}', account="acct-1", event=event)
    writer.close()
    [entry] = entries(writer.path)
    assert entry["kind"] == "rejected"
    assert entry["reason"] == '{"field":"event","type":"UNKNOWN_VALUE"}'
    assert "record" not in entry
    assert entry["event"] == jsonl_object(event)
    assert event_from_jsonl(entry["event"]) == event


def test_entries_are_appended_one_per_line(directory, make_event):
    writer = QuarantineWriter(directory, "test")
    writer.add("mapping", "bad timestamp", record={"i": 1})
    writer.add("contract", "undeclared event type", event=make_event())
    writer.add("mapping", "bad timestamp", record={"i": 3})
    writer.close()
    assert [e["kind"] for e in entries(writer.path)] == ["mapping", "contract", "mapping"]
    assert writer.count == 3


def test_the_file_is_created_lazily_owner_only_and_named_after_the_provider(directory):
    writer = QuarantineWriter(directory, "episerver")
    assert writer.path is None
    writer.close()
    assert not directory.exists()  # nothing quarantined, no file
    writer.add("mapping", "reason", record={})
    writer.close()
    assert writer.path.parent == directory
    assert re.fullmatch(r"episerver-\d{8}T\d{6}Z-\d+\.jsonl", writer.path.name)
    assert stat.S_IMODE(writer.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700


def test_a_disabled_writer_counts_but_writes_nothing(directory):
    writer = QuarantineWriter(directory, "test", enabled=False)
    writer.add("mapping", "reason", record={"a": 1})
    writer.close()
    assert writer.count == 1
    assert writer.path is None
    assert not directory.exists()


def test_values_json_cannot_hold_are_written_as_text(directory):
    writer = QuarantineWriter(directory, "test")
    writer.add("mapping", "reason", record={"path": Path("/x/y"), "raw": b"bytes".decode()})
    writer.close()
    [entry] = entries(writer.path)
    assert entry["record"] == {"path": "/x/y", "raw": "bytes"}


def test_secrets_never_appear_in_the_file(directory, make_event, secrets):
    plain = "s3cr3t-api-key-123"
    tricky = 'pa"ss\\word\twith\ncontrol'  # JSON escapes quotes, backslashes and control characters
    numeric = "98765432"
    for secret in (plain, tricky, numeric):
        add_secret(secret)
    writer = QuarantineWriter(directory, "test")
    writer.add(
        "mapping",
        f"login failed for key {plain} / {tricky}",
        source=f"https://api.example/rest/{plain}/opens",
        record={
            "password": tricky,
            plain: "a secret used as a key",
            "nested": [{"token": f"Bearer {plain}"}, tricky],
            "client_id": 98765432,
        },
    )
    writer.add("rejected", "refused", event=make_event(url=f"https://x.example/?k={plain}"))
    writer.close()
    text = writer.path.read_text()
    for secret in (plain, tricky, numeric):
        assert secret not in text
        assert json.dumps(secret)[1:-1] not in text  # not even JSON-escaped
    for entry in entries(writer.path):
        assert plain not in json.dumps(entry, ensure_ascii=False)
        assert tricky not in repr(entry)
    first, second = entries(writer.path)
    assert first["reason"] == f"login failed for key {MASK} / {MASK}"
    assert first["record"]["password"] == MASK
    assert first["record"][MASK] == "a secret used as a key"
    assert first["record"]["nested"] == [{"token": f"Bearer {MASK}"}, MASK]
    assert first["record"]["client_id"] == MASK  # a numeric secret too, and the line stays JSON
    assert second["event"]["url"] == f"https://x.example/?k={MASK}"
