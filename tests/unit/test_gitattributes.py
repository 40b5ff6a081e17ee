from __future__ import annotations

import pytest

from hubd.hub.gitattributes import default_gitattributes, is_lfs_path, lfs_patterns

DEFAULT = lfs_patterns(default_gitattributes("model").decode())


@pytest.mark.parametrize(("path", "lfs"), [
    ("model.safetensors", True), ("sub/dir/w.bin", True), ("data.parquet", True), ("x.tar.gz", True),
    ("saved_model/a/b.pb", True), ("events.out.tfevents.1", True),
    ("README.md", False), ("config.json", False), ("train.csv", False), ("bin/readme.txt", False),
])
def test_default_patterns(path: str, lfs: bool) -> None:
    assert is_lfs_path(DEFAULT, path) is lfs


def test_last_match_wins_and_paths() -> None:
    patterns = lfs_patterns("*.bin filter=lfs diff=lfs merge=lfs -text\nsmall.bin -filter\n/data/*.csv filter=lfs\n")
    assert is_lfs_path(patterns, "a/big.bin")
    assert not is_lfs_path(patterns, "small.bin")
    assert is_lfs_path(patterns, "data/x.csv")
    assert not is_lfs_path(patterns, "other/x.csv")
