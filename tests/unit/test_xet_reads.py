"""Xet reads without copies (issue 15): xorb records parsed across any block edge, files rebuilt from stored,
LZ4 and byte-grouped chunks for plain HTTP and for their sha256, and decoded chunks served from the cache."""

from __future__ import annotations

import contextlib
import hashlib
import random
from pathlib import Path

import lz4.frame
import pytest

from hubd.storage.blobstore import BlobNotFound
from hubd.storage.local import LocalBlobStore
from hubd.xet.errors import CorruptStoredObject
from hubd.xet.fileterms import FileTerm, PackedTerms
from hubd.xet.hashing import xet_hex, xorb_hash
from hubd.xet.store import XetFile, XetStore, xorb_key
from hubd.xet.xorb import HEADER, XorbFormatError, XorbParser, walk_records


def record(raw: bytes, scheme: int) -> bytes:
    if scheme == 1:
        body = lz4.frame.compress(raw)
    elif scheme == 2:
        body = lz4.frame.compress(b"".join(raw[i::4] for i in range(4)))
    else:
        body = raw
    return (bytes([0]) + len(body).to_bytes(3, "little") + bytes([scheme]) + len(raw).to_bytes(3, "little")
            + body)


def chunks_of(rng: random.Random, n: int) -> list[tuple[bytes, int]]:
    """(raw bytes, scheme): random (stored) chunks, repetitive ones compressed, some regrouped."""
    out = []
    for i in range(n):
        size = rng.randint(1, 20000)
        if i % 3 == 0:
            out.append((rng.randbytes(size), 0))
        else:
            out.append(((rng.randbytes(7) * (size // 7 + 1))[:size], 1 + (i % 2)))
    return out


def split(data: bytes, rng: random.Random) -> list[bytes]:
    """Blocks cut at random places, one-byte and header-splitting cuts included."""
    blocks, pos = [], 0
    while pos < len(data):
        n = rng.choice([1, 3, HEADER - 1, HEADER, HEADER + 1, 100, 5000, 40000])
        blocks.append(data[pos:pos + n])
        pos += n
    return blocks


@pytest.mark.parametrize("seed", range(6))
def test_records_parse_the_same_across_any_block_edges(seed: int) -> None:
    rng = random.Random(seed)
    chunks = chunks_of(rng, 40)
    stream = b"".join(record(raw, scheme) for raw, scheme in chunks)
    whole = XorbParser(lambda _b: None)
    whole.feed(stream)
    stored = bytearray()
    parser = XorbParser(stored.extend)
    for block in split(stream + b"XETBLOB footer bytes", rng):
        parser.feed(block)
    assert parser.finish() == whole.finish() and bytes(stored) == stream
    walked = [(s, u, bytes(b)) for s, u, b in walk_records(split(stream, rng))]
    assert [(s, u) for s, u, _ in walked] == [(s, len(raw)) for raw, s in chunks]
    with pytest.raises(XorbFormatError):
        list(walk_records(split(stream[:-1], rng)))


def publish(store: XetStore, stream: bytes) -> str:
    """Stores a xorb made of these serialized records, as the CAS does; returns its hash."""
    parser = XorbParser(lambda _b: None)
    parser.feed(stream)
    h = xet_hex(xorb_hash(parser.nodes()))
    staged = store.blobs.stage(xorb_key(h))
    staged.write(stream)
    assert store.publish_xorb(h, parser, staged)
    return h


def _store(tmp_path: Path, chunks: list[tuple[bytes, int]], cache_bytes: int) -> tuple[XetStore, str]:
    store = XetStore(LocalBlobStore(tmp_path), cache_bytes=cache_bytes)
    return store, publish(store, b"".join(record(raw, scheme) for raw, scheme in chunks))


@pytest.mark.parametrize("cache_mib", [0, 4])
def test_files_rebuilt_from_every_kind_of_chunk(tmp_path: Path, cache_mib: int) -> None:
    rng = random.Random(cache_mib)
    chunks = chunks_of(rng, 60)
    store, h = _store(tmp_path, chunks, cache_mib << 20)
    raws = [raw for raw, _ in chunks]
    # a file made of two terms of the xorb, the second repeating part of the first
    terms = (FileTerm(h, 0, 60, sum(map(len, raws))), FileTerm(h, 10, 25, sum(map(len, raws[10:25]))))
    content = b"".join(raws) + b"".join(raws[10:25])
    f = XetFile("f" * 64, len(content), "", PackedTerms.of(terms))
    assert store.sha256_of(f) == hashlib.sha256(content).hexdigest()
    for _ in range(2):  # the second pass meets decoded chunks in the cache when there is one
        for start, end in [(0, len(content)), (1, 2), (5, 70000), (len(content) - 3, len(content)),
                           (rng.randrange(len(content)), len(content))]:
            for block in (1, 1000, 1 << 20):
                blocks = list(store.iter_bytes(f, start, end, block))
                assert b"".join(blocks) == content[start:end]
                assert all(len(b) == block for b in blocks[:-1]) and 0 < len(blocks[-1]) <= block
                bufs = [bytearray(block), bytearray(block)]  # a response's two buffers (api/streams.BlockResponse)
                blocks, filled = store.fill(f, start, end), []
                assert next(blocks) == 0
                with contextlib.suppress(StopIteration):
                    while True:
                        buf = bufs[len(filled) % 2]
                        filled.append(bytes(buf[:blocks.send(buf)]))
                assert b"".join(filled) == content[start:end]
                assert all(len(b) == block for b in filled[:-1]) and 0 < len(filled[-1]) <= block
    assert (store.chunk_cache.used > 0) == (cache_mib > 0)


def test_a_damaged_stored_xorb_is_hubds_fault(tmp_path: Path) -> None:
    rng = random.Random(9)
    chunks = chunks_of(rng, 10)
    store, h = _store(tmp_path, chunks, 0)
    raws = [raw for raw, _ in chunks]
    f = XetFile("f" * 64, sum(map(len, raws)), "", PackedTerms.of([FileTerm(h, 0, 10, sum(map(len, raws)))]))
    local = store.blobs.local_path(xorb_key(h))
    assert local is not None
    path = Path(local)
    data = path.read_bytes()
    path.write_bytes(data[:-5])  # shorter than its index says: never mapped past its end (SIGBUS)
    with pytest.raises(CorruptStoredObject):
        store.sha256_of(f)
    path.unlink()
    with pytest.raises(BlobNotFound):
        list(store.iter_bytes(f, 0, f.size))
