"""Xet content in the blob store: validated xorbs, file reconstructions, and reading files back."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hubd.storage.blobstore import BlobNotFound, BlobStore
from hubd.xet.cache import ByteLRU
from hubd.xet.errors import CorruptStoredObject, MalformedXetObject
from hubd.xet.hashing import MerkleBuilder, file_hash_of, range_hash, xet_hex, xet_unhex, xorb_hash
from hubd.xet.memory import release_memory, tune_malloc
from hubd.xet.shard import ShardFile, ShardXorb
from hubd.xet.xorb import (
    HEADER,
    XorbFormatError,
    XorbIndex,
    XorbParser,
    decompress,
    pack_index,
    parse_header,
)

log = logging.getLogger(__name__)

# Bounds on what one shard may make hubd do (ARCHITECTURE invariant 8), checked before the work.
# Chunk references: the file hashes are merkle trees over every chunk a file's terms name, repeats included
# (~2.6 µs each in Python); 2^20 covers a 50 GB file (the Hub's largest) at the 64 KiB average chunk.
MAX_CHUNK_REFS = 1 << 20
# Bytes rebuilt to compute the sha256 of new files: the unpacked size of the xorbs the shard lists as new
# (the client sent them) plus this allowance for files made by dedup from stored chunks (edited files).
FREE_REBUILD_BYTES = 8 << 30
# Default byte budget of the caches of xorb indexes and file reconstructions (setting xet_cache_mib): ~50
# indexes of full xorbs, the hot set of a few GiB of files. One file streamed end to end fills the cache as
# it goes, so whatever the budget is, a worker grows by that much between a small file and a huge one.
DEFAULT_CACHE_BYTES = 16 << 20
# Streams at least this long hand their freed heap back to the kernel when they end (xet/memory.py).
TRIM_AFTER_BYTES = 64 << 20
# Stored chunk streams are read in blocks of this size: large enough for few storage calls, small enough
# that a stream's buffers stay a few MiB.
READ_BLOCK = 2 << 20


def xorb_key(h: str) -> str:
    return f"xet/xorbs/{h[:2]}/{h}"


def xorb_index_key(h: str) -> str:
    return f"xet/xorb-index/{h[:2]}/{h}"


def file_key(h: str) -> str:
    return f"xet/files/{h[:2]}/{h}"


@dataclass(frozen=True, slots=True)
class FileTerm:
    xorb: str
    start: int
    end: int
    size: int


@dataclass(frozen=True)
class XetFile:
    hash: str
    size: int
    sha256: str
    terms: tuple[FileTerm, ...]


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
    return 300 + 180 * len(f.terms)  # a FileTerm with its strings and ints, measured with tracemalloc


class XetStore:
    def __init__(self, blobs: BlobStore, cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        tune_malloc()  # every worker builds one XetStore: the place to set its malloc up (see xet/memory.py)
        self.blobs = blobs
        # xorb indexes and file reconstructions share one byte budget (setting xet_cache_mib)
        self.cache: ByteLRU[Any] = ByteLRU(cache_bytes)  # xorb indexes and file reconstructions

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
        d = json.loads(self.blobs.read(file_key(h)))
        return XetFile(h, d["size"], d["sha256"], tuple(FileTerm(*t) for t in d["terms"]))

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
            sizes[xet_hex(f.file_hash)] = size
        rebuild = sum(size for h, size in sizes.items() if self.file(h) is None)
        if rebuild > paid + FREE_REBUILD_BYTES:
            raise MalformedXetObject(
                f"Shard asks hubd to rebuild {rebuild} bytes of files from {paid} bytes of new xorbs; at most "
                f"{FREE_REBUILD_BYTES} bytes beyond the new xorbs are rebuilt per shard")
        verified: dict[tuple[str, int, int], bytes] = {}  # term ranges already proved in this shard
        out: dict[str, XetFile] = {}
        for sf in files:
            checked = self._check_file(sf, verified)
            if checked.hash not in out:
                out[checked.hash] = self.file(checked.hash) or self._hash_file(checked)
            if sf.sha256 is not None and sf.sha256 != out[checked.hash].sha256:
                raise MalformedXetObject(f"Shard claims sha256 {sf.sha256} for file {checked.hash}, its content hashes "
                                 f"to {out[checked.hash].sha256}")
        for stored in out.values():
            self._store_file(stored)
        return list(out.values())

    def _check_file(self, f: ShardFile, verified: dict[tuple[str, int, int], bytes]) -> XetFile:
        """The file a shard entry describes, once its verification and file hashes are proved. The file hash
        is built as the chunks stream past (MerkleBuilder), not from a list of every chunk of the file."""
        assert f.range_hashes is not None
        tree = MerkleBuilder()
        terms = []
        for term, verification in zip(f.terms, f.range_hashes, strict=True):
            xh = xet_hex(term.xorb)
            index = self.xorb_index(xh)
            key = (xh, term.start, term.end)
            # a verification hash proves knowledge of the real chunk hashes; a repeated range is proved once
            if key not in verified:
                if range_hash([c for c, _, _ in index.entries(term.start, term.end)]) != verification:
                    raise MalformedXetObject("Shard term verification hash does not match")
                verified[key] = verification
            elif verified[key] != verification:
                raise MalformedXetObject("Shard term verification hash does not match")
            for c, _end, size in index.entries(term.start, term.end):
                tree.add(c, size)
            terms.append(FileTerm(xh, term.start, term.end, term.size))
        h = xet_hex(f.file_hash)
        if file_hash_of(tree) != f.file_hash:
            raise MalformedXetObject(f"Shard file {h} does not hash to its chunks")
        return XetFile(h, sum(t.size for t in terms), "", tuple(terms))

    def _hash_file(self, draft: XetFile) -> XetFile:
        """The sha256 in a shard is only a claim; the one hubd maps is the one it computes itself."""
        digest = hashlib.sha256()
        for data in self.iter_bytes(draft, 0, draft.size):
            digest.update(data)
        return XetFile(draft.hash, draft.size, digest.hexdigest(), draft.terms)

    def _store_file(self, f: XetFile) -> None:
        if self.file(f.hash) is not None:
            return
        body = json.dumps({"size": f.size, "sha256": f.sha256,
                           "terms": [[t.xorb, t.start, t.end, t.size] for t in f.terms]})
        self.blobs.put_bytes(file_key(f.hash), body.encode())

    # --- reading ---------------------------------------------------------------------------------------
    def pieces(self, f: XetFile, start: int, end: int) -> list[Piece]:
        """The chunk ranges that hold bytes [start, end) of a file, trimmed to chunk granularity."""
        return list(self.iter_pieces(f, start, end))

    def iter_pieces(self, f: XetFile, start: int, end: int) -> Iterator[Piece]:
        """`pieces` one at a time: a stream of a file with many terms never lists them all."""
        pos = 0
        for t in f.terms:
            if pos + t.size <= start:
                pos += t.size
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
            pos += t.size

    def byte_range(self, xorb: str, start: int, end: int) -> tuple[int, int]:
        """Offsets [first, last) in the stored chunk stream of chunks [start, end)."""
        index = self.xorb_index(xorb)
        return (index.end(start - 1) if start else 0), index.end(end - 1)

    def iter_bytes(self, f: XetFile, start: int, end: int, block: int = 1024 * 1024) -> Iterator[bytes]:
        """Bytes [start, end) of a file, in blocks of about `block` bytes. granian keeps a few unsent blocks
        per response, so the block size is what a stream costs the worker (4 MiB blocks: ~40 MiB a stream)."""
        try:
            yield from self._iter_bytes(f, start, end, block)
        finally:
            if end - start >= TRIM_AFTER_BYTES:
                release_memory()  # a long stream leaves freed heap behind in the worker: give it back

    def _iter_bytes(self, f: XetFile, start: int, end: int, block: int) -> Iterator[bytes]:
        out = bytearray()
        for p in self.iter_pieces(f, start, end):
            skip, left = p.skip, p.size
            for raw in self._iter_chunks(p.xorb, p.start, p.end):
                if skip >= len(raw):
                    skip -= len(raw)
                    continue
                piece = raw[skip:skip + left]
                skip = 0
                left -= len(piece)
                out += piece
                if len(out) >= block:
                    yield bytes(out)
                    out.clear()
                if left <= 0:
                    break
        if out:
            yield bytes(out)

    def _iter_chunks(self, xorb: str, start: int, end: int) -> Iterator[bytes]:
        """Decompressed chunks [start, end) of a xorb, read from storage in large blocks."""
        first, last = self.byte_range(xorb, start, end)
        buf = bytearray()
        for data in self.blobs.iter_range(xorb_key(xorb), first, last, READ_BLOCK):
            buf += data
            view = memoryview(buf)
            pos = 0
            while len(buf) - pos >= HEADER:
                try:
                    clen, scheme, ulen = parse_header(bytes(view[pos:pos + HEADER]))
                    if len(buf) - pos < HEADER + clen:
                        break
                    raw = decompress(scheme, view[pos + HEADER:pos + HEADER + clen], ulen)
                except XorbFormatError as exc:
                    # these bytes passed validation when they were uploaded: storage changed them
                    log.error("stored xorb %s is corrupt at offset %d: %s", xorb, first + pos, exc)
                    raise CorruptStoredObject(f"Stored xorb {xorb} is corrupt") from None
                pos += HEADER + clen
                yield raw
            view.release()
            del buf[:pos]
        if buf:
            log.error("stored xorb %s is shorter than its index", xorb)
            raise CorruptStoredObject(f"Stored xorb {xorb} is shorter than its index")


def parse_xet_hash(h: str) -> str:
    try:
        xet_unhex(h)
    except ValueError:
        raise MalformedXetObject(f"Invalid xet hash {h!r}") from None
    return h.lower()
