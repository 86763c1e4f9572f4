"""Input readers (msgevents.inputs): text of plain and gzipped files, and the JSON values in it.

Examples pin the behaviour; hypothesis properties show that any list of JSON
values comes back unchanged in every layout (JSON Lines, one array, values
glued together as Firehose writes them, pretty-printed), and that damage is
either a line quarantined or a file error naming the file — never a crash,
never a value invented or lost before the fault.
"""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgevents.errors import ConfigError, IncompleteError, InputFileError
from msgevents.inputs import InputText, InvalidJson, iter_json_values, open_input


def values_of(text: str | bytes, name: str = "in.json") -> list[tuple[object, str]]:
    data = text.encode() if isinstance(text, str) else text
    return list(iter_json_values(InputText(io.BytesIO(data), name), name))


def read_all(data: bytes, name: str) -> tuple[list[tuple[object, str]], InputFileError | None]:
    """Every item up to the end or a file error, and that error (None at a clean end)."""
    out: list[tuple[object, str]] = []
    try:
        out.extend(iter_json_values(InputText(io.BytesIO(data), name), name))
    except InputFileError as exc:
        return out, exc
    return out, None


# -- open_input ------------------------------------------------------------------------------


def test_plain_and_gzipped_files_read_the_same_text(tmp_path):
    text = "\ufeffline one\nzwei: äöü\n"
    (tmp_path / "a.txt").write_bytes(text.encode())
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress(text.encode()))

    for name in ("a.txt", "a.txt.gz"):
        with open_input(tmp_path / name) as stream:
            assert list(stream) == ["line one\n", "zwei: äöü\n"]  # byte order mark dropped
            assert stream.line == 2


