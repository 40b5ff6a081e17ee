"""Shards: the file reconstructions and xorb chunk lists a client uploads, parsed with bounded counts."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from hubd.hub.errors import BadRequest
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


@dataclass
class ShardFile:
    file_hash: bytes
    terms: list[Term]
    range_hashes: list[bytes] | None
    sha256: str | None


@dataclass
class ShardXorb:
    hash: bytes
    chunks: list[tuple[bytes, int]]  # (chunk hash, unpacked size)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def record(self) -> bytes:
        if self.pos + RECORD > len(self.data):
            raise BadRequest("Shard is truncated")
        rec = self.data[self.pos:self.pos + RECORD]
        self.pos += RECORD
        return rec

    def check_count(self, n: int, per: int) -> None:
        if n * per * RECORD > len(self.data) - self.pos:
            raise BadRequest("Shard declares more entries than it holds")


def parse_shard(data: bytes) -> tuple[list[ShardFile], list[ShardXorb]]:
    if len(data) > MAX_SHARD_BYTES:
        raise BadRequest("Shard is larger than 64 MiB")
    r = _Reader(data)
    tag, version, _footer_size = _HEAD.unpack(r.record())
    if tag != TAG or version != 2:
        raise BadRequest("Not a version 2 shard")
    files: list[ShardFile] = []
    while (rec := r.record()) != BOOKEND:
        fhash, flags, n = _FILE_HEAD.unpack(rec)
        if n > MAX_TERMS_PER_FILE:
            raise BadRequest(f"Shard file entry has more than {MAX_TERMS_PER_FILE} terms")
        r.check_count(n, 1 + bool(flags & FLAG_VERIFICATION))
        terms = []
        for _ in range(n):
            xh, _cas_flags, size, start, end = _TERM.unpack(r.record())
            if not start < end:
                raise BadRequest("Shard term has an empty chunk range")
            terms.append(Term(xh, start, end, size))
        hashes = [r.record()[:32] for _ in range(n)] if flags & FLAG_VERIFICATION else None
        sha256 = xet_hex(r.record()[:32]) if flags & FLAG_METADATA_EXT else None
        files.append(ShardFile(fhash, terms, hashes, sha256))
    xorbs: list[ShardXorb] = []
    while r.pos < len(data) and (rec := r.record()) != BOOKEND:
        xh, _flags, n, _num_bytes, _on_disk = _XORB_HEAD.unpack(rec)
        r.check_count(n, 1)
        chunks = []
        for _ in range(n):
            ch, _start, size, _cflags, _unused = _CHUNK.unpack(r.record())
            chunks.append((ch, size))
        xorbs.append(ShardXorb(xh, chunks))
    return files, xorbs
