"""A first pass over a pushed pack, before dulwich inflates it: every bound checked on the stream.

dulwich inflates each object whole and only then compares its size with the header's claim, so a 4 MB pack of
zeros could ask for gigabytes. This pass reads the pack once with a bounded zlib window: it checks the header,
the object count, each object's declared (and, for deltas, target) size, the total inflated size, the depth of
offset-delta chains and the trailing checksum, keeping nothing but a few integers per object."""

from __future__ import annotations

import hashlib
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

COMMIT, TREE, BLOB, TAG, OFS_DELTA, REF_DELTA = 1, 2, 3, 4, 6, 7
_BLOCK = 64 * 1024


class PackRefused(Exception):
    """The pack breaks a rule or a bound; the message is shown to the pusher."""


@dataclass(frozen=True)
class PackLimits:
    max_objects: int
    max_object_size: int  # declared size of any one object, or target size of a delta
    max_inflated: int  # sum over the pack
    max_delta_depth: int = 1000
    large_blob_hint: str = ""  # appended when one object is too large (the advice to use git-lfs)


@dataclass(frozen=True)
class PackSummary:
    count: int
    inflated: int
    types: dict[int, int]  # type number → how many objects (deltas counted as deltas)


class _Reader:
    """Sequential reads over a file that also hashes what it hands out (the pack trailer is a SHA-1)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.buf = b""
        self.sha = hashlib.sha1()
        self.offset = 0

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            more = self.f.read(max(_BLOCK, n - len(self.buf)))
            if not more:
                raise PackRefused("The pack ends early")
            self.buf += more
        out, self.buf = self.buf[:n], self.buf[n:]
        self.sha.update(out)
        self.offset += n
        return out

    def byte(self) -> int:
        return self.read(1)[0]

    def chunk(self) -> bytes:
        """Whatever is available (at least one byte unless at end of file), without hashing it yet."""
        if not self.buf:
            self.buf = self.f.read(_BLOCK)
        return self.buf

    def consume(self, n: int) -> None:
        self.sha.update(self.buf[:n])
        self.buf = self.buf[n:]
        self.offset += n


def _inflate(r: _Reader, limit: int, want_head: int = 0) -> tuple[int, bytes]:
    """Inflate one zlib stream, discarding its output: (its size, its first `want_head` bytes). A stream that
    inflates past `limit` is refused before more than one block of it exists in memory."""
    d = zlib.decompressobj()
    size, head = 0, b""
    while not d.eof:
        data = r.chunk()
        if not data:
            raise PackRefused("The pack ends inside an object")
        try:
            out = d.decompress(data, _BLOCK)
            while True:
                size += len(out)
                if len(head) < want_head:
                    head += out[: want_head - len(head)]
                if size > limit:
                    raise PackRefused(f"An object inflates past {limit} bytes")
                if d.eof or not d.unconsumed_tail:
                    break
                out = d.decompress(d.unconsumed_tail, _BLOCK)
        except zlib.error:
            raise PackRefused("The pack holds corrupt compressed data") from None
        # unused_data is what follows the stream's end: the next object
        r.consume(len(data) - len(d.unused_data) if d.eof else len(data))
    return size, head


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise PackRefused("A delta has a malformed header")
        b = data[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        shift += 7
        if not b & 0x80:
            return value, pos


def scan_pack(f: BinaryIO, limits: PackLimits) -> PackSummary:
    r = _Reader(f)
    head = r.read(12)
    if head[:4] != b"PACK" or struct.unpack(">I", head[4:8])[0] not in (2, 3):
        raise PackRefused("Not a git pack")
    count = struct.unpack(">I", head[8:12])[0]
    if count > limits.max_objects:
        raise PackRefused(f"A push may carry at most {limits.max_objects} objects (this one has {count}): "
                          "push in several steps")
    depth: dict[int, int] = {}
    types: dict[int, int] = {}
    total = 0
    for _ in range(count):
        start = r.offset
        b = r.byte()
        kind, size, shift = (b >> 4) & 7, b & 0x0F, 4
        while b & 0x80:
            b = r.byte()
            size |= (b & 0x7F) << shift
            shift += 7
            if shift > 70:
                raise PackRefused("An object has a malformed header")
        if kind not in (COMMIT, TREE, BLOB, TAG, OFS_DELTA, REF_DELTA):
            raise PackRefused(f"Unknown object type {kind} in the pack")
        chain = 0
        if kind == OFS_DELTA:
            b = r.byte()
            back = b & 0x7F
            while b & 0x80:
                b = r.byte()
                back = ((back + 1) << 7) | (b & 0x7F)
                if back > start:
                    raise PackRefused("A delta names a base outside the pack")
            base = start - back
            if base not in depth:
                raise PackRefused("A delta names a base that is not an object of the pack")
            chain = depth[base] + 1
        elif kind == REF_DELTA:
            r.read(20)
            chain = 1
        if chain > limits.max_delta_depth:
            raise PackRefused(f"A delta chain is deeper than {limits.max_delta_depth}")
        depth[start] = chain
        too_large = f"An object of {size} bytes is larger than {limits.max_object_size} bytes. {limits.large_blob_hint}"
        if size > limits.max_object_size:
            raise PackRefused(too_large.strip())
        inflated, delta_head = _inflate(r, size, 20 if kind in (OFS_DELTA, REF_DELTA) else 0)
        if inflated != size:
            raise PackRefused("An object's size does not match its header")
        if kind in (OFS_DELTA, REF_DELTA):
            _base_size, pos = _varint(delta_head, 0)
            target, _ = _varint(delta_head, pos)
            if target > limits.max_object_size:
                raise PackRefused(f"An object of {target} bytes is larger than {limits.max_object_size} bytes. "
                                  f"{limits.large_blob_hint}".strip())
            total += target
        total += inflated
        if total > limits.max_inflated:
            raise PackRefused(f"The pack inflates past {limits.max_inflated} bytes: push in several steps")
        types[kind] = types.get(kind, 0) + 1
    digest = r.sha.digest()
    trailer = r.read(20)
    if trailer != digest:
        raise PackRefused("The pack's checksum does not match its content")
    if r.chunk():
        raise PackRefused("Unexpected data after the pack")
    return PackSummary(count, total, types)
