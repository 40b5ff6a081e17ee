"""BlobStore on any S3 API (AWS, MinIO, Ceph, SeaweedFS), configured as boto3 reads its environment.

Staged writes are multipart uploads to their final key, completed only on publish: a key is whole or
absent, and memory holds one part at a time."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from hubd.storage.errors import BlobNotFound, InvalidKey, StorageFull, StorageUnavailable

log = logging.getLogger("hubd.storage")
PART_SIZE = 16 * 1024 * 1024
_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}
_FULL = {"XMinioStorageFull", "InsufficientStorage", "StorageFull"}  # S3 has no standard code for a full store


def _call(fn, *args: Any, key: str = "", **kwargs: Any) -> Any:
    """Every SDK call goes through here: not-found becomes BlobNotFound, an outage a 503."""
    try:
        return fn(*args, **kwargs)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _NOT_FOUND:
            raise BlobNotFound(key) from None
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
        if code in _FULL or status == 507:
            log.error("object storage full on %s %s: %s", getattr(fn, "__name__", fn), key, exc)
            raise StorageFull() from exc
        if status >= 500:
            log.warning("object storage error on %s %s: %s", getattr(fn, "__name__", fn), key, exc)
            raise StorageUnavailable("Object storage is unavailable, try again later") from exc
        raise
    except BotoCoreError as exc:
        log.warning("object storage unreachable on %s %s: %s", getattr(fn, "__name__", fn), key, exc)
        raise StorageUnavailable("Object storage is unavailable, try again later") from exc


class _S3Staged:
    def __init__(self, store: S3BlobStore, key: str) -> None:
        self.store = store
        self.key = store.full(key)
        self.buf = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict] = []
        self.done = False

    def write(self, data: bytes) -> None:
        self.buf.extend(data)
        while len(self.buf) >= PART_SIZE:
            self._send(bytes(self.buf[:PART_SIZE]))
            del self.buf[:PART_SIZE]

    def _send(self, part: bytes) -> None:
        s3, bucket = self.store.client, self.store.bucket
        if self.upload_id is None:
            self.upload_id = _call(s3.create_multipart_upload, Bucket=bucket, Key=self.key)["UploadId"]
        n = len(self.parts) + 1
        etag = _call(s3.upload_part, Bucket=bucket, Key=self.key, UploadId=self.upload_id, PartNumber=n,
                     Body=part)["ETag"]
        self.parts.append({"PartNumber": n, "ETag": etag})

    def publish(self) -> None:
        s3, bucket = self.store.client, self.store.bucket
        if self.upload_id is None:
            _call(s3.put_object, Bucket=bucket, Key=self.key, Body=bytes(self.buf))
        else:
            if self.buf:
                self._send(bytes(self.buf))
            _call(s3.complete_multipart_upload, Bucket=bucket, Key=self.key, UploadId=self.upload_id,
                  MultipartUpload={"Parts": self.parts})
        self.buf.clear()
        self.done = True

    def abort(self) -> None:
        if not self.done and self.upload_id is not None:
            # an unfinished upload left behind is invisible; bucket lifecycle rules clear it
            with contextlib.suppress(BlobNotFound, StorageUnavailable):
                _call(self.store.client.abort_multipart_upload, Bucket=self.store.bucket, Key=self.key,
                      UploadId=self.upload_id)
        self.buf.clear()
        self.done = True


class S3BlobStore:
    presigns = True  # clients can be sent straight to the bucket (unless storage_proxy says otherwise)

    def __init__(self, url: str) -> None:
        rest = url[len("s3://"):]
        self.bucket, _, prefix = rest.partition("/")
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        config = Config(retries={"max_attempts": 3, "mode": "standard"}, max_pool_connections=64,
                        connect_timeout=5, read_timeout=60)
        self.client = boto3.session.Session().client("s3", config=config)

    def full(self, key: str) -> str:
        if key.startswith("/") or ".." in key.split("/"):
            raise InvalidKey(f"bad blob key {key!r}")
        return self.prefix + key

    def ensure_bucket(self) -> None:
        try:
            _call(self.client.head_bucket, Bucket=self.bucket)
        except BlobNotFound:
            _call(self.client.create_bucket, Bucket=self.bucket)

    def open(self, key: str) -> BinaryIO:
        return _call(self.client.get_object, Bucket=self.bucket, Key=self.full(key), key=key)["Body"]

    def read(self, key: str) -> bytes:
        return self.open(key).read()

    def iter_range(self, key: str, start: int, end: int, chunk: int = 1024 * 1024) -> Iterator[bytes]:
        if end <= start:
            return
        body = _call(self.client.get_object, Bucket=self.bucket, Key=self.full(key),
                     Range=f"bytes={start}-{end - 1}", key=key)["Body"]
        try:
            while data := body.read(chunk):
                yield data
        except BotoCoreError as exc:
            raise StorageUnavailable("Object storage is unavailable, try again later") from exc
        finally:
            body.close()

    def _head(self, key: str) -> dict:
        return _call(self.client.head_object, Bucket=self.bucket, Key=self.full(key), key=key)

    def stat(self, key: str) -> int:
        return int(self._head(key)["ContentLength"])

    def modified(self, key: str) -> float:
        return self._head(key)["LastModified"].timestamp()

    def exists(self, key: str) -> bool:
        try:
            self._head(key)
            return True
        except BlobNotFound:
            return False

    def put_bytes(self, key: str, data: bytes) -> None:
        _call(self.client.put_object, Bucket=self.bucket, Key=self.full(key), Body=data)

    def stage(self, key: str) -> _S3Staged:
        return _S3Staged(self, key)

    def delete(self, key: str) -> None:
        _call(self.client.delete_object, Bucket=self.bucket, Key=self.full(key))

    def local_path(self, key: str) -> str | None:
        return None

    def check_writable(self) -> None:
        """Readiness: one small PUT (the same key each time, so nothing accumulates)."""
        _call(self.client.put_object, Bucket=self.bucket, Key=self.full("readyz-probe"), Body=b"ok")

    def iter_keys(self, prefix: str) -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.full(prefix) if prefix else self.prefix):
                for item in page.get("Contents", []):
                    yield item["Key"][len(self.prefix):]
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable("Object storage is unavailable, try again later") from exc

    def presigned_get(self, key: str, expires: int = 3600) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": self.full(key)}, ExpiresIn=expires)

    def presigned_put(self, key: str, expires: int = 3600) -> str:
        return self.client.generate_presigned_url(
            "put_object", Params={"Bucket": self.bucket, "Key": self.full(key)}, ExpiresIn=expires)

    def copy(self, source: str, dest: str) -> None:
        """Server-side copy (multipart copy above 5 GB, done by boto3's managed transfer)."""
        try:
            self.client.copy({"Bucket": self.bucket, "Key": self.full(source)}, self.bucket, self.full(dest))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _NOT_FOUND:
                raise BlobNotFound(source) from None
            raise
        except BotoCoreError as exc:
            raise StorageUnavailable("Object storage is unavailable, try again later") from exc
