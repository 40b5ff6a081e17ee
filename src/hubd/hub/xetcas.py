"""The Xet CAS as the Hub serves it: xorbs staged and read by hash, shards ingested and their files linked
to the repo that uploaded them, files found only through a repo that links them, global dedup lookups.
xet/ holds the formats and the store; this adds the repo links and the database beside them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from hubd.storage.blobstore import StagedBlob
from hubd.xet.dedup import dedup_entries, index_chunks, xorbs_for_chunk
from hubd.xet.shard import parse_shard
from hubd.xet.store import XetFile, xorb_key

if TYPE_CHECKING:
    from hubd.hub.service import Hub


class XetCas:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    @property
    def stores_locally(self) -> bool:
        """Whether xorbs are files on this machine (rather than objects in object storage)."""
        return self.hub.blobs.local_path(xorb_key("0" * 64)) is not None

    def stage_xorb(self, h: str) -> StagedBlob:
        """Where an arriving xorb's bytes are written; published by XetStore.publish_xorb, or aborted."""
        return self.hub.blobs.stage(xorb_key(h))

    def xorb_size(self, h: str) -> int:
        """The stored xorb's size (storage's BlobNotFound when it has none)."""
        return self.hub.blobs.stat(xorb_key(h))

    def iter_xorb(self, h: str, start: int, end: int, block: int) -> Iterator[bytes]:
        return self.hub.blobs.iter_range(xorb_key(h), start, end, block)

    def ingest_shard(self, repo_id: int, body: BinaryIO) -> None:
        """Store the files a shard describes (each checked against its xorbs), link them to the repo that
        uploaded it, and index their chunks for global dedup."""
        files, xorbs = parse_shard(body)
        stored = self.hub.xet.add_files(files, xorbs)
        for f in stored:
            self.hub.objects.link(repo_id, f.sha256, f.size, f.hash)
        index_chunks(self.hub.db, dedup_entries(self.hub.xet, stored, xorbs))

    def xorbs_for_chunk(self, chunk: str) -> list[str]:
        """The xorbs a dedup answer for this chunk describes (none for an unknown chunk)."""
        return xorbs_for_chunk(self.hub.db, self.hub.xet, chunk)

    def file_of(self, repo_id: int, h: str, range_header: str | None) -> XetFile | None:
        """The Xet file `h` as a reader of the repo may see it: only a file the repo links (ARCHITECTURE
        note 7); a mirrored repo's is filled from the upstream's CAS as it is asked for, a Range at a time."""
        mirror = self.hub.mirror
        if mirror is not None and mirror.is_mirrored(repo_id):
            return mirror.xet.file_for_id(repo_id, h, range_header)
        if not self.hub.objects.has_xet_file(repo_id, h):
            return None
        return self.hub.xet.file(h)
