"""Filling the cache with one large object: fetched once, streamed to every waiting reader while it
arrives, verified (sha256 and size) before it becomes visible in the blob store.

A fill writes the upstream's bytes to a local temporary file (a cache, never state) and hashes them on the
way; readers tail that file. Only when every byte matches the pointer's sha256 is the object published under
its LFS key and linked to the mirrored repo; a mismatch publishes nothing and cuts every reader off (their
clients see a short body, never wrong bytes labelled as right)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, suppress
from typing import Any

from hubd.hub.errors import HubError
from hubd.mirror.errors import UpstreamUnavailable

log = logging.getLogger("hubd.mirror")
BLOCK = 1024 * 1024
# a reader waiting for bytes that do not come gives up after this long (the upstream stalled)
STALL_TIMEOUT = 120.0


class Fill:
    def __init__(self, oid: str, size: int, tmp_dir: str) -> None:
        self.oid = oid
        self.size = size
        fd, self.path = tempfile.mkstemp(prefix=f"fill-{oid[:16]}-", dir=tmp_dir)
        self.fd = fd  # unbuffered writes: readers see each block as soon as os.write returns
        self.closed = False
        # readers use their own descriptor (pread is safe across threads), so the name can go at any time
        self.rfd = os.open(self.path, os.O_RDONLY)
        self.written = 0
        self.started = False  # the upstream answered and bytes are coming
        self.done = False  # verified and published
        self.error: HubError | None = None
        self.cond = threading.Condition()

    # --- the filling thread ---------------------------------------------------------------------------
    def run(self, open_source: Callable[[], AbstractContextManager[Any]], publish: Callable[[str], None]) -> None:
        h = hashlib.sha256()
        try:
            with open_source() as resp:
                with self.cond:
                    self.started = True
                    self.cond.notify_all()
                for block in resp.iter_bytes(BLOCK):
                    if self.written + len(block) > self.size:
                        raise UpstreamUnavailable(f"The upstream sent more than {self.size} bytes for {self.oid}")
                    h.update(block)
                    view = memoryview(block)
                    while view:
                        view = view[os.write(self.fd, view):]
                    with self.cond:
                        self.written += len(block)
                        self.cond.notify_all()
            self._close()
            if self.written != self.size or not hmac.compare_digest(h.hexdigest(), self.oid):
                raise UpstreamUnavailable(f"The upstream's bytes for {self.oid} do not match its sha256 and size")
            publish(self.path)
            with self.cond:
                self.done = True
                self.cond.notify_all()
        except HubError as exc:
            self._fail(exc)
        except Exception as exc:  # noqa: BLE001 - any failure of the fill reaches its readers as a 504
            log.exception("fill of %s failed", self.oid)
            self._fail(UpstreamUnavailable(f"Filling {self.oid} from the upstream failed: {type(exc).__name__}"))

    def _fail(self, exc: HubError) -> None:
        with self.cond:
            self.error = exc
            self.cond.notify_all()
        self._close()

    def _close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self.fd)

    # --- readers --------------------------------------------------------------------------------------
    def wait_started(self) -> None:
        """Until the upstream answered: its refusal (404, gated, unreachable) is raised to the first reader
        before any response is begun, in the Hub's error shape."""
        with self.cond:
            if not self.cond.wait_for(lambda: self.started or self.error is not None, STALL_TIMEOUT):
                raise UpstreamUnavailable("The upstream hub did not answer in time")
            if self.error is not None and self.written == 0:
                raise self.error

    def wait_done(self) -> None:
        with self.cond:
            while not self.done:
                if self.error is not None:
                    raise self.error
                if not self.cond.wait(STALL_TIMEOUT):
                    raise UpstreamUnavailable("The upstream hub stalled")

    def iter_range(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end) as they arrive."""
        pos = start
        while pos < end:
            with self.cond:
                while self.written <= pos and self.error is None:
                    if not self.cond.wait(STALL_TIMEOUT):
                        raise UpstreamUnavailable("The upstream hub stalled")
                if self.written <= pos:
                    assert self.error is not None
                    raise self.error
                available = min(self.written, end)
            data = os.pread(self.rfd, min(available - pos, BLOCK), pos)  # 1 MiB: ten readers stay small
            if not data:
                raise UpstreamUnavailable("The fill's file was cut short")
            pos += len(data)
            yield data

    def __del__(self) -> None:
        with suppress(OSError, AttributeError):
            os.close(self.rfd)


class Filler:
    """At most one fill per object per process: concurrent first requests share it."""

    def __init__(self, tmp_dir: str) -> None:
        self.tmp_dir = tmp_dir
        os.makedirs(tmp_dir, exist_ok=True)
        self._fills: dict[str, Fill] = {}
        self._lock = threading.Lock()

    def get(self, key: str, oid: str, size: int, open_source: Callable[[], AbstractContextManager[Any]],
            publish: Callable[[str], None]) -> Fill:
        with self._lock:
            fill = self._fills.get(key)
            if fill is not None and fill.error is None:
                return fill
            fill = Fill(oid, size, self.tmp_dir)
            self._fills[key] = fill

        def run() -> None:
            try:
                fill.run(open_source, publish)
            finally:
                with self._lock:
                    if self._fills.get(key) is fill:
                        del self._fills[key]
                # readers hold the file open; the name goes now (Linux keeps open files readable)
                with suppress(OSError):
                    os.unlink(fill.path)

        threading.Thread(target=run, name=f"hubd-fill-{oid[:12]}", daemon=True).start()
        return fill
