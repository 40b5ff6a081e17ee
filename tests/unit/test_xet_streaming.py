"""The pieces that keep Xet memory flat (issue 17): the streamed merkle tree, the packed xorb index, shard
chunk lists read from the shard, and the byte-bounded cache."""

from __future__ import annotations

import io
import os
import random
import struct

import pytest

from hubd.xet.cache import ByteLRU
from hubd.xet.hashing import MerkleBuilder, chunk_hash, file_hash, file_hash_of, merkle_root
from hubd.xet.shard import BOOKEND, TAG, parse_shard
from hubd.xet.xorb import ChunkMeta, XorbFormatError, XorbIndex, pack_index, unpack_index


@pytest.mark.parametrize("n", [0, 1, 2, 3, 8, 9, 10, 17, 81, 82, 200, 729, 730, 5000])
def test_merkle_builder_matches_merkle_root(n: int) -> None:
    rng = random.Random(n)
    nodes = [(chunk_hash(rng.randbytes(8)), rng.randint(1, 1 << 17)) for _ in range(n)]
    tree = MerkleBuilder()
    for h, size in nodes:
        tree.add(h, size)
    assert file_hash_of(tree) == file_hash(nodes)
    if n:
        assert MerkleBuilder().root() != merkle_root(nodes)  # the empty tree is not any other


def test_merkle_builder_holds_few_nodes() -> None:
    tree = MerkleBuilder()
    for i in range(100_000):
        tree.add(chunk_hash(i.to_bytes(8, "little")), 65536)
    assert sum(len(level) for level in tree.levels) < 9 * len(tree.levels)


def test_xorb_index_reads_like_the_tuple() -> None:
    chunks = [ChunkMeta(os.urandom(32), 1000 * (i + 1), 900 + i) for i in range(50)]
    data = pack_index(chunks)
    index = XorbIndex(data)
    assert len(index) == 50 and list(index) == list(unpack_index(data))
    assert index[0] == chunks[0] and index[-1] == chunks[-1] and index[7] == chunks[7]
    assert index.end(9) == chunks[9].end
    assert index.unpacked(3, 11) == sum(c.size for c in chunks[3:11])
    assert [h for h, _e, _s in index.entries(5, 8)] == [c.hash for c in chunks[5:8]]
    with pytest.raises(IndexError):
        index[50]
    with pytest.raises(XorbFormatError):
        XorbIndex(data[:-1])


def test_shard_xorb_chunks_are_read_from_the_shard() -> None:
    chunks = [(os.urandom(32), 1000 + i) for i in range(3000)]  # more than one read block
    xh = os.urandom(32)
    body = (struct.pack("<32sQQ", TAG, 2, 0) + BOOKEND + struct.pack("<32sIIII", xh, 0, len(chunks), 0, 0)
            + b"".join(struct.pack("<32sIIII", h, 0, s, 0, 0) for h, s in chunks) + BOOKEND)
    for source in (body, io.BytesIO(body)):
        files, xorbs = parse_shard(source)
        assert files == [] and len(xorbs) == 1 and xorbs[0].hash == xh and xorbs[0].count == len(chunks)
        assert list(xorbs[0].chunks()) == chunks


def test_byte_lru_evicts_by_bytes() -> None:
    cache: ByteLRU[bytes] = ByteLRU(1000)
    for i in range(10):
        assert cache.get(i, lambda i=i: bytes(200), len) == bytes(200)
    assert cache.used <= 1000 and len(cache._items) == 5
    cache.get(5, lambda: b"x", len)  # a hit refreshes: the oldest entry (6) goes next
    cache.get("new", lambda: bytes(200), len)
    assert 5 in cache._items and 6 not in cache._items
    loads = []
    cache.get("huge", lambda: loads.append(1) or bytes(600), len)  # type: ignore[func-returns-value]
    cache.get("huge", lambda: loads.append(1) or bytes(600), len)  # type: ignore[func-returns-value]
    assert loads == [1, 1] and "huge" not in cache._items  # above a quarter of the budget: never kept
    cache.discard(5)
    assert 5 not in cache._items and cache.used == sum(s for _v, s in cache._items.values())


def test_shard_file_terms_stay_records() -> None:
    n = 3000
    terms = [(os.urandom(32), 100 + i, i % 50, i % 50 + 1 + i % 3) for i in range(n)]
    hashes = [os.urandom(32) for _ in range(n)]
    fh = os.urandom(32)
    body = (struct.pack("<32sQQ", TAG, 2, 0) + struct.pack("<32sII8x", fh, 0x80000000, n)
            + b"".join(struct.pack("<32sIIII", xh, 0, size, s, e) for xh, size, s, e in terms)
            + b"".join(h + bytes(16) for h in hashes) + BOOKEND + BOOKEND)
    files, _xorbs = parse_shard(body)
    f = files[0]
    assert f.file_hash == fh and len(f.terms) == n and f.range_hashes is not None and len(f.range_hashes) == n
    assert [(t.xorb, t.size, t.start, t.end) for t in f.terms] == terms and list(f.range_hashes) == hashes
    assert len(f.terms.data) == 48 * n  # the shard's records, not n Term objects
