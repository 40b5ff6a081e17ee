"""What a reconstruction answer holds, independent of how it is shaped (v1 `fetch_info` or v2 `xorbs`): the
terms of a byte range of a file and, per xorb, the stored byte spans that hold them. The API signs a
fetch URL for each span (api/xet.py); the spans are also what those URLs grant, and nothing more."""

from __future__ import annotations

from dataclasses import dataclass

from hubd.xet.store import XetFile, XetStore

# per xorb: (first chunk, end chunk) -> (first byte, last byte) of the stored chunk stream, inclusive
Spans = dict[tuple[int, int], tuple[int, int]]


@dataclass
class Reconstruction:
    terms: list[dict]
    fetch: dict[str, Spans]
    offset_into_first_range: int


def reconstruct(store: XetStore, f: XetFile, start: int, end: int) -> Reconstruction:
    """Only the terms of bytes [start, end) are built: hf_xet asks for a large file a segment at a time.
    Index lookups may read storage: callers run this off the event loop."""
    pieces = store.pieces(f, start, end)
    terms: list[dict] = []
    fetch: dict[str, Spans] = {}
    for p in pieces:
        unpacked = store.xorb_index(p.xorb).unpacked(p.start, p.end)
        terms.append({"hash": p.xorb, "unpacked_length": unpacked, "range": {"start": p.start, "end": p.end}})
        first, last = store.byte_range(p.xorb, p.start, p.end)
        fetch.setdefault(p.xorb, {})[(p.start, p.end)] = (first, last - 1)
    return Reconstruction(terms, fetch, pieces[0].skip if pieces else 0)


def granted_spans(text: str) -> list[tuple[int, int]]:
    """The inclusive byte spans of a (verified) fetch URL's `r=a-b,c-d`, overlapping and adjacent ones
    merged: the client may fetch two neighbouring granted ranges with one request."""
    spans: list[tuple[int, int]] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        spans.append((int(first), int(last)))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged
