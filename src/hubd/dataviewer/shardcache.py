"""Parquet shards where DuckDB can read them. On local disk the blob itself is read in place; from object
storage each shard is copied once into data_dir/cache/parquet, named by its sha256 (immutable, so a copy
never goes stale), and the least recently used copies are evicted beyond a size limit."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

# A copy used this recently is never evicted: a query may be about to open it.
IN_USE_SECONDS = 120.0
_TMP_PREFIX = "tmp-"


class ShardCache:
    def __init__(self, root: Path, limit_bytes: int) -> None:
        self.root = root
        self.limit = limit_bytes

    def path(self, oid: str, blocks: Callable[[], Iterator[bytes]]) -> str:
        """The local copy of shard `oid`, made from `blocks()` when absent; marked used either way."""
        target = self.root / oid
        if target.exists():
            with contextlib.suppress(FileNotFoundError):  # evicted by another worker meanwhile: fetched again
                os.utime(target)
                return str(target)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=_TMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                for block in blocks():
                    f.write(block)
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        self.evict(keep=target)
        return str(target)

    def evict(self, keep: Path | None = None, now: float | None = None) -> list[str]:
        """Delete the least recently used copies until the cache fits its limit; the names deleted."""
        now = time.time() if now is None else now
        entries = []
        for entry in os.scandir(self.root):
            if entry.name.startswith(_TMP_PREFIX) or not entry.is_file():
                continue
            st = entry.stat()
            entries.append((st.st_mtime, st.st_size, entry.name))
        total = sum(size for _, size, _ in entries)
        deleted = []
        for mtime, size, name in sorted(entries):
            if total <= self.limit:
                break
            if (keep is not None and name == keep.name) or now - mtime < IN_USE_SECONDS:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.root / name)
            total -= size
            deleted.append(name)
        return deleted
