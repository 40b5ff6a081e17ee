"""Xet content in the blob store: validated xorbs, file reconstructions, and reading files back."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from hubd.hub.errors import BadRequest
from hubd.storage.blobstore import BlobNotFound, BlobStore
from hubd.xet.hashing import file_hash, range_hash, xet_hex, xet_unhex, xorb_hash
from hubd.xet.shard import ShardFile, ShardXorb
from hubd.xet.xorb import HEADER, ChunkMeta, XorbParser, decompress, pack_index, parse_header, unpack_index


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


class XetStore:
    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self.xorb_index = lru_cache(maxsize=4096)(self._load_index)
        self.file = lru_cache(maxsize=4096)(self._load_file)

    # --- xorbs -----------------------------------------------------------------------------------------
    def has_xorb(self, h: str) -> bool:
        return self.blobs.exists(xorb_index_key(h))

    def _load_index(self, h: str) -> tuple[ChunkMeta, ...]:
        return unpack_index(self.blobs.read(xorb_index_key(h)))

    def publish_xorb(self, h: str, parser: XorbParser, staged) -> bool:  # type: ignore[no-untyped-def]
        """Keep a fully parsed upload under its name if its chunks hash to it. True when newly stored."""
        chunks = parser.finish()
        if xet_hex(xorb_hash(parser.nodes())) != h:
            staged.abort()
            raise BadRequest(f"Xorb content does not hash to {h}")
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
        except BadRequest as exc:
            return f"corrupt xorb {h}: {exc.message}"
        if xet_hex(xorb_hash(parser.nodes())) != h or tuple(chunks) != index:
            return f"corrupt xorb {h}: its chunks do not hash to its name"
        return None

    # --- files -----------------------------------------------------------------------------------------
    def _load_file(self, h: str) -> XetFile | None:
        if not self.blobs.exists(file_key(h)):
            return None
        d = json.loads(self.blobs.read(file_key(h)))
        return XetFile(h, d["size"], d["sha256"], tuple(FileTerm(*t) for t in d["terms"]))

    def add_files(self, files: list[ShardFile], xorbs: list[ShardXorb]) -> list[XetFile]:
        """Validate a shard against stored xorbs, then store each file's reconstruction."""
        for x in xorbs:
            h = xet_hex(x.hash)
            if not self.has_xorb(h):
                raise BadRequest(f"Shard references xorb {h}, which was not uploaded")
            stored = [(c.hash, c.size) for c in self.xorb_index(h)]
            if stored != x.chunks:
                raise BadRequest(f"Shard's chunk list for xorb {h} does not match the xorb")
        out = []
        for f in files:
            out.append(self._add_file(f))
        return out

    def _add_file(self, f: ShardFile) -> XetFile:
        h = xet_hex(f.file_hash)
        if f.range_hashes is None:
            raise BadRequest("Shard file entries must carry verification hashes")
        nodes: list[tuple[bytes, int]] = []
        terms = []
        for term, verification in zip(f.terms, f.range_hashes, strict=True):
            xh = xet_hex(term.xorb)
            if not self.has_xorb(xh):
                raise BadRequest(f"Shard references xorb {xh}, which was not uploaded")
            index = self.xorb_index(xh)
            if not 0 <= term.start < term.end <= len(index):
                raise BadRequest(f"Shard term has chunk range [{term.start}, {term.end}) outside xorb {xh}")
            chunks = index[term.start:term.end]
            if sum(c.size for c in chunks) != term.size:
                raise BadRequest("Shard term size does not match the xorb's chunks")
            if range_hash([c.hash for c in chunks]) != verification:
                raise BadRequest("Shard term verification hash does not match")
            nodes.extend((c.hash, c.size) for c in chunks)
            terms.append(FileTerm(xh, term.start, term.end, term.size))
        if file_hash(nodes) != f.file_hash:
            raise BadRequest(f"Shard file {h} does not hash to its chunks")
        existing = self.file(h)
        if existing is not None:
            return existing
        size = sum(t.size for t in terms)
        draft = XetFile(h, size, "", tuple(terms))
        # The sha256 in a shard is only a claim; the one hubd maps is the one it computes itself.
        digest = hashlib.sha256()
        for data in self.iter_bytes(draft, 0, size):
            digest.update(data)
        sha256 = digest.hexdigest()
        if f.sha256 is not None and f.sha256 != sha256:
            raise BadRequest(f"Shard claims sha256 {f.sha256} for file {h}, its content hashes to {sha256}")
        body = json.dumps({"size": size, "sha256": sha256, "terms": [[t.xorb, t.start, t.end, t.size] for t in terms]})
        self.blobs.put_bytes(file_key(h), body.encode())
        self.file.cache_clear()
        return XetFile(h, size, sha256, tuple(terms))

    # --- reading ---------------------------------------------------------------------------------------
    def pieces(self, f: XetFile, start: int, end: int) -> list[Piece]:
        """The chunk ranges that hold bytes [start, end) of a file, trimmed to chunk granularity."""
        out: list[Piece] = []
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
            out.append(Piece(t.xorb, cs, ce, skip, min(epos, end) - cpos - skip))
            pos += t.size
        return out

    def byte_range(self, xorb: str, start: int, end: int) -> tuple[int, int]:
        """Offsets [first, last) in the stored chunk stream of chunks [start, end)."""
        index = self.xorb_index(xorb)
        return (index[start - 1].end if start else 0), index[end - 1].end

    def iter_bytes(self, f: XetFile, start: int, end: int, block: int = 4 * 1024 * 1024) -> Iterator[bytes]:
        """Bytes [start, end) of a file, in blocks of about `block` bytes (few, large writes downstream)."""
        out = bytearray()
        for p in self.pieces(f, start, end):
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
        for data in self.blobs.iter_range(xorb_key(xorb), first, last, 8 * 1024 * 1024):
            buf += data
            view = memoryview(buf)
            pos = 0
            while len(buf) - pos >= HEADER:
                clen, scheme, ulen = parse_header(bytes(view[pos:pos + HEADER]))
                if len(buf) - pos < HEADER + clen:
                    break
                raw = decompress(scheme, view[pos + HEADER:pos + HEADER + clen], ulen)
                pos += HEADER + clen
                yield raw
            view.release()
            del buf[:pos]
        if buf:
            raise BadRequest(f"Xorb {xorb} is shorter than its index")


def unhex_or_400(h: str) -> str:
    try:
        xet_unhex(h)
    except ValueError:
        raise BadRequest(f"Invalid xet hash {h!r}") from None
    return h.lower()