def test_a_truncated_gzip_hands_out_the_lines_before_then_names_the_file(tmp_path):
    lines = [f"row {n} {'x' * (n % 50)}\n" for n in range(20_000)]
    whole = gzip.compress("".join(lines).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(whole[: len(whole) // 2])

    read: list[str] = []
    with pytest.raises(InputFileError) as info, open_input(path) as stream:
        read.extend(stream)

    assert 0 < len(read) < len(lines)
    assert read == lines[: len(read)]
    assert str(path) in str(info.value)
    assert "truncated" in str(info.value)
    assert info.value.path == str(path)
    assert isinstance(info.value, IncompleteError)  # exit 4


def test_a_file_that_is_not_gzip_is_a_file_error(tmp_path):
    path = tmp_path / "plain.jsonl.gz"
    path.write_text('{"a": 1}\n')

    with pytest.raises(InputFileError, match=r"plain\.jsonl\.gz.*at its start"), open_input(path) as stream:
        stream.read()


def test_bytes_that_are_not_utf8_name_file_line_and_byte(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"ok\nalso ok\ncaf\xe9\nnever read\n")

    read: list[str] = []
    with pytest.raises(InputFileError) as info, open_input(path) as stream:
        read.extend(stream)

    assert read == ["ok\n", "also ok\n"]
    message = str(info.value)
    assert str(path) in message
    assert "not UTF-8" in message
    assert "0xe9" in message
    assert "line 3" in message


def test_a_multibyte_character_split_between_chunks_is_decoded(tmp_path):
    text = "ä" * 100_001  # 200,002 bytes: chunk borders fall inside characters
    path = tmp_path / "wide.txt"
    path.write_text(text, encoding="utf-8")

    with open_input(path) as stream:
        parts = []
        while part := stream.read(4097):
            parts.append(part)
    assert "".join(parts) == text


def test_a_missing_file_is_a_config_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=r"nowhere\.jsonl"):
        open_input(tmp_path / "nowhere.jsonl")


# -- iter_json_values: examples ------------------------------------------------------------------


def test_json_lines_with_locations():
    assert values_of('{"a": 1}\n\n{"b": 2}\r\n[3]\n') == [
        ({"a": 1}, "in.json:1"),
        ({"b": 2}, "in.json:3"),
        ([3], "in.json:4"),
    ]


def test_one_top_level_array_element_by_element():
    assert values_of('[\n {"a": 1},\n {"b": [2, 3]}\n]\n') == [
        ({"a": 1}, "in.json[0]"),
        ({"b": [2, 3]}, "in.json[1]"),
    ]
    assert values_of("[]") == []


def test_values_glued_together_as_firehose_writes_them():
    assert values_of('{"a":1}{"b":2}\n{"c":3}') == [
        ({"a": 1}, "in.json:1"),
        ({"b": 2}, "in.json:1:8"),
        ({"c": 3}, "in.json:2"),
    ]


def test_pretty_printed_values_one_after_another():
    assert values_of('{\n  "a": 1\n}\n{\n  "b": 2\n}\n') == [({"a": 1}, "in.json:1"), ({"b": 2}, "in.json:4")]


def test_a_bad_line_inside_json_lines_is_an_item_to_quarantine():
    items = values_of('{"a": 1}\nnot json at all\n{"b": 2}\n{"c": NaN}\n{"d": 4}\n')

    assert [location for _v, location in items] == [f"in.json:{n}" for n in range(1, 6)]
    bad = items[1][0]
    assert isinstance(bad, InvalidJson)
    assert bad.text == "not json at all"
    assert "line 2" in bad.reason
    assert isinstance(items[3][0], InvalidJson)
    assert [v for v, _l in items if not isinstance(v, InvalidJson)] == [{"a": 1}, {"b": 2}, {"d": 4}]


def test_bad_first_lines_followed_by_json_are_items_too():
    items = values_of('garbage\n{"a": 1}\n')
    assert isinstance(items[0][0], InvalidJson)
    assert items[1] == ({"a": 1}, "in.json:2")


def test_a_cut_pretty_value_is_a_file_error_not_a_nested_value_as_a_record():
    """Found by hypothesis: a pretty-printed value cut inside a string escape. The reader used to
    skip its first line and resynchronise inside it, yielding an element of an inner list as if
    it were a top-level value."""
    items = [
        {
            "\x9d\x10ðZ\x8f\x12é\x03": [],
            "\n\U0010de10ñ\x96\x95": [
                {"ü": None, "000¼\U00050cdd\U0009500e": 0, "00\x1f\x1f\x1f\x1f𐀀𐀀": None, "0𐀀": -10000}
            ],
            "--since": [None, None, False, ""],
            "": {
                "": None,
                "æ": {"\x05\U0007d267uÐ": 2.612223945330316e16, "¾\x9e<ÒùÖ#\r": False},
                "«\x9b": {
                    "": False,
                    "0000\x1f\x1f\x1f𐀀": 0,
                    "00\x1f\x07𐀀𐀀": None,
                    "0\x1f\x1f\x1f\x1f𐀀𐀀": None,
                },
                "\x1f\x1f\x1f𐀀": None,
            },
        }
    ]
    text = LAYOUTS["pretty"](items).encode()

    out, error = read_all(text[:673], "cut.json")

    assert [v for v, _l in out if not isinstance(v, InvalidJson)] == []
    assert isinstance(error, InputFileError)
    assert "cut.json" in str(error)


@pytest.mark.parametrize(
    "text",
    [
        '{\n "a": [\n  {\n   "b": 1\n  }\n ],\n "c": "\\ud800',  # cut in an escape
        '{"z": 0}\n{\n "a": [\n  {\n   "b": 1\n  }\n ],\n "c": "\\ud800',  # after a one-line value
        '{\n "a": [\n  {\n   "b": 1\n  }\n ] oops\n}\n{"d": 4}\n',  # damaged in its middle
        '{x\n "a": [\n  {\n   "b": 1\n  },\n  2\n ]\n}\n',  # damaged on its first line
        '{x\n "a": [\n  1,\n  2\n ]\n}\n',  # damaged on its first line, scalars inside
    ],
)
def test_no_value_is_read_from_inside_a_broken_pretty_printed_value(text):
    out, error = read_all(text.encode(), "pretty.json")

    good = [v for v, _l in out if not isinstance(v, InvalidJson)]
    assert {"b": 1} not in good
    assert 2 not in good
    assert good in ([], [{"z": 0}])
    assert isinstance(error, InputFileError)
    assert "pretty.json" in str(error)


def test_a_json_lines_line_that_opens_a_value_is_still_quarantined():
    items = values_of('{"a": 1}\n{\n{"b": 2}\n{"c": 3,\n{"d": 4}\n')

    assert [location for _v, location in items] == [f"in.json:{n}" for n in range(1, 6)]
    assert [type(v) is InvalidJson for v, _l in items] == [False, True, False, True, False]
    assert items[1][0].text == "{"
    assert items[3][0].text == '{"c": 3,'


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("mailing_id;recipient_id\n1;a\n2;b\n", "is not JSON"),  # a CSV
        ("<xml/>", "is not JSON"),
        ('{"a": 1}\n{"b": ', "ends inside a JSON value"),  # a JSON Lines file cut off
        ('{"a": 1}\n{"b": "unterminated', "ends inside a JSON value"),
        ('[{"a": 1}, {"b": 2}', "ends inside its JSON array"),  # an array cut off
        ('[{"a": 1}, {"b": 2},', "ends inside its JSON array"),
        ('[{"a": 1} {"b": 2}]', "expected ','"),
        ('[{"a": 1}, nope]', "element that is not JSON"),
        ('[{"a": 1}] trailing', "text after its JSON array"),
        ('{"a":1}{"b":2}{oops}' + '{"c":3}' * 5, "cannot be read past"),  # glued: no way to resync
    ],
)
def test_input_that_is_not_json_or_is_cut_off_is_a_file_error(text, reason):
    with pytest.raises(InputFileError, match=reason) as info:
        values_of(text, "dump.json")
    assert "dump.json" in str(info.value)


