"""The JSON reader's bulk paths (msgevents.json_values.bulk) and their seams with the general scanner.

Whole JSON Lines lines and glued objects are read many at a time; anything unusual (a bad
line, a value after blanks, a pretty-printed value, a long number, a value cut by the end of
a chunk) goes the general way and back. These tests mix all of them in one file, read it in
chunks of many sizes (so that every seam falls everywhere) and compare every value and every
location with what the text says.
"""

from __future__ import annotations

import io
import json
import re
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from msgevents.errors import InputFileError
from msgevents.inputs import InputText, InvalidJson, iter_json_values
from msgevents.json_values import cursor
from msgevents.json_values.cursor import long_number_in

CHUNKS = [1, 2, 3, 7, 16, 61, 1 << 16]


def read(text: str, chunk: int, name: str = "in.jsonl") -> list[tuple[object, str]]:
    with mock.patch.object(cursor, "CHUNK", chunk):
        return list(iter_json_values(InputText(io.BytesIO(text.encode()), name), name))


scalars = (
    st.none()
    | st.booleans()
    | st.integers()  # unbounded: beyond 64 bits too
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet='ab1234567890"\\{}ä\u2028 ', max_size=25)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)
objects = st.dictionaries(st.text(alphabet='ab{}"1ä', max_size=4), values, max_size=4)
KINDS = ["line", "line", "line", "crlf", "indented", "pretty", "glued", "blank", "bad"]


def compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def render(parts: list[tuple[str, dict, dict]]) -> tuple[str, list[tuple[object, str]]]:
    """The text of ``parts`` and the ``(value, location)`` items a reader must give back."""
    text: list[str] = []
    expected: list[tuple[object, str]] = []
    line = 1
    for kind, first, second in parts:
        if kind == "blank":
            text.append(" \t\r\n")
        elif kind == "bad":
            text.append("this is not json\n")
            expected.append((InvalidJson, f"f:{line}"))
        elif kind == "indented":
            text.append("  " + compact(first) + "\n")
            expected.append((first, f"f:{line}:3"))
        elif kind == "pretty":
            body = json.dumps(first, indent=1, ensure_ascii=False)
            text.append(body + "\n")
            expected.append((first, f"f:{line}"))
            line += body.count("\n")
        elif kind == "glued":
            text.append(compact(first) + compact(second) + compact(first) + "\n")
            expected.append((first, f"f:{line}"))
            expected.append((second, f"f:{line}:{len(compact(first)) + 1}"))
            expected.append((first, f"f:{line}:{len(compact(first)) + len(compact(second)) + 1}"))
        else:
            text.append(compact(first) + ("\r\n" if kind == "crlf" else "\n"))
            expected.append((first, f"f:{line}"))
        line += 1
    return "".join(text), expected


@st.composite
def layouts(draw: st.DrawFn) -> list[tuple[str, dict, dict]]:
    parts = draw(st.lists(st.tuples(st.sampled_from(KINDS), objects, objects), min_size=1, max_size=12))
    # a good line first; after a bad line a whole line (only such a value proves the reader is
    # between values again; test_inputs.py covers what happens otherwise)
    fixed = [("line", parts[0][1], parts[0][2])]
    for kind, first, second in parts[1:]:
        fixed.append((kind, first, second))
        if kind == "bad":
            fixed.append(("line", second, first))
    return fixed


def same(got: list[tuple[object, str]], expected: list[tuple[object, str]]) -> None:
    assert [location for _value, location in got] == [location for _value, location in expected]
    for (value, _), (want, _) in zip(got, expected, strict=True):
        if want is InvalidJson:
            assert isinstance(value, InvalidJson)
            assert value.text == "this is not json"
        else:
            assert value == want
            assert json.dumps(value) == json.dumps(want)  # 1 stays 1, not 1.0; big integers exact


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=layouts(), chunk=st.sampled_from(CHUNKS))
def test_mixed_layouts_give_every_value_at_its_place_across_every_seam(parts, chunk):
    text, expected = render(parts)
    same(read(text, chunk, "f"), expected)


@pytest.mark.parametrize("chunk", CHUNKS)
def test_json_lines_around_a_long_number_and_a_bad_line(chunk):
    lines = [{"n": 1}, {"id": 2**70}, {"s": "12345678901234567890123"}, {"id": -(2**64)}, {"n": 2}]
    head, tail = (("\n".join(json.dumps(v) for v in part)) for part in (lines[:3], lines[3:]))
    text = head + "\n{nope\n" + tail
    got = read(text, chunk)
    assert [loc for _v, loc in got] == [f"in.jsonl:{n}" for n in range(1, 7)]
    assert [v for v, _l in got if not isinstance(v, InvalidJson)] == lines
    assert isinstance(got[3][0], InvalidJson)
    assert type(got[1][0]["id"]) is int


