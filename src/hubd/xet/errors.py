"""What the Xet layer can fail with. A malformed upload is the client's fault; a stored object that does
not parse is hubd's. The API maps both to the Hub's error contract (api/errors.py)."""

from __future__ import annotations


class XetError(Exception):
    """Base of every error the Xet layer raises on purpose."""


class MalformedXetObject(XetError):
    """A xorb, shard or hash sent by a client does not parse or does not verify."""


class CorruptStoredObject(XetError):
    """A stored Xet object does not parse: hubd's storage is at fault, never the client."""
