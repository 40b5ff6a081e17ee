"""Git objects (dulwich's object model) kept in a BlobStore, with caches of immutable objects."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, cast

from dulwich.objects import Blob, Commit, ShaFile, Tree

from hubd.storage.blobstore import BlobStore
from hubd.storage.lfspointer import LfsPointer, parse_pointer

if TYPE_CHECKING:
    from dulwich.objects import ObjectID

DIR_MODE = 0o040000
SMALL_BLOB = 64 * 1024  # blobs up to this size are kept in memory once read (GitStore.small_blob)
SMALL_BLOB_BUDGET = 64 * 1024 * 1024


def object_key(kind: str, sha: str) -> str:
    return f"git/{kind}/{sha[:2]}/{sha[2:]}"


def git_sha(kind: str, raw: bytes) -> str:
    h = hashlib.sha1(f"{kind} {len(raw)}\0".encode())
    h.update(raw)
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class TreeEntry:
    name: str
    mode: int
    sha: str

    @property
    def is_dir(self) -> bool:
        return self.mode & 0o170000 == DIR_MODE


@dataclass(frozen=True, slots=True)
class BlobInfo:
    size: int  # size of the file's content (the LFS object's size for a pointer)
    blob_size: int  # size of the git blob itself
    lfs: LfsPointer | None


class GitStore:
    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        # Objects are immutable, so caching them in memory is always correct.
        self._tree = lru_cache(maxsize=20000)(self._load_tree)
        self._commit = lru_cache(maxsize=20000)(self._load_commit)
        self._blob_info = lru_cache(maxsize=100000)(self._load_blob_info)
        # small blobs' bytes, for answering /resolve of small files without touching storage (byte-budgeted)
        self._small: OrderedDict[str, bytes] = OrderedDict()
        self._small_bytes = 0
        self._small_lock = threading.Lock()

    # writing
    def add(self, obj: ShaFile) -> str:
        sha = obj.id.decode()
        key = object_key(obj.type_name.decode(), sha)
        if not self.blobs.exists(key):
            self.blobs.put_bytes(key, obj.as_raw_string())
        return sha

    def add_blob(self, data: bytes) -> str:
        return self.add(Blob.from_string(data))

    def batch(self) -> ObjectBatch:
        """A writer that stores objects together (ObjectBatch.flush), for commits of many files."""
        return ObjectBatch(self)

    def put_many(self, items: list[tuple[str, bytes]]) -> None:
        """Store objects given as (key, raw bytes), several at once. Local disk: each is still staged, synced
        and renamed (whole or absent), but concurrent fsyncs share the filesystem's journal commits, so
        10,000 small objects cost far fewer than 10,000 syncs; S3 takes the PUTs in parallel."""
        if len(items) <= 1:
            for key, data in items:
                self.blobs.put_bytes(key, data)
            return
        for _ in _writers().map(lambda item: self.blobs.put_bytes(*item), items):
            pass  # the first failure is raised here, after the writes already started have finished

    # reading
    def raw(self, kind: str, sha: str) -> bytes:
        return self.blobs.read(object_key(kind, sha))

    def has(self, kind: str, sha: str) -> bool:
        return self.blobs.exists(object_key(kind, sha))

    def commit(self, sha: str) -> Commit:
        return self._commit(sha)

    def tree(self, sha: str) -> tuple[TreeEntry, ...]:
        return self._tree(sha)

    def blob_info(self, sha: str) -> BlobInfo:
        return self._blob_info(sha)

    def cached_small_blob(self, sha: str) -> bytes | None:
        """A small blob's bytes if they are in memory (no I/O: callable from the event loop)."""
        data = self._small.get(sha)
        if data is not None:
            with self._small_lock:
                if sha in self._small:
                    self._small.move_to_end(sha)
        return data

    def small_blob(self, sha: str) -> bytes:
        """A blob of at most SMALL_BLOB bytes, read once and then kept in memory (least recently used out)."""
        data = self.cached_small_blob(sha)
        if data is None:
            data = self.raw("blob", sha)
            with self._small_lock:
                if sha not in self._small and len(data) <= SMALL_BLOB:
                    self._small[sha] = data
                    self._small_bytes += len(data)
                    while self._small_bytes > SMALL_BLOB_BUDGET:
                        self._small_bytes -= len(self._small.popitem(last=False)[1])
        return data

    def blob_key(self, sha: str) -> str:
        return object_key("blob", sha)

    def _load_commit(self, sha: str) -> Commit:
        obj = ShaFile.from_raw_string(Commit.type_num, self.raw("commit", sha), sha=cast("ObjectID", sha.encode()))
        assert isinstance(obj, Commit)
        return obj

    def _load_tree(self, sha: str) -> tuple[TreeEntry, ...]:
        obj = ShaFile.from_raw_string(Tree.type_num, self.raw("tree", sha), sha=cast("ObjectID", sha.encode()))
        assert isinstance(obj, Tree)
        return tuple(TreeEntry(e.path.decode(), e.mode, e.sha.decode()) for e in obj.iteritems())

    def _load_blob_info(self, sha: str) -> BlobInfo:
        key = object_key("blob", sha)
        size = self.blobs.stat(key)
        pointer = None
        if size < 1024:
            pointer = parse_pointer(self.blobs.read(key))
        return BlobInfo(pointer.size if pointer else size, size, pointer)


def make_tree(entries: dict[str, tuple[int, str]]) -> Tree:
    tree = Tree()
    for name, (mode, sha) in entries.items():
        tree.add(name.encode(), mode, cast("ObjectID", sha.encode()))
    return tree


BATCH_BYTES = 32 * 1024 * 1024  # a batch is written when its objects reach this size (memory stays bounded)
WRITERS = 16
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _writers() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(WRITERS, thread_name_prefix="hubd-objects")
        return _pool


class ObjectBatch:
    """Git objects of one operation (a commit's blobs, then its trees), kept until `flush` writes them
    together. The caller flushes before it writes anything naming them (content, then objects, then the
    ref), so an object is never referenced before it is stored."""

    def __init__(self, git: GitStore) -> None:
        self.git = git
        self.pending: dict[str, bytes] = {}
        self.size = 0

    def add(self, obj: ShaFile) -> str:
        sha = obj.id.decode()
        key = object_key(obj.type_name.decode(), sha)
        if key not in self.pending:
            raw = obj.as_raw_string()
            self.pending[key] = raw
            self.size += len(raw)
            if self.size >= BATCH_BYTES:
                self.flush()
        return sha

    def add_blob(self, data: bytes) -> str:
        return self.add(Blob.from_string(data))

    def flush(self) -> None:
        items = list(self.pending.items())
        self.pending.clear()
        self.size = 0
        self.git.put_many(items)
