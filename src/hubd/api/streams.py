"""Responses that stream bytes made by blocking code: one `Range` parsed the Hub's way, blocks made in a worker
thread a batch at a time and sent from the event loop, and a bound on how many such responses run at once."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Callable, Generator, Iterator

import anyio
from starlette.responses import Response, StreamingResponse

from hubd.hub.errors import BadRequest, RangeNotSatisfiable

# Blocks handed to the server stay under glibc's mmap threshold (xet/memory.py, 256 KiB): the block and
# granian's copy of it then reuse the same warm heap memory, where 2 MiB blocks were fresh mappings that
# cost 512 page faults each (0.45 s of system time per GiB, most of the rebuild's CPU).
SEND_BLOCK = 240 * 1024
# Blocks of a BlockResponse: two such buffers per response, taking turns for every block.
FILE_BLOCK = 1 << 20
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


Fill = Callable[[int, int], Generator[int, bytearray, None]]


def _step(blocks: Generator[int, bytearray, None], buf: bytearray) -> int:
    """One block of a Fill into `buf` (in a worker thread); 0 when it has nothing more."""
    try:
        return blocks.send(buf)
    except StopIteration:
        return 0


class BlockResponse(Response):
    """Bytes [start, end) of something `size` long (200, or 206 for one Range), made block by block by
    `fill(start, end)`: a blocking generator that first yields 0, then for each buffer sent to it fills it
    and yields how many bytes it holds (all of them but at the end). Two FILE_BLOCK buffers take turns: the
    next block is filled in a worker thread while the one before is being sent.

    Why reused buffers rather than fresh `bytes` per block: with glibc's mmap threshold fixed at 256 KiB
    (xet/memory.py) each fresh 4 MiB block is a new mapping faulted in page by page (0.16x nginx), and blocks
    under the threshold cost a server send each, whose per-message cost in granian then dominates. Granian
    copies a body into its own buffer while `send` is called (asgi/io.rs `adapt_body` takes a `Cow<[u8]>`,
    which a bytearray also gives), so a buffer may be refilled once `send` returned. A server that may keep
    the object it is given gets a `bytes` copy of each block, as the ASGI spec asks."""

    def __init__(self, fill: Fill, size: int, range_header: str | None, headers: dict[str, str],
                 block: int = FILE_BLOCK) -> None:
        span = parse_range(range_header, size)
        self.start, self.end = span or (0, size)
        if span:
            headers["Content-Range"] = f"bytes {self.start}-{self.end - 1}/{size}"
        headers["Content-Length"] = str(self.end - self.start)
        headers.setdefault("Accept-Ranges", "bytes")
        super().__init__(status_code=206 if span else 200, headers=headers, media_type="application/octet-stream")
        self.fill, self.block = fill, block

    async def __call__(self, scope, receive, send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        total = self.end - self.start
        if scope.get("method") == "HEAD" or not total:  # nothing to read: HEAD's headers say it all
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        copies = "http.response.pathsend" not in scope.get("extensions", {})  # not granian: see the class doc
        size = min(self.block, total)
        current, spare = bytearray(size), bytearray(size) if total > size else bytearray(0)
        blocks = self.fill(self.start, self.end)
        next(blocks)  # to its first yield: nothing is read before the first buffer arrives
        ahead: asyncio.Future[int] | None = None
        try:
            left = total
            n = await anyio.to_thread.run_sync(_step, blocks, current)
            while True:
                if not n:  # shorter than its recorded size: end the response short, the client sees it
                    raise OSError(f"{left} bytes missing at the end of a {total}-byte body")
                left -= n
                if left > 0:  # the next block is read while this one is sent
                    ahead = asyncio.ensure_future(anyio.to_thread.run_sync(_step, blocks, spare))
                body = current if n == len(current) and not copies else bytes(memoryview(current)[:n])
                await send({"type": "http.response.body", "body": body, "more_body": left > 0})
                if ahead is None:
                    return
                n, ahead = await ahead, None
                current, spare = spare, current
        finally:
            if ahead is not None and not ahead.done():
                # a client gone (or a cancellation) while the thread still fills a buffer: the generator is
                # closed once that read is over, never while it runs
                ahead.add_done_callback(lambda _: blocks.close())
            else:
                blocks.close()  # the reads stop and the generator's cleanup (closing its file) runs now


def file_fill(path: str) -> Fill:
    """`fill` of a local file: positioned reads straight into the buffers."""

    def fill(start: int, end: int) -> Generator[int, bytearray, None]:
        buf = yield 0
        fd = os.open(path, os.O_RDONLY)
        try:
            while start < end:
                got = os.preadv(fd, [memoryview(buf)[:min(len(buf), end - start)]], start)
                if not got:
                    return
                start += got
                buf = yield got
        finally:
            os.close(fd)

    return fill


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
