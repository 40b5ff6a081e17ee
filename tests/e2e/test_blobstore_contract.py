"""The BlobStore contract (storage/blobstore.py), one suite run against every backend: a local directory and
a real SeaweedFS through its S3 gateway (dulwich's ObjectStoreTests pattern). A backend that passes this
can hold a hub; a behaviour the domain relies on belongs here, not in one backend's own tests."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hubd.storage.blobstore import BlobStore, open_blobstore
from hubd.storage.errors import BlobNotFound, InvalidKey
from tests.backends import seaweed


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        yield open_blobstore(f"file://{tmp_path / 'blobs'}")
    else:
        seaweed()  # one real SeaweedFS per test session; sets the AWS_* variables boto3 reads
        yield open_blobstore(f"s3://hubd-contract/{secrets.token_hex(6)}")


def test_put_then_read_stat_exists(store: BlobStore) -> None:
    assert not store.exists("a/b/c")
    store.put_bytes("a/b/c", b"hello world")
    assert store.exists("a/b/c")
    assert store.read("a/b/c") == b"hello world"
    assert store.stat("a/b/c") == 11
    with store.open("a/b/c") as f:
        assert f.read() == b"hello world"
    assert store.modified("a/b/c") > 0


def test_put_bytes_again_is_harmless(store: BlobStore) -> None:
    # Keys name immutable content, so a second write under a key carries the same bytes (the local store
    # skips it, S3 rewrites it); the contract does not say which of two different values would win.
    store.put_bytes("k", b"same bytes")
    store.put_bytes("k", b"same bytes")
    assert store.read("k") == b"same bytes" and store.stat("k") == 10


def test_missing_key_raises_blob_not_found_everywhere(store: BlobStore) -> None:
    for read in (store.read, store.stat, store.modified, store.open,
                 lambda k: list(store.iter_range(k, 0, 10))):
        with pytest.raises(BlobNotFound):
            read("no/such/key")
    with pytest.raises(BlobNotFound):
        store.copy("no/such/key", "dest")
    assert not store.exists("dest")
    store.delete("no/such/key")  # deleting what is absent is not an error


@pytest.mark.parametrize("key", ["../escape", "a/../../escape", "/absolute"])
def test_keys_that_climb_out_are_refused(store: BlobStore, key: str) -> None:
    with pytest.raises(InvalidKey):
        store.put_bytes(key, b"x")
    with pytest.raises(InvalidKey):
        store.read(key)


def test_iter_range_yields_exactly_the_range(store: BlobStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    store.put_bytes("big", data)
    for start, end, chunk in [(0, len(data), 1 << 20), (5, 6, 1 << 20), (1000, 2_500_000, 4096),
                              (len(data) - 3, len(data), 1 << 20), (0, len(data) + 100, 1 << 20)]:
        got = b"".join(store.iter_range("big", start, end, chunk))
        assert got == data[start:end], (start, end, chunk)
    assert all(len(block) <= 4096 for block in store.iter_range("big", 0, 100_000, 4096))


def test_staged_write_is_invisible_until_published(store: BlobStore) -> None:
    # above S3's part size, so the multipart path is the one under test there
    blocks = [os.urandom(1 << 20) for _ in range(20)]
    staged = store.stage("staged")
    for block in blocks:
        staged.write(block)
        assert not store.exists("staged")
    staged.publish()
    staged.abort()  # after publish: harmless
    assert store.read("staged") == b"".join(blocks)


def test_aborted_write_leaves_nothing(store: BlobStore) -> None:
    staged = store.stage("aborted")
    staged.write(os.urandom(20 << 20))
    staged.abort()
    staged.abort()  # twice: harmless
    assert not store.exists("aborted")
    assert "aborted" not in list(store.iter_keys(""))


def test_concurrent_writers_of_one_key_leave_one_whole_value(store: BlobStore) -> None:
    values = [bytes([n]) * (2 << 20) for n in range(4)]

    def write(value: bytes) -> None:
        staged = store.stage("contended")
        try:
            staged.write(value)
            staged.publish()
        finally:
            staged.abort()

    threads = [threading.Thread(target=write, args=(v,)) for v in values]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.read("contended") in values


def test_copy_and_delete(store: BlobStore) -> None:
    data = os.urandom(100_000)
    store.put_bytes("src/x", data)
    store.copy("src/x", "dst/y")
    assert store.read("dst/y") == data
    store.delete("src/x")
    assert not store.exists("src/x") and store.read("dst/y") == data


def test_iter_keys_lists_by_prefix(store: BlobStore) -> None:
    for key in ["p/1", "p/2/3", "q/4"]:
        store.put_bytes(key, b"v")
    assert sorted(store.iter_keys("p")) == ["p/1", "p/2/3"]
    assert {"p/1", "p/2/3", "q/4"} <= set(store.iter_keys(""))


def test_check_writable(store: BlobStore) -> None:
    store.check_writable()


def test_presigned_urls_work_without_hubd_or_are_absent(store: BlobStore) -> None:
    store.put_bytes("signed", b"signed bytes")
    get, put = store.presigned_get("signed"), store.presigned_put("uploaded")
    if not store.presigns:
        assert get is None and put is None
        assert store.local_path("signed") is not None
        return
    assert get is not None and put is not None
    assert httpx.get(get).content == b"signed bytes"
    assert httpx.put(put, content=b"put straight to the bucket").status_code == 200
    assert store.read("uploaded") == b"put straight to the bucket"
    assert store.local_path("signed") is None
