"""The xorb and shard parsers on malformed input: every failure is a clean error, never an allocation
beyond the declared (and bounded) size."""

from __future__ import annotations

import os
import struct

import lz4.frame
import pytest

from hubd.xet.errors import MalformedXetObject
from hubd.xet.hashing import chunk_hash
from hubd.xet.reconstruction import granted_spans
from hubd.xet.shard import BOOKEND, MAX_TERMS_PER_FILE, TAG, parse_shard
from hubd.xet.xorb import MAX_CHUNK, XorbFormatError, XorbParser, decompress, parse_header


def header(clen: int, scheme: int, ulen: int, version: int = 0) -> bytes:
    return bytes([version]) + clen.to_bytes(3, "little") + bytes([scheme]) + ulen.to_bytes(3, "little")


def test_decompress_roundtrips_every_scheme() -> None:
    data = os.urandom(1000) * 50
    assert decompress(0, data, len(data)) == data
    assert decompress(1, lz4.frame.compress(data), len(data)) == data
    grouped = b"".join(data[i::4] for i in range(4))
    assert decompress(2, lz4.frame.compress(grouped), len(data)) == data
    assert decompress(1, lz4.frame.compress(data, store_size=False), len(data)) == data
    assert decompress(1, lz4.frame.compress(b""), 0) == b""


@pytest.mark.parametrize("declared", [0, 1, 65535, 65537, MAX_CHUNK])
def test_inflation_beyond_the_declared_length_is_refused(declared: int) -> None:
    bomb = lz4.frame.compress(bytes(60 * 2**20), store_size=False)  # no declared size to check up front
    with pytest.raises(XorbFormatError, match="length"):
        decompress(1, bomb, declared)


def test_declared_sizes() -> None:
    data = b"x" * 5000
    with pytest.raises(XorbFormatError, match="declares"):
        decompress(1, lz4.frame.compress(data), 4999)  # the frame's content size disagrees with the header
    c = lz4.frame.LZ4FrameCompressor()
    tib = c.begin(source_size=2**40) + c.compress(b"a" * 1000) + b"\0\0\0\0"
    with pytest.raises(XorbFormatError):
        decompress(1, tib, 1000)
    with pytest.raises(XorbFormatError, match="size limits"):
        decompress(1, lz4.frame.compress(data), MAX_CHUNK + 1)
    with pytest.raises(XorbFormatError, match="length"):
        decompress(1, lz4.frame.compress(data, store_size=False), 5001)  # shorter than declared


def test_malformed_lz4() -> None:
    frame = lz4.frame.compress(b"y" * 3000, store_size=False)
    for body in (b"", b"garbage!", frame[:-5], frame[:7]):
        with pytest.raises(XorbFormatError):
            decompress(1, body, 3000)
    with pytest.raises(XorbFormatError, match="after"):
        decompress(1, frame + b"trailing", 3000)
    with pytest.raises(XorbFormatError, match="scheme"):
        decompress(3, b"abc", 3)


def test_parse_header_bounds() -> None:
    assert parse_header(header(10, 1, 20)) == (10, 1, 20)
    for bad in (header(10, 0, 11), header(10, 3, 10), header(10, 1, 20, version=1),
                header(262145, 1, 10), header(10, 1, MAX_CHUNK + 1), b"\0" * 5):
        with pytest.raises(XorbFormatError):
            parse_header(bad)


def test_xorb_parser_on_malformed_streams() -> None:
    data = os.urandom(3000)
    good = header(len(data), 0, len(data)) + data
    p = XorbParser(lambda _v: None)
    for i in range(0, len(good), 7):  # record boundaries fall anywhere in the pieces fed
        p.feed(good[i:i + 7])
    assert [c.hash for c in p.finish()] == [chunk_hash(data)]
    for body in (good[:-1], good[:5], header(10, 0, 20) + b"x" * 10, header(10, 9, 10) + b"x" * 10, b""):
        p = XorbParser(lambda _v: None)
        with pytest.raises(MalformedXetObject):
            p.feed(body)
            p.finish()
    bomb = lz4.frame.compress(bytes(2**24), store_size=False)
    p = XorbParser(lambda _v: None)
    with pytest.raises(MalformedXetObject, match="length"):
        p.feed(header(len(bomb), 1, 1000) + bomb)


def _shard(*records: bytes) -> bytes:
    return struct.pack("<32sQQ", TAG, 2, 0) + b"".join(records)


def test_shard_parser_on_malformed_input() -> None:
    fh = os.urandom(32)
    term = struct.pack("<32sIIII", os.urandom(32), 0, 100, 0, 1)
    verification = os.urandom(32) + bytes(16)
    ok = _shard(struct.pack("<32sII8x", fh, 0x80000000, 1), term, verification, BOOKEND, BOOKEND)
    files, xorbs = parse_shard(ok)
    assert len(files) == 1 and files[0].range_hashes and xorbs == []
    bad = [
        b"", ok[:47], ok[:-10], b"garbage" * 10,
        struct.pack("<32sQQ", TAG, 3, 0) + ok[48:],  # version
        _shard(struct.pack("<32sII8x", fh, 0x80000000, 1000), term, verification, BOOKEND),  # count > records
        _shard(struct.pack("<32sII8x", fh, 0x80000000, 0xFFFFFFFF), BOOKEND),  # huge count
        _shard(struct.pack("<32sII8x", fh, 0xC0000000, 1), term, verification),  # metadata ext missing
        _shard(struct.pack("<32sII8x", fh, 0x80000000, 1), struct.pack("<32sIIII", os.urandom(32), 0, 1, 5, 5),
               verification, BOOKEND, BOOKEND),  # empty chunk range
        _shard(BOOKEND, struct.pack("<32sIIII", os.urandom(32), 0, 10**6, 0, 0), BOOKEND),  # xorb count > records
    ]
    for data in bad:
        with pytest.raises(MalformedXetObject):
            parse_shard(data)


def test_shard_term_count_is_capped() -> None:
    n = MAX_TERMS_PER_FILE + 1
    term = struct.pack("<32sIIII", os.urandom(32), 0, 100, 0, 1)
    data = _shard(struct.pack("<32sII8x", os.urandom(32), 0, n), term * n, BOOKEND, BOOKEND)
    with pytest.raises(MalformedXetObject, match="terms"):
        parse_shard(data)


def test_granted_spans_merge() -> None:
    assert granted_spans("0-9") == [(0, 9)]
    assert granted_spans("20-29,0-9,10-15,14-18") == [(0, 18), (20, 29)]
    assert granted_spans("5-5,7-7") == [(5, 5), (7, 7)]
