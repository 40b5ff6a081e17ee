"""Xorbs: a stream of [8-byte header][compressed chunk] records, parsed and validated as it arrives."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import lz4.frame

from hubd.xet.errors import MalformedXetObject
from hubd.xet.hashing import Node, chunk_hash

HEADER = 8
MAX_CHUNK = 131072
MAX_COMPRESSED = 262144
MAX_CHUNKS = 8192
MAX_XORB_BYTES = 64 * 1024 * 1024 + HEADER * MAX_CHUNKS + 4096
FOOTER_MAGIC = b"XETBLOB"
_ENTRY = struct.Struct("<32sII")  # chunk hash, compressed end offset (headers included), uncompressed size


@dataclass(frozen=True, slots=True)
class ChunkMeta:
    hash: bytes
    end: int  # end offset of the chunk's record in the stored chunk stream
    size: int  # uncompressed length


class XorbFormatError(ValueError):
    """Malformed chunk stream. Whose fault it is depends on where the bytes came from: an upload is the
    client's (400), a stored xorb is hubd's (5xx), so the callers translate it."""


def _lz4_bounded(body: bytes | memoryview, size: int) -> bytes:
    """Decompress one LZ4 frame that must yield exactly `size` bytes, never producing more than size + 1.

    `lz4.frame.decompress` trusts the frame: it allocates the frame's declared content size up front (a
    header declaring 1 TiB is a MemoryError) and inflates the whole frame before anyone can compare the
    result with the chunk header (a 247 KB chunk inflates to 60 MiB). The streaming decompressor with
    `max_length` stops at the bound, so a chunk costs at most its declared length + 1 byte of output plus
    lz4's own block buffer (≤ 4 MiB, the largest frame block size)."""
    try:
        info = lz4.frame.get_frame_info(body)
    except (RuntimeError, ValueError) as exc:
        raise XorbFormatError(f"Invalid LZ4 frame in xorb chunk: {exc}") from None
    if info["content_size"] and info["content_size"] != size:  # 0 means "not declared"
        raise XorbFormatError("Xorb chunk's LZ4 frame declares a length other than its header's")
    d = lz4.frame.LZ4FrameDecompressor()
    try:
        raw = d.decompress(body, max_length=size + 1)
        if len(raw) == size and not d.eof and not d.needs_input:
            raw += d.decompress(b"", max_length=1)  # the end mark may still be unread at exactly `size`
    except RuntimeError as exc:
        raise XorbFormatError(f"Invalid LZ4 data in xorb chunk: {exc}") from None
    if len(raw) != size or not d.eof:
        raise XorbFormatError("Xorb chunk length does not match its header")
    if d.unused_data:
        raise XorbFormatError("Xorb chunk has bytes after its LZ4 frame")
    return raw


def decompress(scheme: int, body: bytes | memoryview, size: int) -> bytes | memoryview:
    """One chunk's bytes; `size` (the header's length, at most MAX_CHUNK) bounds every allocation. A stored
    (scheme 0) chunk is its body itself, not a copy: hashing and sending take views."""
    if scheme == 0:
        if size > MAX_CHUNK:
            raise XorbFormatError("Xorb chunk exceeds the size limits")
        if len(body) != size:
            raise XorbFormatError("Xorb chunk length does not match its header")
        return body
    return inflate(scheme, body, size)


def inflate(scheme: int, body: bytes | memoryview, size: int) -> bytes:
    """A compressed chunk's bytes (schemes 1 and 2), bounded by `size` as `decompress`."""
    if size > MAX_CHUNK:
        raise XorbFormatError("Xorb chunk exceeds the size limits")
    if scheme not in (1, 2):
        raise XorbFormatError(f"Unknown xorb compression scheme {scheme}")
    raw = _lz4_bounded(body, size)
    if scheme == 2:  # byte grouping: the 4 byte lanes were stored one after the other
        n = len(raw)
        q, r = divmod(n, 4)
        out = bytearray(n)
        off = 0
        for g in range(4):
            sz = q + (1 if g < r else 0)
            out[g::4] = raw[off:off + sz]
            off += sz
        raw = bytes(out)
    if len(raw) != size:
        raise XorbFormatError("Xorb chunk length does not match its header")
    return raw


