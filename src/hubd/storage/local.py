"""BlobStore on a local directory: temp file + fsync + rename, so a key is whole or absent."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from hubd.storage.errors import BlobNotFound, InvalidKey, StorageFull, StorageUnavailable

_FULL = {errno.ENOSPC, errno.EDQUOT}
COPY_BLOCK = 4 << 20


@contextlib.contextmanager
def disk_errors() -> Iterator[None]:
    """A full disk is the operator's to fix, not a bug: StorageFull (a 507 to clients; nothing was published:
    writes stage first), read-only storage StorageUnavailable (a 503), never a 500."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL:
            raise StorageFull() from exc
        if exc.errno == errno.EROFS:
            raise StorageUnavailable("The storage is read-only") from exc
        raise


class _LocalStaged:
    def __init__(self, store: LocalBlobStore, key: str) -> None:
        self.store = store
        self.dest = store.path(key)
        with disk_errors():
            fd, self.tmp_path = tempfile.mkstemp(dir=store.tmp_dir, prefix="stage-")
        self.file = os.fdopen(fd, "wb", buffering=0)  # bodies arrive in large chunks: no extra copy
        self.done = False

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        with disk_errors():
            while view:  # an unbuffered write may take less than it is given
                view = view[self.file.write(view):]

    def publish(self) -> None:
        with disk_errors():
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            self.dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.tmp_path, self.dest)
        self.done = True

    def abort(self) -> None:
        if not self.done:
            self.file.close()
            Path(self.tmp_path).unlink(missing_ok=True)
            self.done = True


class LocalBlobStore:
    presigns = False  # every byte goes through hubd (zero-copy from the file where it can)

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()
        self.tmp_dir = self.root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        if key.startswith("/") or ".." in key.split("/"):
            raise InvalidKey(f"bad blob key {key!r}")
        return self.root / key

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self.path(key), "rb")
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def read(self, key: str) -> bytes:
        with self.open(key) as f:
            return f.read()

    def iter_range(self, key: str, start: int, end: int, chunk: int = 1024 * 1024) -> Iterator[bytes]:
        with self.open(key) as f:
            f.seek(start)
            remaining = end - start
            while remaining > 0:
                data = f.read(min(chunk, remaining))
                if not data:
                    break
                remaining -= len(data)
                yield data

    def stat(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def modified(self, key: str) -> float:
        try:
            return self.path(key).stat().st_mtime
        except FileNotFoundError:
            raise BlobNotFound(key) from None

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def put_bytes(self, key: str, data: bytes) -> None:
        if self.exists(key):
            return
        staged = self.stage(key)
        try:
            staged.write(data)
            staged.publish()
        finally:
            staged.abort()

    def stage(self, key: str) -> _LocalStaged:
        return _LocalStaged(self, key)

    def copy(self, source: str, dest: str) -> None:
        """Staged like any write, so `dest` is whole or absent."""
        with self.open(source) as src:
            staged = self.stage(dest)
            try:
                while block := src.read(COPY_BLOCK):
                    staged.write(block)
                staged.publish()
            finally:
                staged.abort()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def presigned_get(self, key: str, expires: int = 3600) -> None:
        return None

    def presigned_put(self, key: str, expires: int = 3600) -> None:
        return None

    def local_path(self, key: str) -> str | None:
        return str(self.path(key))

    def check_writable(self) -> None:
        """Readiness: write, sync and remove a small file where staged writes go. Raises
        StorageFull when the disk is full, so /readyz fails while no upload could succeed."""
        staged = self.stage("readyz-probe")
        try:
            staged.write(b"\0" * 4096)
            with disk_errors():
                staged.file.flush()
                os.fsync(staged.file.fileno())
        finally:
            staged.abort()

    def iter_keys(self, prefix: str) -> Iterator[str]:
        base = self.path(prefix) if prefix else self.root
        if not base.exists():
            return
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                full = Path(dirpath) / name
                yield str(full.relative_to(self.root))

