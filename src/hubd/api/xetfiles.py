"""Plain-HTTP bytes of a file kept in Xet (for clients that do not speak Xet: curl, git-lfs, HF_HUB_DISABLE_XET):
rebuilt from its xorbs while it is sent."""

from __future__ import annotations

from starlette.responses import Response

from hubd.api.streams import BlockResponse
from hubd.xet.store import XetFile, XetStore

# Blocks of a rebuilt file: each costs a walk over its ~32 chunks and a thread hop, so they are larger than a
# local file's (api/streams.FILE_BLOCK); two per response, and up to four more in granian's channel.
XET_BLOCK = 2 << 20


def xet_file_response(store: XetStore, f: XetFile, range_header: str | None, headers: dict[str, str]) -> Response:
    """200 or 206 (one Range) with the file's bytes, rebuilt from its xorbs."""
    return BlockResponse(lambda start, end: store.fill(f, start, end), f.size, range_header, headers, XET_BLOCK)