def parse_header(h: bytes | memoryview) -> tuple[int, int, int]:
    """(compressed length, scheme, uncompressed length) of a chunk record header."""
    if len(h) != HEADER:
        raise XorbFormatError("Xorb chunk header is truncated")
    if h[0] != 0:
        raise XorbFormatError(f"Unsupported xorb chunk version {h[0]}")
    clen = int.from_bytes(h[1:4], "little")
    ulen = int.from_bytes(h[5:8], "little")
    if clen > MAX_COMPRESSED or ulen > MAX_CHUNK:
        raise XorbFormatError("Xorb chunk exceeds the size limits")
    if h[4] not in (0, 1, 2):
        raise XorbFormatError(f"Unknown xorb compression scheme {h[4]}")
    if h[4] == 0 and clen != ulen:
        raise XorbFormatError("Uncompressed xorb chunk length does not match its header")
    return clen, h[4], ulen


class XorbParser:
    """Feed the upload in pieces; complete chunk records are checked, hashed and handed to `sink`."""

    def __init__(self, sink) -> None:
        self.sink = sink
        self.buf = bytearray()
        self.offset = 0
        self.chunks: list[ChunkMeta] = []
        self.in_footer = False
        self.total = 0

    def feed(self, data: bytes) -> None:
        """Parse what is complete; the stored stream gets the whole block at once (one write, no copies).
        The bytes come from a client, so a malformed stream is its fault: 400."""
        try:
            self._feed(data)
        except XorbFormatError as exc:
            raise MalformedXetObject(str(exc)) from None

    def _feed(self, data: bytes) -> None:
        self.total += len(data)
        if self.total > MAX_XORB_BYTES:
            raise MalformedXetObject("Xorb is larger than 64 MiB")
        if self.in_footer:
            return  # a footer is derived data: the stored form is rebuilt from the chunks
        view = memoryview(data)
        pos = 0
        if self.buf:  # complete the record cut by the previous block; the rest of this block is not copied
            pos = self._complete(view)
            if pos < 0:
                return
        first = pos
        while len(view) - pos >= HEADER:
            if view[pos:pos + 7] == FOOTER_MAGIC:
                self.in_footer = True
                break
            clen, scheme, ulen = parse_header(view[pos:pos + HEADER])
            if len(view) - pos < HEADER + clen:
                break
            self._chunk(view[pos + HEADER:pos + HEADER + clen], scheme, ulen)
            pos += HEADER + clen
        if pos > first:
            self.sink(view[first:pos])  # the block's whole records in one write
        if not self.in_footer and pos < len(view):
            self.buf.extend(view[pos:])

    def _complete(self, view: memoryview) -> int:
        """Feed the head of `view` to the record pending in `buf`; where the block's own records start, or -1
        when the block ended first (it is then all in `buf`)."""
        buf = self.buf
        if len(buf) < HEADER:
            take = min(HEADER - len(buf), len(view))
            buf.extend(view[:take])
            if len(buf) < HEADER:
                return -1
            if bytes(buf[:7]) == FOOTER_MAGIC:
                self.in_footer = True
                buf.clear()
                return -1
            view = view[take:]
            used = take
        else:
            used = 0
        clen, scheme, ulen = parse_header(bytes(buf[:HEADER]))
        take = min(HEADER + clen - len(buf), len(view))
        buf.extend(view[:take])
        used += take
        if len(buf) < HEADER + clen:
            return -1
        record = bytes(buf)
        buf.clear()
        self._chunk(memoryview(record)[HEADER:], scheme, ulen)
        self.sink(record)
        return used

    def _chunk(self, body: memoryview, scheme: int, ulen: int) -> None:
        """One whole record's body: decompressed (bounded) and hashed (blake3 releases the GIL)."""
        raw = decompress(scheme, body, ulen)
        self.offset += HEADER + len(body)
        self.chunks.append(ChunkMeta(chunk_hash(raw), self.offset, ulen))
        if len(self.chunks) > MAX_CHUNKS:
            raise MalformedXetObject(f"Xorb has more than {MAX_CHUNKS} chunks")

    def finish(self) -> list[ChunkMeta]:
        if self.buf:
            raise MalformedXetObject("Xorb is truncated")
        if not self.chunks:
            raise MalformedXetObject("Xorb has no chunks")
        return self.chunks

    def nodes(self) -> list[Node]:
        return [(c.hash, c.size) for c in self.chunks]