def test_eleven_bad_lines_at_the_start_make_a_file_error():
    with pytest.raises(InputFileError, match="is not JSON"):
        values_of("x\n" * 11 + '{"a": 1}\n')


def test_empty_and_blank_inputs_have_no_values():
    assert values_of("") == []
    assert values_of(" \n\n\t\n") == []


def _peak(path: Path) -> int:
    tracemalloc.start()
    try:
        with open_input(path) as stream:
            for _value in iter_json_values(stream, path.name):
                pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("layout", ["lines", "array", "glued"])
def test_memory_is_bounded_by_a_value_not_the_file(tmp_path, layout):
    """A file eight times larger needs no more memory to stream (chunks of 64 KiB)."""
    record = {"event": "delivery", "recipient": "someone@example.com", "ts": 1715000000.5, "tags": ["a", "b"]}
    one = json.dumps(record)
    sizes = {}
    for rows in (3_000, 24_000):
        path = tmp_path / f"{layout}-{rows}.json"
        body = {
            "lines": "\n".join([one] * rows),
            "array": "[" + ",".join([one] * rows) + "]",
            "glued": one * rows,
        }
        path.write_text(body[layout])
        sizes[rows] = _peak(path)
    assert sizes[24_000] < sizes[3_000] * 1.5
    assert sizes[24_000] < 2_000_000


# -- iter_json_values: properties ----------------------------------------------------------------

json_scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
records = st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=5), max_size=12)

LAYOUTS = {
    "lines": lambda items: "".join(json.dumps(v, ensure_ascii=False) + "\n" for v in items),
    "crlf-lines": lambda items: "".join(json.dumps(v) + "\r\n" for v in items),
    "array": lambda items: json.dumps(items, ensure_ascii=False),
    "pretty-array": lambda items: json.dumps(items, indent=2),
    "glued": lambda items: "".join(json.dumps(v, separators=(",", ":")) for v in items),
    "pretty": lambda items: "".join(json.dumps(v, indent=1) + "\n" for v in items),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=records, layout=st.sampled_from(sorted(LAYOUTS)))
def test_every_layout_gives_back_the_values_in_order(items, layout):
    assert [v for v, _location in values_of(LAYOUTS[layout](items))] == items


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    items=st.lists(
        st.dictionaries(st.text(max_size=8), json_values, min_size=1, max_size=4), min_size=1, max_size=10
    ),
    layout=st.sampled_from(sorted(LAYOUTS)),
    data=st.data(),
)
def test_a_cut_off_input_gives_a_prefix_then_at_most_a_file_error(items, layout, data):
    """Cut anywhere: what comes out is the values before the cut (the last one perhaps parsed
    from its complete part, e.g. a number cut short in JSON Lines), bad lines as items, or an
    InputFileError naming the file — never a crash, never a value out of order."""
    text = LAYOUTS[layout](items).encode()
    cut = data.draw(st.integers(0, len(text)))
    out, error = read_all(text[:cut], "cut.json")
    assert error is None or "cut.json" in str(error)
    good = [v for v, _location in out if not isinstance(v, InvalidJson)]
    assert good[: max(len(good) - 1, 0)] == items[: max(len(good) - 1, 0)]
    assert len(good) <= len(items)


