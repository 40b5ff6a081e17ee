"""The BlobStore protocol: immutable, content-addressed bytes under string keys."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterator
from typing import BinaryIO, Protocol

from hubd.storage.errors import BlobNotFound as BlobNotFound  # re-exported: where callers look for it
from hubd.storage.errors import ContentMismatch, InvalidKey

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class StagedBlob(Protocol):
    """A write in progress to one key. Nothing is visible under the key until `publish`; after `abort`
    (safe to call at any time, also after publish) nothing of it remains."""

    def write(self, data: bytes) -> None: ...
    def publish(self) -> None: ...
    def abort(self) -> None: ...


class BlobStore(Protocol):
    """What every backend provides (local disk: storage/local.py; S3: storage/s3.py). The contract, checked
    for both by tests/e2e/test_blobstore_contract.py:

    - a key is published whole or not at all (`stage` → `publish`), never half-written; a staged write
      is invisible until published and leaves nothing behind when aborted;
    - reads of a missing key raise BlobNotFound; a key that is absolute or climbs out with `..` raises
      InvalidKey; a full store StorageFull; an unreachable or read-only one StorageUnavailable;
    - `iter_range(key, start, end)` yields exactly bytes [start, end) (clamped at the end of the blob);
    - keys name immutable content: callers never write two different values under one key, so a second
      `put_bytes` of a key is harmless (local skips it, S3 rewrites the same bytes); `delete` of a
      missing key is not an error;
    - `presigns` says whether `presigned_get`/`presigned_put` give URLs a client can use without hubd;
      when False they return None and hubd serves the bytes itself.
    """

    presigns: bool

    def open(self, key: str) -> BinaryIO: ...
    def read(self, key: str) -> bytes: ...
    def iter_range(self, key: str, start: int, end: int, chunk: int = ...) -> Iterator[bytes]: ...
    def stat(self, key: str) -> int: ...
    def modified(self, key: str) -> float: ...
    def exists(self, key: str) -> bool: ...
    def put_bytes(self, key: str, data: bytes) -> None: ...
    def stage(self, key: str) -> StagedBlob: ...
    def copy(self, source: str, dest: str) -> None: ...
    def delete(self, key: str) -> None: ...
    def local_path(self, key: str) -> str | None: ...
    def iter_keys(self, prefix: str) -> Iterator[str]: ...
    def check_writable(self) -> None: ...
    def presigned_get(self, key: str, expires: int = ...) -> str | None: ...
    def presigned_put(self, key: str, expires: int = ...) -> str | None: ...


def open_blobstore(url: str) -> BlobStore:
    """file:///path or s3://bucket/prefix (endpoint and credentials from the AWS_* variables)."""
    if url.startswith("file://"):
        from hubd.storage.local import LocalBlobStore

        return LocalBlobStore(url[len("file://"):])
    if url.startswith("s3://"):
        from hubd.storage.s3 import S3BlobStore

        store = S3BlobStore(url)
        store.ensure_bucket()
        return store
    raise ValueError(f"unsupported storage url {url!r}: use file:///path or s3://bucket/prefix")


def lfs_key(sha256: str) -> str:
    if not _HEX64.match(sha256):
        raise InvalidKey(f"Invalid sha256 oid: {sha256!r}")
    return f"lfs/{sha256[:2]}/{sha256[2:4]}/{sha256}"


def is_sha256(value: object) -> bool:
    return isinstance(value, str) and bool(_HEX64.match(value))


def sha256_of(store: BlobStore, key: str) -> tuple[str, int]:
    """(sha256 hex, size) of a stored blob, read as a stream."""
    h, size = hashlib.sha256(), 0
    for block in store.iter_range(key, 0, store.stat(key), 8 * 1024 * 1024):
        h.update(block)
        size += len(block)
    return h.hexdigest(), size


class HashingWriter:
    """Streams bytes into a staged blob while hashing and enforcing a size limit."""

    def __init__(self, staged: StagedBlob, max_size: int) -> None:
        self.staged = staged
        self.max_size = max_size
        self.size = 0
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_size:
            raise ContentMismatch(f"Upload is larger than the declared size ({self.max_size} bytes)")
        self.sha256.update(data)
        self.staged.write(data)

    def publish_if_matches(self, store: BlobStore, oid: str, size: int) -> None:
        """Publish under the LFS key only when the streamed bytes are the claimed object."""
        if self.size != size:
            self.staged.abort()
            raise ContentMismatch(f"Size mismatch: expected {size} bytes, received {self.size}")
        if not hmac.compare_digest(self.sha256.hexdigest(), oid):
            self.staged.abort()
            raise ContentMismatch("Content does not match the sha256 oid")
        if store.exists(lfs_key(oid)):
            self.staged.abort()
            return
        self.staged.publish()
