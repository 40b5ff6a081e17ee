"""Xet hashes: keyed blake3 chunk hashes, the merkle aggregation for xorbs and files, range hashes.

A hash's string form is four little-endian u64s printed in turn: each 8-byte group reversed, then hex."""

from __future__ import annotations

import blake3

DATA_KEY = bytes([102, 151, 245, 119, 91, 149, 80, 222, 49, 53, 203, 172, 165, 151, 24, 28, 157, 228, 33, 16,
                  155, 235, 43, 88, 180, 208, 176, 75, 147, 173, 242, 41])
INTERNAL_NODE_KEY = bytes([1, 126, 197, 199, 165, 71, 41, 150, 253, 148, 102, 102, 180, 138, 2, 230, 93, 221, 83,
                           111, 55, 199, 109, 210, 248, 99, 82, 230, 74, 83, 113, 63])
VERIFICATION_KEY = bytes([127, 24, 87, 214, 206, 86, 237, 102, 18, 127, 249, 19, 231, 165, 195, 243, 164, 205, 38,
                          213, 181, 219, 73, 230, 65, 36, 152, 127, 40, 251, 148, 195])
ZERO = bytes(32)

Node = tuple[bytes, int]  # (raw 32-byte hash, byte size)


def xet_hex(h: bytes) -> str:
    return "".join(h[i:i + 8][::-1].hex() for i in range(0, 32, 8))


def xet_unhex(s: str) -> bytes:
    b = bytes.fromhex(s)
    if len(b) != 32:
        raise ValueError("a xet hash is 32 bytes")
    return b"".join(b[i:i + 8][::-1] for i in range(0, 32, 8))


def keyed(key: bytes, data: bytes | memoryview) -> bytes:
    return blake3.blake3(data, key=key).digest()


def chunk_hash(data: bytes | memoryview) -> bytes:
    return keyed(DATA_KEY, data)


def _group_end(nodes: list[Node], i: int) -> int:
    """End (exclusive) of the merge group starting at i: 3 to 9 members, cut where a hash is 0 mod 4."""
    left = len(nodes) - i
    if left <= 2:
        return len(nodes)
    end = min(9, left)
    for j in range(2, end):
        if int.from_bytes(nodes[i + j][0][24:32], "little") % 4 == 0:
            return i + j + 1
    return i + end


def merkle_root(nodes: list[Node]) -> bytes:
    if not nodes:
        return ZERO
    while len(nodes) > 1:
        merged: list[Node] = []
        i = 0
        while i < len(nodes):
            end = _group_end(nodes, i)
            group = nodes[i:end]
            text = "".join(f"{xet_hex(h)} : {size}\n" for h, size in group).encode()
            merged.append((keyed(INTERNAL_NODE_KEY, text), sum(size for _, size in group)))
            i = end
        nodes = merged
    return nodes[0][0]


def xorb_hash(chunks: list[Node]) -> bytes:
    return merkle_root(chunks)


def file_hash(chunks: list[Node]) -> bytes:
    return ZERO if not chunks else keyed(ZERO, merkle_root(chunks))


def range_hash(chunk_hashes: list[bytes]) -> bytes:
    return keyed(VERIFICATION_KEY, b"".join(chunk_hashes))


class MerkleBuilder:
    """`merkle_root` over nodes fed one at a time, holding at most a few nodes per tree level.

    A merge group is decided by its first 9 nodes alone whenever 9 or more remain on its level, so groups
    can be cut as soon as a level holds 9 pending nodes; only the tails (< 9 per level) wait for `root`, where
    they are merged exactly as `merkle_root` merges the end of a level. A 16 GiB file (262,144 chunks) then
    needs a few hundred bytes instead of a list of every chunk."""

    def __init__(self) -> None:
        self.levels: list[list[Node]] = []
        self.counts: list[int] = []  # nodes ever added to each level

    def add(self, h: bytes, size: int) -> None:
        self._push(0, (h, size))

    def _push(self, level: int, node: Node) -> None:
        if level == len(self.levels):
            self.levels.append([])
            self.counts.append(0)
        pending = self.levels[level]
        pending.append(node)
        self.counts[level] += 1
        while len(pending) >= 9:
            end = _group_end(pending, 0)
            group = pending[:end]
            del pending[:end]
            self._push(level + 1, _merge(group))

    def root(self) -> bytes:
        level = 0
        while level < len(self.levels):
            if self.counts[level] == 1 and level == len(self.levels) - 1:
                return self.levels[level][0][0]
            # this level is complete: merge its tail as merkle_root merges the end of a level
            pending = self.levels[level]
            i = 0
            while i < len(pending):
                end = _group_end(pending, i)
                self._push(level + 1, _merge(pending[i:end]))
                i = end
            pending.clear()
            level += 1
        return ZERO


def _merge(group: list[Node]) -> Node:
    text = "".join(f"{xet_hex(h)} : {size}\n" for h, size in group).encode()
    return keyed(INTERNAL_NODE_KEY, text), sum(size for _, size in group)


def file_hash_of(builder: MerkleBuilder) -> bytes:
    """`file_hash` of the nodes fed to a builder."""
    return ZERO if not builder.counts else keyed(ZERO, builder.root())