def pack_index(chunks: list[ChunkMeta]) -> bytes:
    return b"".join(_ENTRY.pack(c.hash, c.end, c.size) for c in chunks)


def unpack_index(data: bytes) -> tuple[ChunkMeta, ...]:
    return tuple(ChunkMeta(h, end, size) for h, end, size in _ENTRY.iter_unpack(data))


class XorbIndex:
    """A xorb's chunk index kept as its stored bytes (40 per chunk) and decoded on access.

    As a tuple of ChunkMeta an 8,192-chunk index is ~1.2 MiB of Python objects; packed it is 320 KiB, and a
    walk over a term decodes only the chunks it covers, one at a time."""

    __slots__ = ("data", "n")

    def __init__(self, data: bytes) -> None:
        if len(data) % _ENTRY.size:
            raise XorbFormatError("Xorb index length is not a whole number of entries")
        self.data = data
        self.n = len(data) // _ENTRY.size

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> ChunkMeta:
        if not -self.n <= i < self.n:
            raise IndexError(i)
        return ChunkMeta(*_ENTRY.unpack_from(self.data, (i % self.n) * _ENTRY.size))

    def __iter__(self):
        for h, end, size in _ENTRY.iter_unpack(self.data):
            yield ChunkMeta(h, end, size)

    def entries(self, start: int, end: int):
        """(hash, end offset, size) of chunks [start, end), decoded one at a time."""
        return _ENTRY.iter_unpack(memoryview(self.data)[start * _ENTRY.size:end * _ENTRY.size])

    def unpacked(self, start: int, end: int) -> int:
        """Uncompressed bytes of chunks [start, end)."""
        return sum(size for _, _, size in self.entries(start, end))

    def end(self, i: int) -> int:
        """End offset of chunk i's record in the stored chunk stream."""
        return int(_ENTRY.unpack_from(self.data, i * _ENTRY.size)[1])


def walk_records(blocks: Iterable[bytes | memoryview]) -> Iterator[tuple[int, int, memoryview]]:
    """(scheme, uncompressed length, body) of each record of a stored chunk stream read in blocks that start
    at a record boundary. Bodies are views into the blocks, not copies; only a record cut by a block edge is
    copied (once, alone). A view is valid as long as the caller keeps it."""
    pending = bytearray()
    for data in blocks:
        view = memoryview(data)
        pos = 0
        if pending:
            if len(pending) < HEADER:
                pos = min(HEADER - len(pending), len(view))
                pending += view[:pos]
                if len(pending) < HEADER:
                    continue
            clen, scheme, ulen = parse_header(bytes(pending[:HEADER]))
            take = min(HEADER + clen - len(pending), len(view) - pos)
            pending += view[pos:pos + take]
            pos += take
            if len(pending) < HEADER + clen:
                continue
            yield scheme, ulen, memoryview(bytes(pending))[HEADER:]
            pending = bytearray()
        n = len(view)
        while n - pos >= HEADER:
            clen, scheme, ulen = parse_header(view[pos:pos + HEADER])
            if n - pos < HEADER + clen:
                break
            yield scheme, ulen, view[pos + HEADER:pos + HEADER + clen]
            pos += HEADER + clen
        if pos < n:
            pending = bytearray(view[pos:])
    if pending:
        raise XorbFormatError("Xorb chunk stream ends inside a record")
