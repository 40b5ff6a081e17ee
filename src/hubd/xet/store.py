"""Xet content in the blob store: validated xorbs, file reconstructions, and reading files back."""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
from collections.abc import Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from hubd.storage.blobstore import BlobNotFound, BlobStore
from hubd.xet.cache import ByteLRU
from hubd.xet.errors import CorruptStoredObject, MalformedXetObject
from hubd.xet.fileterms import Terms, TermsBuilder, read_stored, write_stored
from hubd.xet.hashing import MerkleBuilder, file_hash_of, range_hash, xet_hex, xet_unhex, xorb_hash
from hubd.xet.memory import release_memory, tune_malloc
from hubd.xet.shard import ShardFile, ShardXorb
from hubd.xet.xorb import (
    HEADER,
    XorbFormatError,
    XorbIndex,
    XorbParser,
    inflate,
    pack_index,
    walk_records,
)

log = logging.getLogger(__name__)

# Bounds on what one shard may make hubd do (ARCHITECTURE invariant 8), checked before the work.
# Chunk references: the file hashes are merkle trees over every chunk a file's terms name, repeats included
# (~2.6 µs each in Python); 2^20 covers a 50 GB file (the Hub's largest) at the 64 KiB average chunk.
MAX_CHUNK_REFS = 1 << 20
# Bytes rebuilt to compute the sha256 of new files: the unpacked size of the xorbs the shard lists as new
# (the client sent them) plus this allowance for files made by dedup from stored chunks (edited files).
FREE_REBUILD_BYTES = 8 << 30
# Each term of a file to rebuild is charged at least this many bytes: a term costs a lookup and a read of its
# own whatever its size (140 µs at load 4), so 2^18 one-chunk terms of a few bytes each (a 25 MB shard within
# every byte limit) made ~37 s of work. 32,768 terms fit the free allowance; a shard of new
# xorbs pays for more.
TERM_REBUILD_FLOOR = 256 << 10
# Default byte budget of the Xet caches of one worker (setting xet_cache_mib): an eighth for xorb indexes and
# file reconstructions (~100 indexes of 64 MiB xorbs, 40 KiB each: the hot set of ~6 GiB of files; a miss is
# one small read), the rest for decoded chunks. A file streamed end to end fills both as it goes, so the
# budget, not the file, is what a worker grows by between a small file and a huge one (a 1 GiB file's indexes
# are 0.6 MiB, a 16 GiB file's 10 MiB: the metadata share is kept small for that reason).
DEFAULT_CACHE_BYTES = 32 << 20
META_SHARE = 8
# What a cached decoded chunk costs beyond its bytes (the bytes object, its key, the LRU's entry).
CHUNK_OVERHEAD = 160
MAP_POPULATE = getattr(mmap, "MAP_POPULATE", 0)  # Linux: fault a window's pages in with the mmap call
# Term ranges of a shard whose verification hash is remembered once proved (a repeat is then not hashed
# again): ~250 bytes each, so bounded; a range past the bound is proved again when it repeats, which costs no
# more than the merkle tree already spends on the same chunks.
MAX_PROVED = 1 << 14
# Files of one shard rebuilt for their sha256 at once (each reads a READ_BLOCK at a time).
REBUILD_THREADS = 2
# Streams at least this long hand their freed heap back to the kernel when they end (xet/memory.py).
TRIM_AFTER_BYTES = 64 << 20
# Stored chunk streams are read in blocks of this size: large enough for few storage calls, small enough
# that a stream's buffers stay a few MiB.
READ_BLOCK = 2 << 20
# Files rebuilt for plain HTTP are sent in blocks of this size: one thread hop and one join per block.
# granian holds a few unsent blocks per response, so this times a few is what one slow reader costs.
STREAM_BLOCK = 2 << 20


def xorb_key(h: str) -> str:
    return f"xet/xorbs/{h[:2]}/{h}"


def xorb_index_key(h: str) -> str:
    return f"xet/xorb-index/{h[:2]}/{h}"


