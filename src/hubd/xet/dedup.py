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
from hubd.xet.xorb import XorbIndex

KEY_EXPIRY = 14 * 24 * 3600
MAX_XORBS_PER_ANSWER = 128


def eligible(chunk: bytes) -> bool:
    return int.from_bytes(chunk[24:32], "little") % 1024 == 0


def index_chunks(db: Database, entries: dict[str, tuple[str, str | None]]) -> None:
    """Record chunk → (xorb, file) for eligible chunks (first chunks of files included by the caller)."""
    with db.write() as conn:
        for chunk, (xorb, file) in entries.items():
            if conn.execute(select(xet_chunks.c.xorb).where(xet_chunks.c.chunk == chunk)).first() is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(xet_chunks).values(chunk=chunk, xorb=xorb, file=file))
                except IntegrityError:
                    pass


def dedup_entries(store: XetStore, files: list[XetFile],
                  xorbs: list[ShardXorb]) -> dict[str, tuple[str, str | None]]:
    """The chunks of an upload that a later dedup query may ask for, each with a xorb that holds it and
    a file that uses it."""
    file_of = {t.xorb: f.hash for f in files for t in f.terms}
    entries: dict[str, tuple[str, str | None]] = {}
    for x in xorbs:
        xh = xet_hex(x.hash)
        for chunk, _size in x.chunks():
            if eligible(chunk):
                entries[xet_hex(chunk)] = (xh, file_of.get(xh))
    for f in files:
        if f.terms:
            first = f.terms[0]
            entries[xet_hex(store.xorb_index(first.xorb)[first.start].hash)] = (first.xorb, f.hash)
    return entries


def xorbs_for_chunk(db: Database, store: XetStore, chunk: str) -> list[str]:
    """The xorb holding a known chunk, then the other xorbs of the file it came from: one query then
    dedups a whole re-uploaded file, not only the ~1 in 1024 chunks the client may ask about."""
    with db.read() as conn:
        row = conn.execute(select(xet_chunks.c.xorb, xet_chunks.c.file).where(xet_chunks.c.chunk == chunk)).first()
    if row is None:
        return []
    xorbs = [row.xorb]
    f = store.file(row.file) if row.file else None
    for term in f.terms if f else ():  # a large file's terms are read from storage a block at a time: stop early
        if len(xorbs) >= MAX_XORBS_PER_ANSWER:
            break
        if term.xorb not in xorbs:
            xorbs.append(term.xorb)
    return xorbs


def dedup_shard(store: XetStore, xorbs: list[str]) -> bytes:
    """A complete shard (footer and lookup tables included) describing xorbs with keyed chunk hashes."""
    hmac_key = os.urandom(32)
    out = bytearray(struct.pack("<32sQQ", TAG, 2, 200))
    file_info_offset = len(out)
    out += BOOKEND
    xorb_info_offset = len(out)
    xorb_lookups, chunk_lookups = [], []
    record = 0  # records since the start of the xorb section: what the lookup tables point at
    stored = materialized = 0
    for xorb in xorbs:
        chunks: XorbIndex = store.xorb_index(xorb)
        raw = xet_unhex(xorb)
        total = chunks.unpacked(0, len(chunks))
        on_disk = chunks.end(len(chunks) - 1)
        stored += on_disk
        materialized += total
        xorb_lookups.append((int.from_bytes(raw[:8], "little"), record))
        out += struct.pack("<32sIIII", raw, 0, len(chunks), total, on_disk)
        start = 0
        for i, c in enumerate(chunks):
            h = keyed(hmac_key, c.hash)
            out += struct.pack("<32sIIII", h, start, c.size, 0, 0)
            chunk_lookups.append((int.from_bytes(h[:8], "little"), record, i))
            start += c.size
        record += 1 + len(chunks)
    out += BOOKEND
    file_lookup_offset = len(out)
    xorb_lookup_offset = len(out)
    for key, index in sorted(xorb_lookups):
        out += struct.pack("<QI", key, index)
    chunk_lookup_offset = len(out)
    for key, index, offset in sorted(chunk_lookups):
        out += struct.pack("<QII", key, index, offset)
    footer_offset = len(out)
    now = int(time.time())
    out += struct.pack(
        "<QQQQQQQQQ32sQQ48xQQQQ",
        1, file_info_offset, xorb_info_offset, file_lookup_offset, 0, xorb_lookup_offset, len(xorb_lookups),
        chunk_lookup_offset, len(chunk_lookups), hmac_key, now, now + KEY_EXPIRY, stored, materialized, stored,
        footer_offset,
    )
    assert len(out) - footer_offset == 200
    return bytes(out)
