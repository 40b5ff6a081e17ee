"""The viewer's cache of parquet shards copied from object storage: made once, reused, evicted least
recently used beyond its limit, never what a query is about to open."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

from hubd.dataviewer.shardcache import IN_USE_SECONDS, ShardCache


def source(data: bytes, calls: list[int]):
    def blocks() -> Iterator[bytes]:
        calls.append(1)
        yield data[:3]
        yield data[3:]
    return blocks


def test_copied_once_then_reused(tmp_path: Path) -> None:
    cache, calls = ShardCache(tmp_path / "c", 10_000), []
    first = cache.path("a" * 64, source(b"parquet bytes", calls))
    again = cache.path("a" * 64, source(b"never read", calls))
    assert first == again and Path(first).read_bytes() == b"parquet bytes" and len(calls) == 1
    assert sorted(os.listdir(tmp_path / "c")) == ["a" * 64]  # no temporary file left


def test_least_recently_used_evicted_beyond_the_limit(tmp_path: Path) -> None:
    cache, calls = ShardCache(tmp_path / "c", 250), []
    old = time.time() - 10 * IN_USE_SECONDS
    for n, name in enumerate(["x", "y"]):
        path = cache.path(name, source(bytes(100), calls))
        os.utime(path, (old + n, old + n))  # x used first, then y, long ago
    cache.path("x", source(b"unused", calls))  # x read again: now y is the least recently used
    cache.path("z", source(bytes(100), calls))  # 300 bytes > 250: one copy goes
    assert sorted(os.listdir(tmp_path / "c")) == ["x", "z"] and len(calls) == 3


def test_recently_used_copies_stay_even_over_the_limit(tmp_path: Path) -> None:
    cache, calls = ShardCache(tmp_path / "c", 50), []
    a = cache.path("a", source(bytes(100), calls))
    b = cache.path("b", source(bytes(100), calls))  # over the limit, but a was just used: a query may open it
    assert os.path.exists(a) and os.path.exists(b)
    later = time.time() + 2 * IN_USE_SECONDS
    assert sorted(cache.evict(now=later)) == ["a", "b"]
