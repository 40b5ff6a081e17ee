"""hubd's Xet hashing against hf_xet itself (the reference client, offline)."""

from __future__ import annotations

import random
from pathlib import Path

import hf_xet
import pytest

from hubd.xet.hashing import chunk_hash, file_hash, xet_hex

# Chunk boundaries need content-defined chunking, which hubd does not do (clients chunk); these sizes
# all fit in one chunk (< 8 KiB, the minimum chunk), so the file is that single chunk.


@pytest.mark.parametrize("size", [0, 1, 100, 8191])
def test_file_hash_matches_hf_xet(tmp_path: Path, size: int) -> None:
    data = random.Random(size).randbytes(size)
    path = tmp_path / "f"
    path.write_bytes(data)
    expected = hf_xet.hash_files([str(path)])[0].hash
    nodes = [(chunk_hash(data), len(data))] if data else []
    assert xet_hex(file_hash(nodes)) == expected