@pytest.mark.parametrize("chunk", CHUNKS)
def test_glued_objects_across_seams_with_long_numbers_and_cuts_inside_strings(chunk):
    objects = [{"a": 1}, {"id": 10**20}, {"s": "}{", "t": "x}{y"}, {"b": [1, {"c": "}"}]}, {"n": "ä" * 5}]
    text = "".join(compact(v) for v in objects) * 3
    got = read(text, chunk)
    assert [v for v, _l in got] == objects * 3
    columns = [1]
    for v in (objects * 3)[:-1]:
        columns.append(columns[-1] + len(compact(v)))
    assert [loc for _v, loc in got] == ["in.jsonl:1"] + [f"in.jsonl:1:{c}" for c in columns[1:]]


@pytest.mark.parametrize("chunk", CHUNKS)
def test_a_json_lines_file_cut_inside_its_last_line_is_a_file_error_after_every_line_before(chunk):
    text = "".join(json.dumps({"n": n}) + "\n" for n in range(20)) + '{"n": "cut'
    out: list[tuple[object, str]] = []
    with mock.patch.object(cursor, "CHUNK", chunk), pytest.raises(InputFileError, match="ends inside"):
        out.extend(iter_json_values(InputText(io.BytesIO(text.encode()), "cut.jsonl"), "cut.jsonl"))
    assert [v for v, _l in out] == [{"n": n} for n in range(20)]


def test_a_last_line_without_a_line_break_and_a_byte_order_mark():
    text = "\ufeff" + '{"a": 1}\r\n\r\n{"b": "ü"}'
    assert read(text, 1 << 16) == [({"a": 1}, "in.jsonl:1"), ({"b": "ü"}, "in.jsonl:3")]


@pytest.mark.parametrize(
    ("text", "long"),
    [
        ('{"a": 12345678901234567890}', True),
        ("[-1234567890123456789012]", True),
        ('{"a": "12345678901234567890"}', False),
        ('{"a": "x\\"12345678901234567890"}', False),  # an escaped quote does not end the string
        ('{"a": "\\\\", "b": 12345678901234567890}', True),  # an escaped backslash does not escape
        ('{"a": 1234567890123456789.5}', True),  # harmless, but the standard decoder is never wrong
        ('{"a": 123456789012345678}', False),
    ],
)
def test_a_long_number_is_told_from_digits_inside_strings(text, long):
    json.loads(text)  # each is valid JSON, as the check requires
    assert long_number_in(text) is long


digit_runs = st.text(alphabet="0123456789", min_size=15, max_size=25)
wide_text = st.text(alphabet='äß€\U00010000a"', max_size=4)


@settings(max_examples=80, deadline=None)
@given(
    text=st.lists(digit_runs | wide_text, max_size=8).map("".join),
    cuts=st.lists(st.integers(0, 120), max_size=5),
)
def test_digit_runs_are_found_in_character_offsets_whatever_the_text_and_its_seams(text, cuts):
    """Runs of 19+ ASCII digits, found per chunk in the UTF-8 bytes, are named by character
    offsets (the text may hold characters of 1 to 4 bytes), also when a chunk seam cuts one."""
    runs = cursor.DigitRuns()
    buf = ""
    for cut in [*sorted(c for c in cuts if c <= len(text)), len(text)]:
        if cut > len(buf):
            new = len(buf)
            buf = text[:cut]
            runs.add(buf, new, 0)
    for start in runs.starts:
        assert text[start : start + cursor.LONG_RUN].isdigit()
    for match in re.finditer(r"[0-9]{19,}", text):
        assert runs.within(match.start(), match.end())


def test_a_big_integer_after_wide_characters_is_exact():
    head = {"name": "Jürgen €𐀀 " * 50}
    lines = [head, {"id": 2**80, "city": "München"}, head, {"n": [-(10**30)]}]
    text = "".join(json.dumps(v, ensure_ascii=False) + "\n" for v in lines)
    for chunk in CHUNKS:
        assert [v for v, _l in read(text, chunk)] == lines


@pytest.mark.parametrize(
    "value",
    [{"n": -(2**63) - 1}, [2**64, "12345678901234567890"], {"s": "12345678901234567890", "f": 1.5}, 7],
)
def test_exact_loads_keeps_big_integers_from_bytes_and_text(value):
    from msgevents.json_values import exact_loads

    text = json.dumps(value)
    for data in (text, text.encode()):
        loaded = exact_loads(data)
        assert loaded == value
        assert json.dumps(loaded) == text
    with pytest.raises(ValueError):
        exact_loads(b"{nope")
