"""Plain-HTTP bytes of a file kept in Xet (for clients that do not speak Xet: curl, git-lfs, HF_HUB_DISABLE_XET):
rebuilt from its xorbs while it is sent."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.streams import SEND_BLOCK, ranged_response
from hubd.xet.store import XetFile, XetStore


def xet_file_response(store: XetStore, f: XetFile, range_header: str | None, headers: dict[str, str]) -> Response:
    """200 or 206 (one Range) with the file's bytes, rebuilt from its xorbs."""
    return ranged_response(lambda start, end: store.iter_bytes(f, start, end, SEND_BLOCK), f.size, range_header,
                           headers)