@settings(max_examples=40, deadline=None)
@given(noise=st.binary(max_size=200))
def test_any_bytes_give_values_items_or_a_file_error(noise):
    out, error = read_all(noise, "noise.bin")
    assert error is None or "noise.bin" in str(error)
    for value, location in out:
        assert location.startswith("noise.bin")
        assert isinstance(value, InvalidJson) or json.dumps(value) is not None


@settings(max_examples=40, deadline=None)
@given(items=st.lists(st.dictionaries(st.text(max_size=5), json_scalars, max_size=3), min_size=2, max_size=8),
       junk=st.text(alphabet="abc{}[]:, xyz", min_size=1, max_size=15), data=st.data())  # fmt: skip
def test_a_bad_line_in_json_lines_is_one_item_and_the_rest_is_read(items, junk, data):
    at = data.draw(st.integers(1, len(items)))  # after at least one good line
    junk = junk.replace("\n", " ")
    text = LAYOUTS["lines"](items[:at]) + junk + "\n" + LAYOUTS["lines"](items[at:])
    try:
        out = values_of(text)
    except InputFileError:  # junk opening a value that swallows the following lines to the end
        return
    good = [v for v, _l in out if not isinstance(v, InvalidJson)]
    tail = items[at:]
    assert good[:at] == items[:at]
    if tail:
        assert good[-len(tail) :] == tail  # the lines after the bad one are all read
    assert len(good) - len(items) <= len(junk)  # junk that happens to be JSON (``[]``) is a value


def test_bytes_that_are_not_utf8_deep_in_a_large_file_come_after_every_line_before(tmp_path):
    lines = [f"line {n} ä\n".encode() for n in range(100_000)]
    lines[70_000] = b"caf\xe9\n"
    path = tmp_path / "big.csv.gz"
    path.write_bytes(gzip.compress(b"".join(lines)))

    read: list[str] = []
    with pytest.raises(InputFileError, match=r"line 70001\)") as info, open_input(path) as stream:
        read.extend(stream)

    assert len(read) == 70_000
    assert read[-1] == "line 69999 ä\n"
    assert stream.line == 70_000
    assert "0xe9" in str(info.value)


@pytest.mark.parametrize("number", [-(2**63) - 1, 2**64, 10**30, 1234567890123456789012])
def test_integers_beyond_64_bits_come_back_exact(number):
    """The JSON Lines fast path's decoder turns such integers into floats; they must not change."""
    lines = json.dumps({"id": number, "n": 1}) + "\n" + json.dumps([number]) + "\n"
    out, error = read_all(lines.encode(), "big.jsonl")
    assert error is None
    assert [value for value, _location in out] == [{"id": number, "n": 1}, [number]]


@pytest.mark.parametrize("number", [-(2**63) - 1, 2**64, 10**30])
def test_integers_beyond_64_bits_in_glued_values_come_back_exact(number):
    """Glued values take orjson too (cut at "}{"); a long integer must send its value to the
    standard decoder, wherever it sits, also when it straddles the seam between two reads."""
    head = {"pad": "x" * (65_536 - 25)}  # puts the number across the first 64 KiB read
    values = [head, {"id": number}, {"n": 1, "id": number}, {"s": "a}{b", "t": "}{"}]
    text = "".join(json.dumps(v, separators=(",", ":")) for v in values)
    assert [value for value, _location in values_of(text, "glued.json")] == values


def test_long_digit_runs_inside_strings_do_not_change_values():
    """A run of digits inside a string sends its value to the standard decoder: same values."""
    values = [{"id": "1234567890123456789012", "n": n} for n in range(3)] + [{"n": 3}]
    glued = "".join(json.dumps(v, separators=(",", ":")) for v in values)
    lines = "".join(json.dumps(v) + "\n" for v in values)
    for text in (glued, lines):
        assert [value for value, _location in values_of(text)] == values
    nonascii = [{"name": "Jürgen", "id": 10**25}, {"name": "Ä", "id": 1}]
    text = "".join(json.dumps(v, ensure_ascii=False) + "\n" for v in nonascii)
    assert [value for value, _location in values_of(text)] == nonascii
