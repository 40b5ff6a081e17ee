"""Plain-HTTP bytes of a file kept in Xet (for clients that do not speak Xet: curl, git-lfs, HF_HUB_DISABLE_XET):
rebuilt from its xorbs while it is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import anyio
from starlette.responses import Response, StreamingResponse

from hubd.api.blobs import parse_range
from hubd.xet.store import XetFile, XetStore

# Blocks handed to the server stay under glibc's mmap threshold (xet/memory.py, 256 KiB): the block and
# granian's copy of it then reuse the same warm heap memory, where 2 MiB blocks were fresh mappings that
# cost 512 page faults each (0.45 s of system time per GiB, most of the rebuild's CPU).
SEND_BLOCK = 240 * 1024
# Blocks made per trip to the worker thread: one thread hop per ~2 MiB, whatever the block size.
BATCH_BYTES = 2 * 1024 * 1024


def xet_file_response(store: XetStore, f: XetFile, range_header: str | None, headers: dict[str, str]) -> Response:
    """200 or 206 (one Range) with the file's bytes, rebuilt from its xorbs."""
    return ranged_response(lambda start, end: store.iter_bytes(f, start, end, SEND_BLOCK), f.size, range_header,
                           headers)


def ranged_response(read: Callable[[int, int], Iterator[bytes]], size: int, range_header: str | None,
                    headers: dict[str, str], batch: int = BATCH_BYTES, slots: Slots | None = None) -> Response:
    """200 or 206 (one Range) with bytes [start, end) of something `size` long, as `read(start, end)` yields
    them (blocking: run in a worker thread, `batch` bytes per trip)."""
    span = parse_range(range_header, size)
    start, end = span or (0, size)
    if span:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    headers["Content-Length"] = str(end - start)
    headers.setdefault("Accept-Ranges", "bytes")
    return StreamingResponse(batched(lambda: read(start, end), batch, slots), status_code=206 if span else 200,
                             headers=headers, media_type="application/octet-stream")


class Slots:
    """At most `count` responses at once, each waiting at most `wait` seconds for its turn and then served
    anyway: a bound on memory in the normal case that a few stalled readers (granian has no send timeout)
    can slow down but never deadlock. Made on first use: a semaphore belongs to the running event loop."""

    def __init__(self, count: int, wait: float) -> None:
        self.count, self.wait = count, wait
        self._sem: anyio.Semaphore | None = None

    async def take(self) -> bool:
        if self._sem is None:
            self._sem = anyio.Semaphore(self.count)
        with anyio.move_on_after(self.wait):
            await self._sem.acquire()
            return True
        return False

    def give(self) -> None:
        assert self._sem is not None
        self._sem.release()


async def batched(make: Callable[[], Iterator[bytes]], limit: int = BATCH_BYTES,
                  slots: Slots | None = None) -> AsyncIterator[bytes]:
    """The blocks of a blocking iterator, made `limit` bytes at a time in a worker thread and sent one by one
    from the event loop; with `slots`, one is held from the first block to the end."""
    blocks: Iterator[bytes] | None = None
    held = False

    def take() -> list[bytes]:
        nonlocal blocks
        if blocks is None:
            blocks = make()  # built in the thread: its first step reads storage
        out: list[bytes] = []
        size = 0
        for block in blocks:
            out.append(block)
            size += len(block)
            if size >= limit:
                break
        return out

    try:
        held = slots is not None and await slots.take()
        while batch := await anyio.to_thread.run_sync(take):
            for block in batch:
                yield block
    finally:
        if held:
            assert slots is not None
            slots.give()
        if blocks is not None and hasattr(blocks, "close"):
            blocks.close()  # a client gone mid-file: the reads stop and the stream's cleanup runs now
