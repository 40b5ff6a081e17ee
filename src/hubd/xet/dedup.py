"""Global dedup: an index of eligible chunks, and the shard hf_xet receives when a chunk is known.

Chunk hashes in the answer are keyed with a random HMAC key, so the answer reveals nothing a client
could use to claim data it does not hold; a shard that reuses the xorb must still carry the range
verification hashes, which need the real chunk hashes."""

from __future__ import annotations

import os
import struct
import time

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from hubd.db.engine import Database
from hubd.db.schema import xet_chunks
from hubd.xet.hashing import keyed, xet_hex, xet_unhex
from hubd.xet.shard import BOOKEND, TAG, ShardXorb
from hubd.xet.store import XetFile, XetStore
from hubd.xet.xorb import ChunkMeta

KEY_EXPIRY = 14 * 24 * 3600


def eligible(chunk: bytes) -> bool:
    return int.from_bytes(chunk[24:32], "little") % 1024 == 0


def index_chunks(db: Database, entries: dict[str, str]) -> None:
    """Record chunk → xorb for eligible chunks (first chunks of files included by the caller)."""
    with db.write() as conn:
        for chunk, xorb in entries.items():
            if conn.execute(select(xet_chunks.c.xorb).where(xet_chunks.c.chunk == chunk)).first() is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(xet_chunks).values(chunk=chunk, xorb=xorb))
                except IntegrityError:
                    pass


def dedup_entries(store: XetStore, files: list[XetFile], xorbs: list[ShardXorb]) -> dict[str, str]:
    """The chunks of an upload that a later dedup query may ask for, each with a xorb that holds it."""
    entries = {}
    for x in xorbs:
        for chunk, _size in x.chunks:
            if eligible(chunk):
                entries[xet_hex(chunk)] = xet_hex(x.hash)
    for f in files:
        if f.terms:
            first = f.terms[0]
            entries[xet_hex(store.xorb_index(first.xorb)[first.start].hash)] = first.xorb
    return entries


def xorb_for_chunk(db: Database, chunk: str) -> str | None:
    with db.read() as conn:
        return conn.execute(select(xet_chunks.c.xorb).where(xet_chunks.c.chunk == chunk)).scalar()


def dedup_shard(store: XetStore, xorb: str) -> bytes:
    """A complete shard (footer and lookup tables included) describing one xorb with keyed chunk hashes."""
    chunks: tuple[ChunkMeta, ...] = store.xorb_index(xorb)
    hmac_key = os.urandom(32)
    keyed_hashes = [keyed(hmac_key, c.hash) for c in chunks]
    xorb_raw = xet_unhex(xorb)
    total = sum(c.size for c in chunks)
    on_disk = chunks[-1].end
    out = bytearray(struct.pack("<32sQQ", TAG, 2, 200))
    file_info_offset = len(out)
    out += BOOKEND
    xorb_info_offset = len(out)
    out += struct.pack("<32sIIII", xorb_raw, 0, len(chunks), total, on_disk)
    start = 0
    for h, c in zip(keyed_hashes, chunks, strict=True):
        out += struct.pack("<32sIIII", h, start, c.size, 0, 0)
        start += c.size
    out += BOOKEND
    file_lookup_offset = len(out)
    xorb_lookup_offset = len(out)
    out += struct.pack("<QI", int.from_bytes(xorb_raw[:8], "little"), 0)
    chunk_lookup_offset = len(out)
    lookups = sorted((int.from_bytes(h[:8], "little"), i) for i, h in enumerate(keyed_hashes))
    for key, i in lookups:
        out += struct.pack("<QII", key, 0, i)
    footer_offset = len(out)
    now = int(time.time())
    out += struct.pack(
        "<QQQQQQQQQ32sQQ48xQQQQ",
        1, file_info_offset, xorb_info_offset, file_lookup_offset, 0, xorb_lookup_offset, 1,
        chunk_lookup_offset, len(lookups), hmac_key, now, now + KEY_EXPIRY, on_disk, total, on_disk,
        footer_offset,
    )
    assert len(out) - footer_offset == 200
    return bytes(out)
