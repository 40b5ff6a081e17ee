"""Pure parts of the mirror: which ids the rules cover, the parquet listing's conversion, fills' readers."""

from __future__ import annotations

import hashlib
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from hubd.mirror.datasets import _info
from hubd.mirror.errors import UpstreamUnavailable
from hubd.mirror.fill import Filler
from hubd.mirror.rules import MirrorRules


def test_rules() -> None:
    every = MirrorRules("")
    assert not every.explicit and every.covers("model", "anyone", "thing")
    rules = MirrorRules("meta-llama/*, datasets/*")
    assert rules.covers("model", "meta-llama", "Llama-3") and rules.covers("model", "Meta-Llama", "x")
    assert rules.covers("dataset", "someone", "data")
    assert not rules.covers("model", "someone", "model") and not rules.covers("space", "meta-llama", "demo")
    assert MirrorRules("spaces/org/app").covers("space", "org", "app")


def test_parquet_listing_conversion() -> None:
    info, partial = _info({"parquet_files": [
        {"dataset": "a/b", "config": "default", "split": "train", "filename": "0000.parquet", "size": 10,
         "url": "http://up/datasets/a/b/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet"}],
        "partial": False})
    assert info == {"default": {"train": {"shards": [{"path": "default/train/0000.parquet",
                                                      "filename": "0000.parquet", "size": 10}], "partial": False}}}
    assert partial is False
    with pytest.raises(UpstreamUnavailable):
        _info({"parquet_files": [{"url": "nowhere"}]})
    with pytest.raises(UpstreamUnavailable):
        _info([1, 2])


class _Source:
    """An upstream response that hands out blocks when told to (a slow upstream)."""

    def __init__(self, blocks: list[bytes]) -> None:
        self.blocks = blocks
        self.go = threading.Semaphore(0)

    def iter_bytes(self, _n: int):  # type: ignore[no-untyped-def]
        for b in self.blocks:
            self.go.acquire()
            yield b


def test_fill_streams_to_readers_and_publishes_only_verified(tmp_path: Path) -> None:
    data = [b"a" * 1000, b"b" * 1000, b"c" * 24]
    whole = b"".join(data)
    oid = hashlib.sha256(whole).hexdigest()
    src = _Source(data)
    published: list[bytes] = []
    opened = []

    @contextmanager
    def open_source():  # type: ignore[no-untyped-def]
        opened.append(1)
        yield src

    filler = Filler(str(tmp_path))
    fill = filler.get("k", oid, len(whole), open_source, lambda p: published.append(Path(p).read_bytes()))
    again = filler.get("k", oid, len(whole), open_source, lambda p: None)
    assert again is fill  # concurrent first requests share one fill
    fill.wait_started()
    reader = fill.iter_range(0, len(whole))
    src.go.release()
    assert next(reader) == data[0]  # the first bytes reach the reader before the rest exists
    for _ in data[1:]:
        src.go.release()
    assert b"".join([data[0], *reader]) == whole
    fill.wait_done()
    assert published == [whole] and opened == [1]


def test_fill_with_wrong_bytes_publishes_nothing(tmp_path: Path) -> None:
    src = _Source([b"evil"])
    src.go.release()
    published: list[str] = []

    @contextmanager
    def open_source():  # type: ignore[no-untyped-def]
        yield src

    fill = Filler(str(tmp_path)).get("k", hashlib.sha256(b"good").hexdigest(), 4, open_source, published.append)
    with pytest.raises(UpstreamUnavailable):
        fill.wait_done()
    assert published == []
