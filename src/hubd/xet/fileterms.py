"""A Xet file's terms (the xorb chunk ranges its bytes are made of), kept packed and read by range.

A file may have 2^18 terms. As FileTerm objects that is ~185 bytes a term (47 MiB for one file), loaded whole
for every reconstruction of it, however small the range; and finding a byte offset walked the list from the
start. Stored, a file is a small header, a sparse index and fixed-size records that carry each term's byte
offset in the file, so the term holding any byte is found by a binary search that reads one block:

    header   magic "hXF1", u16 version, u16 records per block, u64 size, 32 bytes sha256, u64 term count
    index    u64 byte offset of the first term of each block of records
    records  32 bytes xorb hash (raw), u32 first chunk, u32 end chunk, u32 unpacked bytes, u64 byte offset

The files stored before this form are JSON (`{"size":…,"sha256":…,"terms":[[xorb, start, end, size], …]}`):
they are still read, whole, and held packed (see `read_stored`)."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from hubd.storage.blobstore import BlobStore, StagedBlob
from hubd.xet.errors import CorruptStoredObject
from hubd.xet.hashing import xet_unhex

MAGIC = b"hXF1"  # never "{": the first byte tells the packed form from the JSON one
VERSION = 1
HEAD = struct.Struct("<4sHHQ32sQ")
RECORD = struct.Struct("<32sIIIQ")
# A record read with its hash as four little-endian words: their hex is the hash's xet hex (xet_hex), made in
# one formatting step (3x faster than xet_hex: a file streamed whole decodes every record)
_WORDS = struct.Struct("<4QIIIQ")
OFFSET_AT = 44  # of the byte offset in a record
FIRST = struct.Struct("<Q")
# Records per block: one read of a stored file's terms (52 KiB), and one entry of its sparse index.
BLOCK_RECORDS = 1024
# Files with at most this many terms (213 KiB packed) are read whole and may be cached whole; of larger
# ones only the header and the sparse index are held (2 KiB for 2^18 terms), their records read by range.
SMALL_TERMS = 4096
# The first read of a stored file: a file of up to ~1,200 terms is in it whole, a large one's index is.
FIRST_READ = 64 * 1024


@dataclass(frozen=True, slots=True)
class FileTerm:
    xorb: str
    start: int
    end: int
    size: int


class Terms:
    """A file's terms in order, each with the byte offset of its first byte in the file. Subclasses give the
    records [i, j) as one buffer, and the records a byte offset's term is among."""

    __slots__ = ()
    count: int

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[FileTerm]:
        return (t for t, _pos in self.walk(0))

    def __getitem__(self, i: int) -> FileTerm:
        if not 0 <= i < self.count:
            raise IndexError(i)
        return _decode(self._records(i, i + 1), 0)[0]

    @property
    def nbytes(self) -> int:
        """What this object holds in memory, about."""
        raise NotImplementedError

    def _records(self, i: int, j: int) -> bytes | memoryview:
        raise NotImplementedError

    def _span(self, offset: int) -> tuple[int, int]:
        """Records [lo, hi) among which is the last term that starts at or before `offset`."""
        raise NotImplementedError

    def firsts(self) -> bytes:
        """The sparse index: the byte offset of the first term of each block of records (8 bytes each)."""
        raise NotImplementedError

    def find(self, offset: int) -> int:
        """The index of the term holding byte `offset` (the last term at or past the end; 0 when empty)."""
        lo, hi = self._span(offset)
        return lo + _last_at_or_before(self._records(lo, hi), offset)

    def seek(self, offset: int) -> Iterator[tuple[FileTerm, int]]:
        """(term, its byte offset) from the term holding byte `offset` to the end, read a block at a time:
        the block found by the search is the first one walked."""
        lo, hi = self._span(offset)
        if lo == hi:
            return
        records = self._records(lo, hi)
        for k in range(_last_at_or_before(records, offset), hi - lo):
            yield _decode(records, k)
        del records
        yield from self.walk(hi)

    def walk(self, i: int = 0) -> Iterator[tuple[FileTerm, int]]:
        """(term, its byte offset) from term i to the end, records read BLOCK_RECORDS at a time (the first
        read ends at a block boundary)."""
        while i < self.count:
            j = min(self.count, (i // BLOCK_RECORDS + 1) * BLOCK_RECORDS)
            records = self._records(i, j)
            for k in range(j - i):
                yield _decode(records, k)
            i = j


def _decode(records: bytes | memoryview, k: int) -> tuple[FileTerm, int]:
    a, b, c, d, start, end, size, pos = _WORDS.unpack_from(records, k * RECORD.size)
    return FileTerm(f"{a:016x}{b:016x}{c:016x}{d:016x}", start, end, size), pos


def _last_at_or_before(records: bytes | memoryview, offset: int) -> int:
    """The last record of `records` whose term starts at or before `offset` (0 when none does). Offsets only
    grow, so this is the term holding the byte: a term of zero bytes is passed over for the next one."""
    lo, hi = 0, len(records) // RECORD.size  # answer in [lo, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if FIRST.unpack_from(records, mid * RECORD.size + OFFSET_AT)[0] <= offset:
            lo = mid
        else:
            hi = mid
    return lo


class PackedTerms(Terms):
    """Terms held in memory as their records (52 bytes a term): small stored files, files being ingested,
    mirror drafts."""

    __slots__ = ("count", "data")

    def __init__(self, data: bytes | bytearray) -> None:
        if len(data) % RECORD.size:
            raise CorruptStoredObject("A Xet file's term records are truncated")
        self.data = data
        self.count = len(data) // RECORD.size

    @property
    def nbytes(self) -> int:
        return len(self.data) + 100

    def _records(self, i: int, j: int) -> memoryview:
        return memoryview(self.data)[i * RECORD.size:j * RECORD.size]

    def _span(self, offset: int) -> tuple[int, int]:
        return 0, self.count

    def firsts(self) -> bytes:
        step = BLOCK_RECORDS * RECORD.size
        return b"".join(self.data[at + OFFSET_AT:at + RECORD.size] for at in range(0, len(self.data), step))

    @classmethod
    def of(cls, terms: Iterable[FileTerm]) -> PackedTerms:
        b = TermsBuilder()
        for t in terms:
            b.add(t.xorb, t.start, t.end, t.size)
        return b.done()


class TermsBuilder:
    """Records appended as terms arrive: what a shard's file or a mirror draft costs while it is checked."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.size = 0

    def add(self, xorb: str, start: int, end: int, size: int) -> None:
        """A term of `size` bytes after the ones added; ValueError when a field does not fit its record."""
        self.add_raw(xet_unhex(xorb), start, end, size)

    def add_raw(self, xorb: bytes, start: int, end: int, size: int) -> None:
        """`add` with the xorb hash as its 32 bytes (as a shard holds it)."""
        if len(xorb) != 32:
            raise ValueError("a xorb hash is 32 bytes")
        try:
            self.data += RECORD.pack(xorb, start, end, size, self.size)
        except struct.error as exc:
            raise ValueError(f"Xet term out of range: {exc}") from None
        self.size += size

    def done(self) -> PackedTerms:
        """The terms added, handed over without a copy (the builder is left empty)."""
        data, self.data = self.data, bytearray()
        return PackedTerms(data)


class StoredTerms(Terms):
    """A large stored file's terms: its sparse index held, its records read from the blob by range."""

    __slots__ = ("blobs", "count", "index", "key", "records_at")

    def __init__(self, blobs: BlobStore, key: str, count: int, firsts: bytes) -> None:
        self.blobs, self.key, self.count = blobs, key, count
        self.index = firsts  # the sparse index as stored
        self.records_at = HEAD.size + len(firsts)

    @property
    def nbytes(self) -> int:
        return len(self.index) + 300

    def firsts(self) -> bytes:
        return self.index

    def _records(self, i: int, j: int) -> bytes:
        want = (j - i) * RECORD.size
        a = self.records_at + i * RECORD.size
        data = b"".join(self.blobs.iter_range(self.key, a, a + want, max(want, 1)))
        if len(data) != want:
            raise CorruptStoredObject(f"Stored Xet file {self.key} is shorter than its term count")
        return data

    def _span(self, offset: int) -> tuple[int, int]:
        # the last block whose first term starts at or before `offset`; the term sought is in it, since the
        # next block's first term starts after the offset
        lo, hi = 0, len(self.index) // FIRST.size
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if FIRST.unpack_from(self.index, mid * FIRST.size)[0] <= offset:
                lo = mid
            else:
                hi = mid
        return lo * BLOCK_RECORDS, min(self.count, (lo + 1) * BLOCK_RECORDS)


def write_stored(staged: StagedBlob, size: int, sha256: str, terms: Terms) -> None:
    """The packed form of a file, written a block of records at a time."""
    digest = bytes.fromhex(sha256)
    if len(digest) != 32:
        raise ValueError(f"A stored Xet file needs its sha256, not {sha256!r}")
    staged.write(HEAD.pack(MAGIC, VERSION, BLOCK_RECORDS, size, digest, terms.count))
    staged.write(terms.firsts())
    for i in range(0, terms.count, BLOCK_RECORDS):
        staged.write(bytes(terms._records(i, min(terms.count, i + BLOCK_RECORDS))))


def read_stored(blobs: BlobStore, key: str) -> tuple[int, str, Terms]:
    """(size, sha256, terms) of a stored file. A small file is read whole and its terms held; of a large one
    only the header and the sparse index are read. The legacy JSON form is read whole and held packed
    (52 bytes a term instead of ~185). It is not rewritten on read: a read would then write (and fail on
    read-only storage), and another worker reading the JSON in two steps would meet the new form halfway."""
    head = b"".join(blobs.iter_range(key, 0, FIRST_READ, FIRST_READ))
    if head[:1] == b"{":
        return _read_json(blobs.read(key) if len(head) == FIRST_READ else head, key)
    if len(head) < HEAD.size:
        raise CorruptStoredObject(f"Stored Xet file {key} is truncated")
    magic, version, block, size, sha, count = HEAD.unpack_from(head)
    if magic != MAGIC or version != VERSION or block != BLOCK_RECORDS:
        raise CorruptStoredObject(f"Stored Xet file {key} is in an unknown form")
    records_at = HEAD.size + -(-count // BLOCK_RECORDS) * FIRST.size
    if count > SMALL_TERMS:
        if len(head) < records_at:
            head += b"".join(blobs.iter_range(key, len(head), records_at, records_at))
        if len(head) < records_at:
            raise CorruptStoredObject(f"Stored Xet file {key} is truncated")
        return size, sha.hex(), StoredTerms(blobs, key, count, head[HEAD.size:records_at])
    total = records_at + count * RECORD.size
    if len(head) < total:
        head += b"".join(blobs.iter_range(key, len(head), total, total))
    if len(head) != total:
        raise CorruptStoredObject(f"Stored Xet file {key} does not hold its {count} terms")
    return size, sha.hex(), PackedTerms(head[records_at:])


def _read_json(body: bytes, key: str) -> tuple[int, str, Terms]:
    try:
        d = json.loads(body)
        b = TermsBuilder()
        terms = d["terms"]
        terms.reverse()
        while terms:  # each term's objects freed as it is packed: the peak is the parsed JSON's
            b.add(*terms.pop())
        return int(d["size"]), str(d["sha256"]), b.done()
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptStoredObject(f"Stored Xet file {key} is unreadable: {exc}") from None
