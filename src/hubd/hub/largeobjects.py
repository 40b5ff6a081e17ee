"""Large objects (LFS) arriving: how each is sent, single uploads hashed while streamed, multipart parts and
their assembly, objects a client PUT straight into object storage. Each ends linked to the repo it was
uploaded for (ARCHITECTURE note 7: stored content is readable only through a repo that links it). The
batch API in api/lfs.py parses, signs URLs and shapes answers around these."""

from __future__ import annotations

import hmac
import secrets
from enum import StrEnum
from typing import TYPE_CHECKING

from hubd.hub.errors import BadRequest, NotFound
from hubd.storage.blobstore import BlobStore, HashingWriter, lfs_key, sha256_of
from hubd.storage.errors import BlobNotFound
from hubd.storage.lfspointer import MAX_OBJECT_SIZE

if TYPE_CHECKING:
    from hubd.hub.service import Hub

S3_SINGLE_PUT_LIMIT = 5 * 1024**3  # the largest single PUT object storage accepts


class Transfer(StrEnum):
    DIRECT = "direct"  # one presigned PUT straight into object storage, hashed by verify afterwards
    SINGLE = "single"  # one PUT through hubd, hashed while streamed
    MULTIPART = "multipart"  # parts through hubd, assembled and hashed on completion


class StreamedUpload:
    """Bytes streamed into a staged blob, hashed as they come, refused beyond `size`; nothing is visible
    until finished, and `abort` (always safe) leaves nothing behind."""

    def __init__(self, blobs: BlobStore, key: str, size: int) -> None:
        self.blobs = blobs
        self.staged = blobs.stage(key)
        self.writer = HashingWriter(self.staged, size)

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    def abort(self) -> None:
        self.staged.abort()


def part_key(upload_id: str, n: int) -> str:
    if not all(c in "0123456789abcdef" for c in upload_id) or len(upload_id) != 32:
        raise BadRequest("Invalid upload id")
    return f"uploads/{upload_id}/{n:05d}"


def part_size(size: int, chunk: int, n: int) -> int:
    return min(chunk, size - (n - 1) * chunk)


def finish_part(upload: StreamedUpload, n: int, size: int, chunk: int) -> str:
    """Publish one whole part; its sha256 (the part's ETag)."""
    expected = part_size(size, chunk, n)
    if upload.writer.size != expected:
        raise BadRequest(f"Part {n} must be {expected} bytes, got {upload.writer.size}")
    upload.staged.publish()
    return upload.writer.sha256.hexdigest()


class LargeObjectUploads:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.blobs = hub.blobs

    def transfer_for(self, size: int, client_multipart: bool) -> Transfer:
        """git-lfs has no multipart transfer: it gets one PUT at any size (streamed and hashed by hubd)."""
        settings = self.hub.settings
        single_limit = settings.lfs_multipart_threshold if client_multipart else MAX_OBJECT_SIZE
        if self.blobs.presigns and not settings.storage_proxy and size <= min(single_limit, S3_SINGLE_PUT_LIMIT):
            return Transfer.DIRECT
        return Transfer.SINGLE if size <= single_limit else Transfer.MULTIPART

    def direct_upload(self) -> tuple[str, str | None]:
        """A key of its own for an object PUT straight into object storage, and the presigned URL of that PUT
        (None when the store cannot sign one)."""
        pending = f"uploads/lfs/{secrets.token_hex(16)}"
        return pending, self.blobs.presigned_put(pending)

    def begin_object(self, oid: str, size: int) -> StreamedUpload:
        return StreamedUpload(self.blobs, lfs_key(oid), size)

    def finish_object(self, upload: StreamedUpload, repo_id: int, oid: str, size: int) -> None:
        """Keep the bytes only if they are the claimed object, then link it. An object already stored for
        another repo was still uploaded in full: that is the proof of possession."""
        upload.writer.publish_if_matches(self.blobs, oid, size)
        self.hub.objects.link(repo_id, oid, size)

    def begin_part(self, upload_id: str, n: int, size: int, chunk: int) -> StreamedUpload:
        return StreamedUpload(self.blobs, part_key(upload_id, n), part_size(size, chunk, n))

    def assemble_parts(self, repo_id: int, oid: str, size: int, chunk: int, upload_id: str) -> None:
        """The parts, in order, become the object if together they are it; then they are deleted."""
        blobs = self.blobs
        count = -(-size // chunk) if chunk else 0
        keys = [part_key(upload_id, n) for n in range(1, count + 1)]
        upload = self.begin_object(oid, size)
        try:
            for key in keys:
                try:
                    for data in blobs.iter_range(key, 0, blobs.stat(key)):
                        upload.write(data)
                except BlobNotFound:
                    raise BadRequest("A part of this upload is missing") from None
            upload.writer.publish_if_matches(blobs, oid, size)
        finally:
            upload.abort()
        for key in keys:
            blobs.delete(key)
        self.hub.objects.link(repo_id, oid, size)

    def adopt_pending(self, repo_id: int, oid: str, size: int, pending: str) -> None:
        """An object the client PUT straight into object storage: hash it there, then store it under its oid."""
        blobs = self.blobs
        try:
            digest, stored = sha256_of(blobs, pending)
        except BlobNotFound:
            raise NotFound("Nothing was uploaded for this object") from None
        try:
            if stored != size or not hmac.compare_digest(digest, oid):
                raise BadRequest("The uploaded bytes are not the object: sha256 or size differ")
            if not blobs.exists(lfs_key(oid)):
                blobs.copy(pending, lfs_key(oid))
        finally:
            blobs.delete(pending)
        self.hub.objects.link(repo_id, oid, size)
