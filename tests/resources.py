"""Resource checks for hostile inputs: the worker's memory read from /proc, and a probe that keeps asking
`/healthz` from its own connection while an attack runs. Bounds are asserted, never timings of hubd's work."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType

import httpx


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [int(c) for c in out]


def worker_pids(server_pid: int) -> list[int]:
    """granian runs the app in worker processes below the `hubd serve` process."""
    found: list[int] = []
    todo = [server_pid]
    while todo:
        pid = todo.pop()
        kids = _children(pid)
        found.extend(kids)
        todo.extend(kids)
    return found or [server_pid]


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def rss_mib(server_pid: int) -> float:
    """Current resident memory of the largest worker, in MiB."""
    return max(_status_kib(p, "VmRSS") for p in worker_pids(server_pid)) / 1024


def peak_rss_mib(server_pid: int) -> float:
    """High-water mark of resident memory of the largest worker since it started, in MiB."""
    return max(_status_kib(p, "VmHWM") for p in worker_pids(server_pid)) / 1024


class HealthProbe:
    """Asks GET /healthz every `interval` seconds on a fresh connection while the block runs; records the
    slowest answer (a failed request counts as infinitely slow)."""

    def __init__(self, url: str, interval: float = 0.2) -> None:
        self.url = url.rstrip("/") + "/healthz"
        self.interval = interval
        self.slowest = 0.0
        self.answers = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            try:
                ok = httpx.get(self.url, timeout=5).status_code == 200
            except httpx.HTTPError:
                ok = False
            took = time.perf_counter() - started if ok else float("inf")
            self.slowest = max(self.slowest, took)
            self.answers += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
