"""Reading what repos hold: a file's bytes wherever they are kept (git blob, LFS object, Xet), the large
object behind a pointer (the one place its read is authorized), a commit's card, and how stored bytes
leave hubd (a file on this machine, a presigned URL, or a stream of ranges)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from hubd.hub.browse import PathEntry
from hubd.hub.cards import card_data
from hubd.hub.errors import EntryNotFound
from hubd.hub.objectlinks import LinkedObject
from hubd.storage.blobstore import lfs_key

if TYPE_CHECKING:
    from hubd.hub.service import Hub

LFS_READ_BLOCK = 8 * 1024 * 1024


class Content:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._card = lru_cache(maxsize=4096)(lambda blob_sha: card_data(hub.git.raw("blob", blob_sha)))

    def card(self, commit_sha: str) -> dict | None:
        """cardData of the README.md at a commit (cached by the README's blob id, which is immutable)."""
        entry = self.hub.browse.lookup(commit_sha, "README.md")
        if entry is None or entry.is_dir or entry.lfs is not None:
            return None
        return self._card(entry.sha)

    def linked_object(self, repo_id: int, entry: PathEntry) -> LinkedObject:
        """The large object behind an LFS pointer, if this repo links it (uploaded to or verified for it).

        The one place where a read of stored large-object bytes is authorized (invariant 7): content is
        stored once for everyone, so a pointer naming an object the repo never linked reads as absent, never
        as another repo's bytes."""
        assert entry.lfs is not None
        mirror = self.hub.mirror
        linked = self.hub.objects.get(repo_id, entry.lfs.oid)
        if linked is None and mirror is not None and mirror.is_mirrored(repo_id):
            linked = mirror.fill_now(repo_id, entry)  # verified and linked to this repo, or an error
        if linked is None or linked.size != entry.lfs.size:
            raise EntryNotFound(f"{entry.path}: its LFS object was not uploaded to this repo")
        return linked

    def read_range(self, repo_id: int, entry: PathEntry, start: int, end: int) -> bytes:
        """Bytes [start, end) of a file, wherever they are kept (git blob, LFS object, Xet)."""
        return b"".join(self.iter_content(repo_id, entry, start, end))

    def local_file(self, repo_id: int, entry: PathEntry) -> str | None:
        """A path on this machine holding exactly the file's bytes, when storage is a local directory."""
        if entry.lfs is None:
            return self.hub.blobs.local_path(self.hub.git.blob_key(entry.sha))
        if self.linked_object(repo_id, entry).xet_hash is not None:
            return None  # kept in Xet: only a rebuilt copy has its bytes in one piece
        return self.hub.blobs.local_path(lfs_key(entry.lfs.oid))

    def iter_content(self, repo_id: int, entry: PathEntry, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """A file's bytes [start, end) as a stream of blocks."""
        hub, mirror = self.hub, self.hub.mirror
        end = entry.size if end is None else min(end, entry.size)
        if entry.lfs is None:
            yield hub.git.raw("blob", entry.sha)[start:end]
            return
        if mirror is not None and mirror.is_mirrored(repo_id) and not mirror.cached(repo_id, entry):
            yield from mirror.read_range(repo_id, entry, start, end)  # small ranges read, not filled
            return
        linked = self.linked_object(repo_id, entry)
        if linked.xet_hash is not None:
            f = hub.xet.file(linked.xet_hash)
            if f is None:
                raise EntryNotFound(f"{entry.path}: its Xet file is missing")
            yield from hub.xet.iter_bytes(f, start, end)
            return
        yield from hub.blobs.iter_range(lfs_key(entry.lfs.oid), start, end, LFS_READ_BLOCK)

    # --- sending stored bytes, by key ------------------------------------------------------------------
    # Handlers hold keys they were allowed to read (a blob of a tree they may read, a linked object, a
    # granted xorb); these say how the bytes under such a key leave hubd.
    def local_path(self, key: str) -> str | None:
        """The file on this machine holding the key's bytes, when storage is a local directory."""
        return self.hub.blobs.local_path(key)

    @property
    def redirects(self) -> bool:
        """Whether readers are sent to object storage (presigned URLs) rather than streamed by hubd."""
        return self.hub.blobs.presigns and not self.hub.settings.storage_proxy

    def redirect_url(self, key: str) -> str | None:
        """A presigned GET of the key, or None when hubd sends the bytes itself."""
        return self.hub.blobs.presigned_get(key) if self.redirects else None

    def size(self, key: str) -> int:
        """The stored size of the key's bytes (storage's BlobNotFound when there are none)."""
        return self.hub.blobs.stat(key)

    def iter_range(self, key: str, start: int, end: int, block: int) -> Iterator[bytes]:
        return self.hub.blobs.iter_range(key, start, end, block)
