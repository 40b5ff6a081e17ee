"""Responses that stream bytes made by blocking code: one `Range` parsed the Hub's way, blocks made in a worker
thread a batch at a time and sent from the event loop, and a bound on how many such responses run at once."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
from starlette.responses import Response, StreamingResponse

from hubd.hub.errors import BadRequest, RangeNotSatisfiable

# Blocks handed to the server stay under glibc's mmap threshold (xet/memory.py, 256 KiB): the block and
# granian's copy of it then reuse the same warm heap memory, where 2 MiB blocks were fresh mappings that
# cost 512 page faults each (0.45 s of system time per GiB, most of the rebuild's CPU).
SEND_BLOCK = 240 * 1024
# Blocks made per trip to the worker thread: one thread hop per ~2 MiB, whatever the block size.
BATCH_BYTES = 2 * 1024 * 1024


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _position(digits: str) -> int:
    """A byte position of any length. Python refuses int() of more than 4,300 digits (a ValueError, so a
    500), and no stored object is 10^18 bytes long: longer numbers stand for "beyond any end"."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 18 else _BEYOND


_BEYOND = 10**18


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of a single `Range: bytes=` request, None for the whole body."""
    if not header:
        return None
    m = _RANGE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        raise BadRequest("Unsupported range: use one range of the form bytes=START-END, START- or -SUFFIX")
    unsatisfiable = RangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    if not m.group(1):  # suffix: the last N bytes; the last 0 bytes, or any bytes of nothing, is no range
        n = _position(m.group(2))
        if n == 0 or size == 0:
            raise unsatisfiable
        return max(0, size - n), size
    start = _position(m.group(1))
    end = min(_position(m.group(2)) + 1, size) if m.group(2) else size
    if start >= size or end <= start:
        raise unsatisfiable
    return start, end


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


class PathsendResponse(Response):
    """A whole local file sent by the server itself (ASGI `http.response.pathsend`: granian reads and writes it
    in Rust, no Python per block), or by `fallback` where the server lacks the extension."""

    def __init__(self, path: str, headers: dict[str, str], fallback: Response) -> None:
        super().__init__(status_code=200, headers=headers, media_type="application/octet-stream")
        self.path, self.fallback = path, fallback

    async def __call__(self, scope, receive, send) -> None:
        if "http.response.pathsend" not in scope.get("extensions", {}):
            await self.fallback(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.pathsend", "path": self.path})


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
