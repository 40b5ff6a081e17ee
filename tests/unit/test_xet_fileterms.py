"""Stored Xet files (issue 17, "streams stay streams"): the packed form round trips, the legacy JSON form still
reads, the term holding a byte is found by binary search, and a small range of a file with 100,000 terms reads
a block or two of its records, not the whole table."""

from __future__ import annotations

import bisect
import hashlib
import json
import random
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubd.storage.local import LocalBlobStore
from hubd.xet.fileterms import (
    BLOCK_RECORDS,
    FIRST_READ,
    HEAD,
    RECORD,
    SMALL_TERMS,
    FileTerm,
    PackedTerms,
    StoredTerms,
    Terms,
)
from hubd.xet.hashing import xet_hex
from hubd.xet.reconstruction import reconstruct
from hubd.xet.store import XetFile, XetStore, file_key

from .test_xet_reads import publish, record


class CountingStore(LocalBlobStore):
    """A real local store that notes the ranges read of file reconstructions."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.ranges: list[tuple[int, int]] = []

    def iter_range(self, key: str, start: int, end: int, chunk: int = 1024 * 1024) -> Iterator[bytes]:
        if key.startswith("xet/files/"):
            self.ranges.append((start, end))
        return super().iter_range(key, start, end, chunk)


def random_terms(rng: random.Random, n: int) -> list[FileTerm]:
    """Terms of random sizes over random xorb names, a few of zero bytes (a hostile xorb may hold an empty
    chunk) to test the search at repeated offsets."""
    out = []
    for _ in range(n):
        size = 0 if rng.random() < 0.05 else rng.randint(1, 1 << 20)
        start = rng.randrange(8000)
        out.append(FileTerm(xet_hex(rng.randbytes(32)), start, start + rng.randint(1, 100), size))
    return out


def positions(terms: list[FileTerm]) -> list[int]:
    out, pos = [], 0
    for t in terms:
        out.append(pos)
        pos += t.size
    return out


def stored(tmp_path: Path, terms: list[FileTerm], sha256: str = "5a" * 32) -> tuple[XetStore, XetFile]:
    """The file written by the store and read back by a fresh store (nothing cached)."""
    blobs = CountingStore(tmp_path)
    h = xet_hex(hashlib.sha256(repr(terms).encode()).digest())
    XetStore(blobs)._store_file(XetFile(h, sum(t.size for t in terms), sha256, PackedTerms.of(terms)))
    store = XetStore(blobs)
    f = store.file(h)
    assert f is not None
    return store, f


@pytest.mark.parametrize("n", [0, 1, 3, BLOCK_RECORDS, SMALL_TERMS, SMALL_TERMS + 1, 3 * BLOCK_RECORDS + 5])
def test_packed_form_round_trips(tmp_path: Path, n: int) -> None:
    terms = random_terms(random.Random(n), n)
    store, f = stored(tmp_path, terms)
    assert f.size == sum(t.size for t in terms) and f.sha256 == "5a" * 32 and len(f.terms) == n
    assert list(f.terms) == terms and bool(f.terms) == (n > 0)
    assert isinstance(f.terms, StoredTerms if n > SMALL_TERMS else PackedTerms)
    if n:
        assert f.terms[0] == terms[0] and f.terms[n - 1] == terms[-1]
    key = file_key(f.hash)
    assert store.blobs.stat(key) == HEAD.size + 8 * -(-n // BLOCK_RECORDS) + RECORD.size * n
    # what the cache is charged is what is held: the records of a small file, the sparse index of a large one
    assert f.terms.nbytes < (RECORD.size * n + 200 if n <= SMALL_TERMS else 8 * (n // BLOCK_RECORDS + 1) + 400)


@pytest.mark.parametrize("n", [0, 2, 2000])  # 2,000 terms of JSON are longer than the first read
def test_legacy_json_files_still_read(tmp_path: Path, n: int) -> None:
    terms = random_terms(random.Random(n), n)
    blobs = LocalBlobStore(tmp_path)
    h = "7e" * 32
    body = json.dumps({"size": sum(t.size for t in terms), "sha256": "c3" * 32,
                       "terms": [[t.xorb, t.start, t.end, t.size] for t in terms]}).encode()
    assert (len(body) > FIRST_READ) == (n == 2000)
    blobs.put_bytes(file_key(h), body)
    f = XetStore(blobs).file(h)
    assert f is not None and f.size == sum(t.size for t in terms) and f.sha256 == "c3" * 32
    assert list(f.terms) == terms and isinstance(f.terms, PackedTerms)
    assert f.terms.nbytes < 60 * n + 200  # held packed, not as ~185-byte FileTerm objects
    pos = positions(terms)
    for i in range(0, n, 97):
        assert pos[f.terms.find(pos[i])] == pos[i]


def check_search(terms: list[FileTerm], table: Terms) -> None:
    pos = positions(terms)
    size = sum(t.size for t in terms)

    def expected(offset: int) -> int:  # the last term starting at or before the offset: the one holding it
        return max(bisect.bisect_right(pos, offset) - 1, 0)

    probes = {0, 1, max(size - 1, 0), size, size + 5}
    # every term's edges of a small file; of a large one those at block edges and a sample (a probe of a
    # stored file reads a block)
    rng = random.Random(len(terms))
    picked = [i for i in range(len(terms)) if len(terms) < 200 or (i + 2) % BLOCK_RECORDS < 4 or rng.random() < 0.05]
    for p in (pos[i] for i in picked):
        probes |= {p - 1, p, p + 1, p + 12345}
    for offset in sorted(o for o in probes if o >= 0):
        i = table.find(offset)
        assert i == expected(offset), offset
        if offset < size:
            assert pos[i] <= offset < pos[i] + terms[i].size  # the term holds the byte, never an empty one
        first = next(table.seek(offset), None)
        assert first == ((terms[i], pos[i]) if terms else None)


@pytest.mark.parametrize("n", [1, 2, 50, SMALL_TERMS + 700])
def test_binary_search_at_boundaries_and_inside_terms(tmp_path: Path, n: int) -> None:
    terms = random_terms(random.Random(100 + n), n)
    check_search(terms, PackedTerms.of(terms))
    _store, f = stored(tmp_path, terms)
    check_search(terms, f.terms)


def test_empty_file(tmp_path: Path) -> None:
    store, f = stored(tmp_path, [])
    assert f.size == 0 and len(f.terms) == 0 and f.terms.find(0) == 0 and list(f.terms.seek(0)) == []
    assert store.pieces(f, 0, 0) == [] and list(store.iter_bytes(f, 0, 0)) == []
    assert store.sha256_of(f) == hashlib.sha256(b"").hexdigest()


def tiny_xorb(store: XetStore) -> tuple[str, list[bytes]]:
    """A xorb of 16 stored chunks of 100 bytes."""
    rng = random.Random(5)
    raws = [rng.randbytes(100) for _ in range(16)]
    return publish(store, b"".join(record(raw, 0) for raw in raws)), raws


N_BIG = 100_000


def test_a_small_range_of_a_huge_file_reads_a_block_of_it(tmp_path: Path) -> None:
    blobs = CountingStore(tmp_path)
    writer = XetStore(blobs)
    xorb, raws = tiny_xorb(writer)
    # term i is chunk i % 15 of the xorb, 100 bytes: byte b of the file is in term b // 100
    terms = PackedTerms.of(FileTerm(xorb, i % 15, i % 15 + 1, 100) for i in range(N_BIG))
    fh = "9c" * 32
    writer._store_file(XetFile(fh, 100 * N_BIG, "0d" * 32, terms))
    del terms

    store = XetStore(blobs)
    store.xorb_index(xorb)  # the xorb's index is not what is measured
    blobs.ranges.clear()
    tracemalloc.start()
    try:
        f = store.file(fh)
        assert f is not None
        plan = reconstruct(store, f, 50_000 * 100 + 10, 50_000 * 100 + 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    chunk = 50_000 % 15
    assert plan.terms == [{"hash": xorb, "unpacked_length": 100, "range": {"start": chunk, "end": chunk + 1}}]
    assert plan.offset_into_first_range == 10
    # the whole table as FileTerm objects was ~185 bytes a term (18 MiB here), loaded for every request: now
    # the header and sparse index (one read) and one block of 1,024 records
    assert peak < 1 << 20, peak
    assert isinstance(f.terms, StoredTerms) and f.terms.nbytes < 2000
    records_at = HEAD.size + 8 * -(-N_BIG // BLOCK_RECORDS)
    block = 50_000 // BLOCK_RECORDS

    def block_range(b: int) -> tuple[int, int]:
        return (records_at + b * BLOCK_RECORDS * RECORD.size,
                records_at + min(N_BIG, (b + 1) * BLOCK_RECORDS) * RECORD.size)

    assert blobs.ranges == [(0, FIRST_READ), block_range(block)]

    # a range across a block edge reads those two blocks and no others; its bytes are the terms' chunks
    blobs.ranges.clear()
    first = (block + 1) * BLOCK_RECORDS - 2  # two terms before the edge, three after it
    start, end = first * 100 + 30, (first + 5) * 100 - 1
    data = b"".join(store.iter_bytes(f, start, end, 64))
    expected = b"".join(raws[i % 15] for i in range(first, first + 5))[30:-1]
    assert data == expected
    assert blobs.ranges == [block_range(block), block_range(block + 1)]

    # the last byte, and a range past the file's first block
    blobs.ranges.clear()
    assert b"".join(store.iter_bytes(f, 100 * N_BIG - 1, 100 * N_BIG)) == raws[(N_BIG - 1) % 15][-1:]
    assert blobs.ranges == [block_range((N_BIG - 1) // BLOCK_RECORDS)]
    blobs.ranges.clear()
    assert b"".join(store.iter_bytes(f, 0, 1)) == raws[0][:1]
    assert blobs.ranges == [block_range(0)]


def test_a_stored_file_rebuilds_and_hashes_across_blocks(tmp_path: Path) -> None:
    store = XetStore(LocalBlobStore(tmp_path))
    xorb, raws = tiny_xorb(store)
    rng = random.Random(3)
    spans = [(s, rng.randint(s + 1, 16)) for s in (rng.randrange(16) for _ in range(SMALL_TERMS + 300))]
    terms = [FileTerm(xorb, s, e, 100 * (e - s)) for s, e in spans]
    content = b"".join(b"".join(raws[s:e]) for s, e in spans)
    fh = "4b" * 32
    store._store_file(XetFile(fh, len(content), hashlib.sha256(content).hexdigest(), PackedTerms.of(terms)))
    f = XetStore(store.blobs).file(fh)
    assert f is not None and isinstance(f.terms, StoredTerms)
    assert store.sha256_of(f) == f.sha256
    for start, end in [(0, len(content)), (len(content) // 2, len(content) // 2 + 150_000), (5, 6)]:
        assert b"".join(store.iter_bytes(f, start, end)) == content[start:end]
