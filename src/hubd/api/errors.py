"""The one place where the errors of the lower layers become the Hub's error contract. Storage and Xet raise
their own errors (they know nothing of HTTP); the domain raises HubErrors; the app renders what this
returns."""

from __future__ import annotations

import logging

from hubd.hub.errors import BadRequest, HubError, InsufficientStorage, ServiceUnavailable, StorageCorrupt
from hubd.storage.errors import (
    BlobNotFound,
    ContentMismatch,
    InvalidKey,
    StorageError,
    StorageFull,
    StorageUnavailable,
)
from hubd.xet.errors import CorruptStoredObject, MalformedXetObject, XetError

log = logging.getLogger("hubd.errors")


def as_hub_error(exc: StorageError | XetError) -> HubError:
    """The Hub's answer for a storage or Xet error: the client's fault (bad key, bytes that are not what they
    claim, a malformed xorb or shard) is a 400; hubd's own (a stored object missing or corrupt) a logged 500;
    a full store 507; an unreachable one 503."""
    match exc:
        case InvalidKey() | ContentMismatch() | MalformedXetObject():
            return BadRequest(str(exc))
        case StorageFull():
            return InsufficientStorage()
        case StorageUnavailable():
            return ServiceUnavailable(str(exc))
        case CorruptStoredObject():
            log.error("corrupt stored object: %s", exc)
            return StorageCorrupt()
        case BlobNotFound():
            log.error("stored object missing: %s", exc)  # linked but absent: fsck finds these
            return StorageCorrupt("A stored object is missing")
    log.error("storage error: %r", exc)
    return StorageCorrupt(str(exc))
