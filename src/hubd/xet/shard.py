"""Shards: the file reconstructions and xorb chunk lists a client uploads, parsed with bounded counts."""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from hubd.xet.errors import MalformedXetObject
from hubd.xet.hashing import xet_hex

TAG = b"HFRepoMetaData\0" + bytes([85, 105, 103, 69, 106, 123, 129, 87, 131, 165, 189, 217, 92, 205, 209, 74, 169])
RECORD = 48
BOOKEND = b"\xff" * 32 + b"\0" * 16
MAX_SHARD_BYTES = 64 * 1024 * 1024 + 1024 * 1024
# Terms of one file: each names up to a whole xorb, so the count bounds what one 96-byte entry can make
# hubd hash or rebuild (the chunk and byte totals are charged again in XetStore.add_files).
MAX_TERMS_PER_FILE = 1 << 18
FLAG_VERIFICATION = 0x80000000
FLAG_METADATA_EXT = 0x40000000
_HEAD = struct.Struct("<32sQQ")
_FILE_HEAD = struct.Struct("<32sII8x")
_TERM = struct.Struct("<32sIIII")
_XORB_HEAD = struct.Struct("<32sIIII")
_CHUNK = struct.Struct("<32sIIII")


@dataclass(frozen=True, slots=True)
class Term:
    xorb: bytes
    start: int
    end: int
    size: int  # unpacked bytes of chunks [start, end)


class ShardTerms:
    """A file entry's terms left as the shard's 48-byte records and decoded one at a time: 2^18 terms are
    12 MiB here, where a list of Term objects was ~170 bytes a term (44 MiB) held for the whole ingest."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data) // RECORD

    def __iter__(self) -> Iterator[Term]:
        for xh, _cas_flags, size, start, end in _TERM.iter_unpack(self.data):
            yield Term(xh, start, end, size)


class RangeHashes:
    """A file entry's verification hashes, one a term, left as the shard's records (the first 32 bytes of each)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data) // RECORD

    def __iter__(self) -> Iterator[bytes]:
        for at in range(0, len(self.data), RECORD):
            yield self.data[at:at + 32]


@dataclass
class ShardFile:
    file_hash: bytes
    terms: ShardTerms
    range_hashes: RangeHashes | None
    sha256: str | None


@dataclass
class ShardXorb:
    """A xorb's chunk list, left in the shard and read on demand: a 16 GiB upload lists 262,144 chunks,
    which as Python tuples would be ~40 MiB held for the whole ingest."""

    hash: bytes
    source: BinaryIO
    offset: int  # of its first chunk record
    count: int

    def chunks(self) -> Iterator[tuple[bytes, int]]:
        """(chunk hash, unpacked size) of each chunk, read from the shard a block of records at a time."""
        done = 0
        while done < self.count:
            n = min(1024, self.count - done)
            self.source.seek(self.offset + done * RECORD)
            block = self.source.read(n * RECORD)
            for ch, _start, size, _cflags, _unused in _CHUNK.iter_unpack(block):
                yield ch, size
            done += n


class _Reader:
    def __init__(self, source: BinaryIO, size: int) -> None:
        self.source = source
        self.size = size
        self.pos = 0

    def record(self) -> bytes:
        return self.records(1)

    def records(self, n: int) -> bytes:
        if self.pos + n * RECORD > self.size:
            raise MalformedXetObject("Shard is truncated")
        data = self.source.read(n * RECORD)
        if len(data) != n * RECORD:
            raise MalformedXetObject("Shard is truncated")
        self.pos += n * RECORD
        return data

    def skip(self, n: int) -> None:
        self.pos += n * RECORD
        self.source.seek(self.pos)

    def check_count(self, n: int, per: int) -> None:
        if n * per * RECORD > self.size - self.pos:
            raise MalformedXetObject("Shard declares more entries than it holds")


def parse_shard(data: bytes | bytearray | BinaryIO) -> tuple[list[ShardFile], list[ShardXorb]]:
    """Files (with their terms) and xorbs (chunk lists left in `data`) of a shard: bytes, or a seekable file
    positioned anywhere, which must stay open while the xorbs' chunks are read."""
    source: BinaryIO = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    total = source.seek(0, io.SEEK_END)
    source.seek(0)
    if total > MAX_SHARD_BYTES:
        raise MalformedXetObject("Shard is larger than 64 MiB")
    r = _Reader(source, total)
    tag, version, _footer_size = _HEAD.unpack(r.record())
    if tag != TAG or version != 2:
        raise MalformedXetObject("Not a version 2 shard")
    files: list[ShardFile] = []
    while (rec := r.record()) != BOOKEND:
        fhash, flags, n = _FILE_HEAD.unpack(rec)
        if n > MAX_TERMS_PER_FILE:
            raise MalformedXetObject(f"Shard file entry has more than {MAX_TERMS_PER_FILE} terms")
        r.check_count(n, 1 + bool(flags & FLAG_VERIFICATION))
        terms = r.records(n)
        if any(not start < end for _xh, _cas_flags, _size, start, end in _TERM.iter_unpack(terms)):
            raise MalformedXetObject("Shard term has an empty chunk range")
        hashes = RangeHashes(r.records(n)) if flags & FLAG_VERIFICATION else None
        sha256 = xet_hex(r.record()[:32]) if flags & FLAG_METADATA_EXT else None
        files.append(ShardFile(fhash, ShardTerms(terms), hashes, sha256))
    xorbs: list[ShardXorb] = []
    while r.pos < total and (rec := r.record()) != BOOKEND:
        xh, _flags, n, _num_bytes, _on_disk = _XORB_HEAD.unpack(rec)
        r.check_count(n, 1)
        xorbs.append(ShardXorb(xh, source, r.pos, n))
        r.skip(n)
    return files, xorbs
