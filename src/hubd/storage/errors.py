"""What the storage layer can fail with. Storage knows nothing of HTTP: the API maps these to the Hub's
error contract in one place (api/errors.py), as dulwich's object stores raise their own errors."""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error the blob stores raise on purpose."""


class BlobNotFound(StorageError):
    """A key is absent. Every backend maps its own not-found to this."""


class InvalidKey(StorageError, ValueError):
    """A key (or the oid it is built from) is not one the store accepts."""


class ContentMismatch(StorageError):
    """Streamed bytes are not the object they were claimed to be (size or hash), or exceed a size limit."""


class StorageFull(StorageError):
    """The store has no space left; nothing was written."""


class StorageUnavailable(StorageError):
    """The store cannot be reached, or refuses writes (read-only file system)."""

    def __init__(self, message: str = "The storage is unavailable, try again later") -> None:
        super().__init__(message)