def file_key(h: str) -> str:
    return f"xet/files/{h[:2]}/{h}"


@dataclass(frozen=True)
class XetFile:
    """A file's size, sha256 and terms: held packed, or (a large stored file) read from storage by range as
    they are walked (xet/fileterms.py)."""

    hash: str
    size: int
    sha256: str
    terms: Terms


@dataclass(frozen=True, slots=True)
class Piece:
    """Chunks [start, end) of one xorb, `skip` bytes dropped from the front and `size` bytes kept."""

    xorb: str
    start: int
    end: int
    skip: int
    size: int


def _index_cost(index: XorbIndex) -> int:
    return len(index.data) + 200


def _file_cost(f: XetFile) -> int:
    return 300 + f.terms.nbytes  # the records of a small file; the header and sparse index of a large one


class XetStore:
    def __init__(self, blobs: BlobStore, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        tune_malloc()  # every worker builds one XetStore: the place to set its malloc up (see xet/memory.py)
        self.blobs = blobs
        # one byte budget (setting xet_cache_mib), split so that streaming chunks never evicts the indexes
        self.cache: ByteLRU[Any] = ByteLRU(cache_bytes // META_SHARE)  # xorb indexes and file reconstructions
        # decoded compressed chunks of immutable xorbs: plain-HTTP reads skip LZ4 and byte regrouping
        self.chunk_cache: ByteLRU[bytes] = ByteLRU(cache_bytes - cache_bytes // META_SHARE)

    def xorb_index(self, h: str) -> XorbIndex:
        """A stored xorb's chunk index (BlobNotFound when the xorb is not whole)."""
        return self.cache.get(("index", h), lambda: self._load_index(h), _index_cost)

    def file(self, h: str) -> XetFile | None:
        """A stored file's reconstruction, or None. Absence is not cached: another worker may store it."""
        if not self.blobs.exists(file_key(h)):
            return None
        return self.cache.get(("file", h), lambda: self._load_file(h), _file_cost)

    # --- xorbs -----------------------------------------------------------------------------------------
    def has_xorb(self, h: str) -> bool:
        return self.blobs.exists(xorb_index_key(h))

    def _load_index(self, h: str) -> XorbIndex:
        return XorbIndex(self.blobs.read(xorb_index_key(h)))

    def publish_xorb(self, h: str, parser: XorbParser, staged) -> bool:
        """Keep a fully parsed upload under its name if its chunks hash to it. True when newly stored."""
        chunks = parser.finish()
        if xet_hex(xorb_hash(parser.nodes())) != h:
            staged.abort()
            raise MalformedXetObject(f"Xorb content does not hash to {h}")
        if self.has_xorb(h):
            staged.abort()
            return False
        staged.publish()
        self.blobs.put_bytes(xorb_index_key(h), pack_index(chunks))  # written last: it marks the xorb whole
        return True

    def verify_xorb(self, h: str) -> str | None:
        """Re-hash a stored xorb from its chunks; a problem described, or None when it is intact."""
        try:
            index = self.xorb_index(h)
            size = self.blobs.stat(xorb_key(h))
        except BlobNotFound:
            return f"missing xorb {h}"
        parser = XorbParser(lambda _record: None)
        try:
            for data in self.blobs.iter_range(xorb_key(h), 0, size):
                parser.feed(data)
            chunks = parser.finish()
        except MalformedXetObject as exc:
            return f"corrupt xorb {h}: {exc}"
        if xet_hex(xorb_hash(parser.nodes())) != h or pack_index(chunks) != index.data:
            return f"corrupt xorb {h}: its chunks do not hash to its name"
        return None

    # --- files -----------------------------------------------------------------------------------------
    def _load_file(self, h: str) -> XetFile:
        size, sha256, terms = read_stored(self.blobs, file_key(h))
        return XetFile(h, size, sha256, terms)

    def add_files(self, files: list[ShardFile], xorbs: list[ShardXorb]) -> list[XetFile]:
        """Validate a shard against stored xorbs, then store each file's reconstruction.

        The work a shard asks for is counted from its terms and the stored indexes (cheap lookups) and
        refused before any of it is done: the chunk references it makes hubd hash (the file hashes are
        merkle trees over every chunk of every term, repeats included), and the bytes it makes hubd
        rebuild and sha256 (every file not stored yet). Nothing is stored until every file has passed."""
        paid = 0
        for x in xorbs:
            h = xet_hex(x.hash)
            if not self.has_xorb(h):
                raise MalformedXetObject(f"Shard references xorb {h}, which was not uploaded")
            index = self.xorb_index(h)
            # compared record by record, straight from the shard and the packed index: no per-chunk lists
            pairs = zip(x.chunks(), index.entries(0, len(index)), strict=True) if x.count == len(index) else None
            if pairs is None or any((ch, size) != (stored, stored_size)
                                    for (ch, size), (stored, _end, stored_size) in pairs):
                raise MalformedXetObject(f"Shard's chunk list for xorb {h} does not match the xorb")
            paid += index.unpacked(0, len(index))
        known: set[str] = set()
        refs = 0
        sizes: dict[str, int] = {}
        for f in files:
            if f.range_hashes is None:
                raise MalformedXetObject("Shard file entries must carry verification hashes")
            size = 0
            charged = 0
            for term in f.terms:
                xh = xet_hex(term.xorb)
                if xh not in known:
                    if not self.has_xorb(xh):
                        raise MalformedXetObject(f"Shard references xorb {xh}, which was not uploaded")
                    known.add(xh)
                index = self.xorb_index(xh)
                if not 0 <= term.start < term.end <= len(index):
                    raise MalformedXetObject(f"Shard term has chunk range [{term.start}, {term.end}) outside xorb {xh}")
                refs += term.end - term.start
                if refs > MAX_CHUNK_REFS:  # charged before the chunks are summed or hashed
                    raise MalformedXetObject(f"Shard references more than {MAX_CHUNK_REFS} chunks; split the upload")
                if index.unpacked(term.start, term.end) != term.size:
                    raise MalformedXetObject("Shard term size does not match the xorb's chunks")
                size += term.size
                charged += max(term.size, TERM_REBUILD_FLOOR)
            sizes[xet_hex(f.file_hash)] = charged
        rebuild = sum(charged for h, charged in sizes.items() if self.file(h) is None)
        if rebuild > paid + FREE_REBUILD_BYTES:
            raise MalformedXetObject(
                f"Shard asks hubd to rebuild {rebuild} bytes of files (a term counts as at least "
                f"{TERM_REBUILD_FLOOR}) from {paid} bytes of new xorbs; at most {FREE_REBUILD_BYTES} bytes beyond "
                f"the new xorbs are rebuilt per shard")
        verified: dict[tuple[str, int, int], bytes] = {}  # term ranges already proved in this shard
        out: dict[str, XetFile] = {}
        drafts: dict[str, XetFile] = {}
        for sf in files:
            checked = self._check_file(sf, verified)
            if checked.hash not in out and checked.hash not in drafts:
                stored = self.file(checked.hash)
                if stored is not None:
                    out[checked.hash] = stored
                else:
                    drafts[checked.hash] = checked
        out.update(self._hash_files(list(drafts.values())))
        for sf in files:
            h = xet_hex(sf.file_hash)
            if sf.sha256 is not None and sf.sha256 != out[h].sha256:
                raise MalformedXetObject(f"Shard claims sha256 {sf.sha256} for file {h}, its content hashes "
                                 f"to {out[h].sha256}")
        for stored in out.values():
            self._store_file(stored)
        return list(out.values())

    def _check_file(self, f: ShardFile, verified: dict[tuple[str, int, int], bytes]) -> XetFile:
        """The file a shard entry describes, once its verification and file hashes are proved. The file hash
        is built as the chunks stream past (MerkleBuilder), not from a list of every chunk of the file."""
        assert f.range_hashes is not None
        tree = MerkleBuilder()
        terms = TermsBuilder()  # 52 bytes a term, where FileTerm objects were ~185
        for term, verification in zip(f.terms, f.range_hashes, strict=True):
            xh = xet_hex(term.xorb)
            index = self.xorb_index(xh)
            key = (xh, term.start, term.end)
            # a verification hash proves knowledge of the real chunk hashes; a repeated range is proved once
            proved = verified.get(key)
            if proved is None:
                if range_hash([c for c, _, _ in index.entries(term.start, term.end)]) != verification:
                    raise MalformedXetObject("Shard term verification hash does not match")
                if len(verified) < MAX_PROVED:
                    verified[key] = verification
            elif proved != verification:
                raise MalformedXetObject("Shard term verification hash does not match")
            for c, _end, size in index.entries(term.start, term.end):
                tree.add(c, size)
            terms.add_raw(term.xorb, term.start, term.end, term.size)
        h = xet_hex(f.file_hash)
        if file_hash_of(tree) != f.file_hash:
            raise MalformedXetObject(f"Shard file {h} does not hash to its chunks")
        return XetFile(h, terms.size, "", terms.done())

    def _hash_files(self, drafts: list[XetFile]) -> dict[str, XetFile]:
        """The sha256 in a shard is only a claim; the one hubd maps is the one it computes itself. One
        file's sha256 is sequential, so the files of a shard are hashed side by side (hashlib and the
        reads release the GIL): a folder of files takes every core, not one."""
        def done(draft: XetFile) -> XetFile:
            return XetFile(draft.hash, draft.size, self.sha256_of(draft), draft.terms)

        if len(drafts) < 2:
            return {d.hash: done(d) for d in drafts}
        with ThreadPoolExecutor(min(REBUILD_THREADS, len(drafts)), thread_name_prefix="xet-sha256") as pool:
            return {f.hash: f for f in pool.map(done, drafts)}

    def _store_file(self, f: XetFile) -> None:
        if self.file(f.hash) is not None:
            return
        staged = self.blobs.stage(file_key(f.hash))
        try:
            write_stored(staged, f.size, f.sha256, f.terms)
            staged.publish()
        finally:
            staged.abort()

    # --- reading ---------------------------------------------------------------------------------------
    def pieces(self, f: XetFile, start: int, end: int) -> list[Piece]:
        """The chunk ranges that hold bytes [start, end) of a file, trimmed to chunk granularity."""
        return list(self.iter_pieces(f, start, end))

    def iter_pieces(self, f: XetFile, start: int, end: int) -> Iterator[Piece]:
        """`pieces` one at a time: a stream of a file with many terms never lists them all. The first term is
        found by binary search; the terms are then read a block at a time (xet/fileterms.py)."""
        if start >= end:
            return
        for t, pos in f.terms.seek(start):
            if pos + t.size <= start:
                continue
            if pos >= end:
                break
            index = self.xorb_index(t.xorb)
            cs, cpos = t.start, pos
            while cpos + index[cs].size <= start:
                cpos += index[cs].size
                cs += 1
            ce, epos = cs, cpos
            while ce < t.end and epos < end:
                epos += index[ce].size
                ce += 1
            skip = max(0, start - cpos)
            yield Piece(t.xorb, cs, ce, skip, min(epos, end) - cpos - skip)

    def byte_range(self, xorb: str, start: int, end: int) -> tuple[int, int]:
        """Offsets [first, last) in the stored chunk stream of chunks [start, end)."""
        index = self.xorb_index(xorb)
        return (index.end(start - 1) if start else 0), index.end(end - 1)

    def iter_bytes(self, f: XetFile, start: int, end: int, block: int = STREAM_BLOCK) -> Iterator[bytes]:
        """Bytes [start, end) of a file, in blocks of about `block` bytes. granian keeps a few unsent blocks
        per response, so the block size is what a stream costs the worker (see STREAM_BLOCK)."""
        try:
            yield from self._iter_bytes(f, start, end, block)
        finally:
            if end - start >= TRIM_AFTER_BYTES:
                release_memory()  # a long stream leaves freed heap behind in the worker: give it back

    def _iter_bytes(self, f: XetFile, start: int, end: int, block: int) -> Iterator[bytes]:
        """Blocks of exactly `block` bytes (the last one shorter), each one join of views into the storage
        reads and the decoded chunks: the only copy made in Python, whatever the chunks' compression."""
        parts: list[bytes | memoryview] = []
        n = 0
        for raw in self._iter_views(f, start, end):
            while n + len(raw) >= block:  # fill the block, send it, keep the rest of the chunk
                room = block - n
                parts.append(memoryview(raw)[:room])
                yield b"".join(parts)
                parts, n = [], 0
                raw = memoryview(raw)[room:]
            if raw:
                parts.append(raw)
                n += len(raw)
        if parts:
            yield b"".join(parts)

    def fill(self, f: XetFile, start: int, end: int) -> Generator[int, bytearray, None]:
        """Bytes [start, end) of a file copied into the buffers sent to it (a response's two reused blocks,
        api/streams.BlockResponse): first yields 0, then for each buffer received yields how many bytes it
        holds once it is full, or at the end. The one copy made in Python."""
        buf = yield 0
        scratch = bytearray(READ_BLOCK)  # the storage reads' own reused buffer (see _stored)
        try:
            n, room = 0, len(buf)
            for raw in self._iter_views(f, start, end, scratch):
                while n + len(raw) >= room:
                    take = room - n
                    buf[n:room] = memoryview(raw)[:take]
                    buf = yield room
                    n, raw, room = 0, memoryview(raw)[take:], len(buf)
                if raw:
                    buf[n:n + len(raw)] = raw
                    n += len(raw)
            if n:
                yield n
        finally:
            if end - start >= TRIM_AFTER_BYTES:
                release_memory()

    def _iter_views(self, f: XetFile, start: int, end: int,
                    scratch: bytearray | None = None) -> Iterator[bytes | memoryview]:
        """Bytes [start, end) of a file as views into the storage reads and the decoded chunks, in order (with
        `scratch`, each view is valid only until the next one is asked for: see _stored)."""
        for p in self.iter_pieces(f, start, end):
            skip, left = p.skip, p.size
            for raw in self._iter_chunks(p.xorb, p.start, p.end, keep=True, scratch=scratch):
                if skip >= len(raw):
                    skip -= len(raw)
                    continue
                if skip or left < len(raw):
                    raw = memoryview(raw)[skip:skip + left]
                skip = 0
                left -= len(raw)
                yield raw
                if left <= 0:
                    break

    def sha256_of(self, f: XetFile) -> str:
        """The sha256 of a file's bytes, hashed chunk by chunk as they are read: stored chunks are hashed
        in place (views into the read blocks) and hashlib releases the GIL for each, so the event loop and
        other rebuilds run meanwhile. Nothing rebuilt is cached: a new file is read once. Each view is hashed
        before the next is asked for, so storage is read into one reused buffer (see _stored)."""
        digest = hashlib.sha256()
        scratch = bytearray(READ_BLOCK)
        for p in self.iter_pieces(f, 0, f.size):
            for raw in self._iter_chunks(p.xorb, p.start, p.end, keep=False, scratch=scratch):
                digest.update(raw)
        return digest.hexdigest()

    def _iter_chunks(self, xorb: str, start: int, end: int, keep: bool,
                     scratch: bytearray | None = None) -> Iterator[bytes | memoryview]:
        """Decompressed chunks [start, end) of a xorb. Compressed chunks already decoded are taken from the
        chunk cache (xorbs never change); runs of the others are read from storage in READ_BLOCK blocks, and
        with `keep` the compressed ones decoded there are cached."""
        index = self.xorb_index(xorb)
        cache = self.chunk_cache
        prev = index.end(start - 1) if start else 0
        run: int | None = None  # first chunk of the run still to read
        for k, (_h, last, size) in enumerate(index.entries(start, end), start):
            hit = None
            if cache.used and last - prev - HEADER != size:  # stored compressed: it may be decoded already
                hit = cache.peek((xorb, k))
            prev = last
            if hit is None:
                if run is None:
                    run = k
                continue
            if run is not None:
                yield from self._read_run(xorb, run, k, keep, scratch)
                run = None
            yield hit
        if run is not None:
            yield from self._read_run(xorb, run, end, keep, scratch)

    def _stored(self, xorb: str, first: int, last: int,
                scratch: bytearray | None = None) -> Iterator[bytes | memoryview]:
        """Bytes [first, last) of a stored xorb in blocks of about READ_BLOCK. Readers that use each block
        before asking for the next (fill, sha256_of) pass `scratch`: a local xorb is then read into that one
        buffer, overwritten block after block (no mapping to set up and tear down per block: each munmap in
        the many-threaded worker is a TLB shootdown). Readers that keep views across blocks (iter_bytes joins
        them) get a mapped window per block (its pages populated in one call), which counts in the worker's
        RSS until its last view is dropped, so windows stay READ_BLOCK long."""
        key = xorb_key(xorb)
        path = self.blobs.local_path(key)
        if path is None:
            yield from self.blobs.iter_range(key, first, last, READ_BLOCK)
            return
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below, after the last window is handed out
        except FileNotFoundError:
            raise BlobNotFound(key) from None  # as the store's own reads say it (gc may have removed it)
        with fh:
            fd = fh.fileno()
            if os.fstat(fd).st_size < last:  # a mapping read past the end of its file is a SIGBUS
                raise XorbFormatError("stored xorb is shorter than its index")
            if scratch is not None:
                view, pos = memoryview(scratch), first
                while pos < last:
                    got = os.preadv(fd, [view[:min(len(scratch), last - pos)]], pos)
                    if not got:
                        raise XorbFormatError("stored xorb is shorter than its index")
                    yield view[:got]
                    pos += got
                return
            pos = first
            while pos < last:
                base = pos - pos % mmap.ALLOCATIONGRANULARITY
                length = min(last, pos + READ_BLOCK) - base
                window = mmap.mmap(fd, length, flags=mmap.MAP_SHARED | MAP_POPULATE, prot=mmap.PROT_READ,
                                   offset=base)
                yield memoryview(window)[pos - base:]  # unmapped when the last view of it is dropped
                pos = base + length

    def _read_run(self, xorb: str, start: int, end: int, keep: bool,
                  scratch: bytearray | None = None) -> Iterator[bytes | memoryview]:
        first, last = self.byte_range(xorb, start, end)
        k = start
        try:
            for scheme, ulen, body in walk_records(self._stored(xorb, first, last, scratch)):
                if k == end:
                    break
                if scheme == 0:
                    yield body
                else:
                    raw = inflate(scheme, body, ulen)
                    if keep:
                        self.chunk_cache.put((xorb, k), raw, len(raw) + CHUNK_OVERHEAD)
                    yield raw
                k += 1
        except XorbFormatError as exc:
            # these bytes passed validation when they were uploaded: storage changed them
            log.error("stored xorb %s is corrupt in chunks [%d, %d): %s", xorb, start, end, exc)
            raise CorruptStoredObject(f"Stored xorb {xorb} is corrupt") from None
        if k != end:
            log.error("stored xorb %s is shorter than its index", xorb)
            raise CorruptStoredObject(f"Stored xorb {xorb} is shorter than its index")


def parse_xet_hash(h: str) -> str:
    try:
        xet_unhex(h)
    except ValueError:
        raise MalformedXetObject(f"Invalid xet hash {h!r}") from None
    return h.lower()
