"""Git LFS pointer files: the text that stands in the git tree for a large file."""

from __future__ import annotations

import re
from dataclasses import dataclass

SPEC = "https://git-lfs.github.com/spec/v1"
MAX_POINTER_SIZE = 1023  # git-lfs reads a blob as a pointer only below 1024 bytes
# The largest object one upload may declare (the Hub refuses files above 500 GB in one piece).
MAX_OBJECT_SIZE = 500 * 10**9
_POINTER = re.compile(
    rb"^version https://git-lfs\.github\.com/spec/v1\noid sha256:([0-9a-f]{64})\nsize (\d+)\n", re.ASCII
)


@dataclass(frozen=True, slots=True)
class LfsPointer:
    oid: str
    size: int
    pointer_size: int


def pointer_bytes(oid: str, size: int) -> bytes:
    return f"version {SPEC}\noid sha256:{oid}\nsize {size}\n".encode()


def parse_pointer(data: bytes) -> LfsPointer | None:
    m = _POINTER.match(data)
    if not m:
        return None
    return LfsPointer(m.group(1).decode(), int(m.group(2)), len(data))
