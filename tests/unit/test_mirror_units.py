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


def test_upstream_json_is_read_as_a_bounded_stream() -> None:
    """A broken or hostile upstream answering an endless JSON body: hubd stops reading past the limit (a
    504 UpstreamUnavailable), it never buffers the whole answer; its refusals keep the Hub's errors."""
    import http.server
    import threading

    from hubd.hub.errors import RepoNotFound
    from hubd.mirror.errors import UpstreamUnavailable
    from hubd.mirror.upstream import Upstream

    sent: list[int] = []

    class Endless(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path.startswith("/missing"):
                self.send_response(404)
                self.send_header("X-Error-Code", "RepoNotFound")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"[")
            try:
                for _ in range(10_000):  # 640 MB if all of it were read
                    self.wfile.write(b'"' + b"x" * 65_530 + b'",')
                    sent.append(1)
            except OSError:
                pass  # the reader hung up: what this test wants

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        up = Upstream(f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(UpstreamUnavailable, match="too large"):
            up.get_json(f"{up.url}/big", {}, "a test", 1 << 20)
        with pytest.raises(RepoNotFound):
            up.get_json(f"{up.url}/missing", {}, "a test", 1 << 20)
    finally:
        server.shutdown()
    assert len(sent) < 5_000  # the server was cut off long before the end


def test_a_range_the_upstream_ignored_is_read_no_further_than_needed() -> None:
    """An upstream that answers a Range with the whole object (a 200): hubd skips to the range and stops at
    its end, never holding what lies before or after; far into an object it refuses instead of reading."""
    import httpx

    from hubd.mirror.errors import UpstreamUnavailable
    from hubd.mirror.service import MAX_SKIP, _ranged_body

    read: list[int] = []

    def endless():  # 1 KiB blocks of their own offsets, forever
        n = 0
        while True:
            read.append(n)
            yield bytes((n + i) % 256 for i in range(1024))
            n += 1024

    body = _ranged_body(httpx.Response(200, content=endless()), 5000, 7000)
    assert body == bytes(i % 256 for i in range(5000, 7000))
    assert len(read) == 7  # blocks 0..6 hold bytes up to 7167: the read stopped there
    read.clear()
    assert _ranged_body(httpx.Response(206, content=endless()), 5000, 5100) == bytes(i % 256 for i in range(100))
    assert len(read) == 1
    with pytest.raises(UpstreamUnavailable, match="ignored a byte range"):
        _ranged_body(httpx.Response(200, content=endless()), MAX_SKIP + 1, MAX_SKIP + 10)


def test_read_capped_stops_at_its_limit() -> None:
    import httpx

    from hubd.mirror.errors import UpstreamUnavailable
    from hubd.mirror.upstream import read_capped

    blocks = 0

    def endless():
        nonlocal blocks
        while True:
            blocks += 1
            yield b"x" * 65536

    with pytest.raises(UpstreamUnavailable, match="too large"):
        read_capped(httpx.Response(200, content=endless()), 1 << 20, "a test")
    assert blocks == 17  # 1 MiB and one block more, then it stopped
    assert read_capped(httpx.Response(200, content=[b"[1,", b"2]"]), 10, "a test") == b"[1,2]"
