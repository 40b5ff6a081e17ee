"""Pure parsers of client input: ranges, JSON bodies, listing cursors, error headers, settings."""

from __future__ import annotations

import base64
import json

import pytest

from hubd.api.http import _header_safe, loads, loads_object
from hubd.api.streams import parse_range
from hubd.config import load_settings
from hubd.hub.errors import BadRequest, RangeNotSatisfiable
from hubd.hub.listing import _decode_cursor, encode_cursor

HUGE = "9" * 4300


@pytest.mark.parametrize(("header", "span"), [
    (None, None), ("bytes=0-0", (0, 1)), ("bytes=-5", (17, 22)), ("bytes=21-", (21, 22)),
    (f"bytes=0-{HUGE}", (0, 22)), (f"bytes=-{HUGE}", (0, 22)), ("bytes=0000000000000000000000001-1", (1, 2)),
])
def test_ranges(header: str | None, span: tuple[int, int] | None) -> None:
    assert parse_range(header, 22) == span


@pytest.mark.parametrize("header", ["bytes=-0", "bytes=22-", f"bytes={HUGE}-", f"bytes={HUGE}-{HUGE}", "bytes=5-2"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, 22)
    assert caught.value.headers == {"Content-Range": "bytes */22"}


def test_any_suffix_of_an_empty_file_is_unsatisfiable() -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-5", 0)


@pytest.mark.parametrize("header", ["bytes=abc", "bytes=-", "bytes=0-1,3-4", "items=0-1", "bytes=1e3-"])
def test_malformed_ranges(header: str) -> None:
    with pytest.raises(BadRequest):
        parse_range(header, 22)


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 2000 + b"1" + b"}" * 2000])
def test_deep_json_is_a_400(body: bytes) -> None:
    with pytest.raises(BadRequest, match="nested too deeply"):
        loads(body)


@pytest.mark.parametrize("body", [b"{not json", b"NaN", b"1e400", b'"\\ud800"'])
def test_bad_json_is_a_400(body: bytes) -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        loads(body)


@pytest.mark.parametrize(("body", "kind"), [(b"[]", "an array"), (b'"x"', "a string"), (b"7", "a number"),
                                             (b"null", "null"), (b"true", "a boolean")])
def test_json_object_only(body: bytes, kind: str) -> None:
    with pytest.raises(BadRequest, match=kind):
        loads_object(body)
    assert loads_object(b"  ") == {} and loads_object(b'{"a": 1}') == {"a": 1}


def _cursor(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_cursors_round_trip() -> None:
    assert _decode_cursor(encode_cursor(1.5, 7)) == (1.5, 7)


@pytest.mark.parametrize("raw", [
    json.dumps([1e30, 1]).encode(), json.dumps([1, 10**30]).encode(), b"[NaN, 1]", b"[Infinity, 1]",
    b"[true, 1]", b"[1, 1.5]", b"[1, -1]", b"[1]", b'"x"', b"[" * 50 + b"]" * 50, b"\xff\xfe",
])
def test_bad_cursors(raw: bytes) -> None:
    with pytest.raises(BadRequest):
        _decode_cursor(_cursor(raw))


def test_long_cursor_is_refused_before_decoding() -> None:
    with pytest.raises(BadRequest):
        _decode_cursor("A" * 10_000)


def test_error_headers_hold_no_control_characters() -> None:
    safe = _header_safe("no\0such\r\nrev\x7f\x1b[31m \u2603")
    assert all(32 <= ord(c) < 127 or 160 <= ord(c) < 256 for c in safe), repr(safe)
    assert len(_header_safe("x" * 5000)) == 1000


def test_timeouts_are_settings() -> None:
    s = load_settings({}, env={"HUBD_IDLE_TIMEOUT": "2.5", "HUBD_MAX_CONNECTIONS": "64"})
    assert s.idle_timeout == 2.5 and s.max_connections == 64 and s.body_timeout == 30.0
    for bad in ("0", "-1", "nan", "soon"):
        with pytest.raises(ValueError, match="idle_timeout"):
            load_settings({}, env={"HUBD_IDLE_TIMEOUT": bad})
