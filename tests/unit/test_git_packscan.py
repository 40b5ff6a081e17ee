"""The bounded first pass over a pushed pack (hubd.git.packscan), on packs dulwich writes."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import pytest
from dulwich.object_format import DEFAULT_OBJECT_FORMAT
from dulwich.objects import Blob, Tag
from dulwich.pack import write_pack_objects

from hubd.git.packscan import PackLimits, PackRefused, scan_pack

LIMITS = PackLimits(max_objects=100, max_object_size=1024 * 1024, max_inflated=4 * 1024 * 1024,
                    large_blob_hint="use git-lfs")


def pack_of(*objects) -> bytes:  # type: ignore[no-untyped-def]
    out = io.BytesIO()
    write_pack_objects(out.write, list(objects), object_format=DEFAULT_OBJECT_FORMAT)
    return out.getvalue()


def test_a_plain_pack_passes() -> None:
    summary = scan_pack(io.BytesIO(pack_of(Blob.from_string(b"a"), Blob.from_string(b"b" * 1000))), LIMITS)
    assert summary.count == 2 and summary.inflated == 1001


def test_a_zlib_bomb_is_refused_while_inflating() -> None:
    # one object claiming 1 KiB whose stream inflates to 64 MiB: stopped after one window, not after 64 MiB
    body = zlib.compress(b"\0" * 64 * 1024 * 1024)
    head = bytes([0x30 | 0x80, 0x40])  # blob, declared size 1024
    data = b"PACK" + struct.pack(">II", 2, 1) + head + body
    data += hashlib.sha1(data).digest()
    with pytest.raises(PackRefused, match="inflates past"):
        scan_pack(io.BytesIO(data), LIMITS)


def test_too_large_objects_get_the_lfs_hint() -> None:
    with pytest.raises(PackRefused, match="use git-lfs"):
        scan_pack(io.BytesIO(pack_of(Blob.from_string(b"x" * (2 * 1024 * 1024)))), LIMITS)


def test_counts_tags_checksums_and_truncation() -> None:
    many = pack_of(*(Blob.from_string(str(i).encode()) for i in range(101)))
    with pytest.raises(PackRefused, match="at most 100 objects"):
        scan_pack(io.BytesIO(many), LIMITS)
    tag = Tag()
    blob = Blob.from_string(b"t")
    tag.object = (Blob, blob.id)
    tag.name, tag.message, tag.tagger = b"v1", b"m\n", b"T <t@example.org>"
    tag.tag_time, tag.tag_timezone = 0, 0
    # annotated tags pass the scan (what they may name is the push's check)
    assert scan_pack(io.BytesIO(pack_of(blob, tag)), LIMITS).types == {3: 1, 4: 1}
    good = pack_of(Blob.from_string(b"hello"))
    with pytest.raises(PackRefused, match="checksum"):
        scan_pack(io.BytesIO(good[:-1] + bytes([good[-1] ^ 1])), LIMITS)
    with pytest.raises(PackRefused, match="ends"):
        scan_pack(io.BytesIO(good[:20]), LIMITS)
    with pytest.raises(PackRefused, match="Not a git pack"):
        scan_pack(io.BytesIO(b"NOPE" + good[4:]), LIMITS)
