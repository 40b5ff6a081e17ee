"""Shared helpers of the benchmarks: a throwaway hubd server, LFS uploads through curl, RSS sampling."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

HUBD = str(Path(sys.executable).with_name("hubd"))
CHUNK = 16 * 1024 * 1024
MiB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_random_file(path: Path, size: int) -> str:
    """Write `size` random bytes in chunks (never whole in memory); return their sha256."""
    h = hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            data = os.urandom(min(CHUNK, left))
            h.update(data)
            f.write(data)
            left -= len(data)
    return h.hexdigest()


def warm(path: Path) -> None:
    """Read a file once so that it sits in the page cache."""
    with open(path, "rb", buffering=0) as f:
        while f.read(CHUNK):
            pass


def curl(*args: str) -> str:
    return subprocess.run(["curl", "-sS", "--fail", *args], check=True, capture_output=True, text=True).stdout


def gbps(size: int, seconds: float) -> float:
    return size / seconds / 1e9


def summary(values: list[float], unit: str, fmt: str = ".2f") -> str:
    return f"best {max(values):{fmt}} {unit}, median {statistics.median(values):{fmt}} {unit}  " + \
        f"(runs: {', '.join(format(v, fmt) for v in values)})"


class Hubd:
    """`hubd serve` on a free port with a fresh data dir and one account; a context manager."""

    def __init__(self, data_dir: Path, *serve_args: str, user: str = "alice") -> None:
        self.data_dir, self.user, self.port = data_dir, user, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        subprocess.run([HUBD, "users", "add", user, "--data-dir", str(data_dir)], check=True, capture_output=True)
        self.token = subprocess.run([HUBD, "tokens", "add", user, "--data-dir", str(data_dir)], check=True,
                                    capture_output=True, text=True).stdout.strip()
        self.log = open(data_dir / "serve.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [HUBD, "serve", "--port", str(self.port), "--data-dir", str(data_dir), "--log-level", "warning",
             *serve_args], stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                tail = (self.data_dir / "serve.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"hubd exited with {self.proc.returncode}:\n{tail}")
            try:
                self.request("GET", "/api/whoami-v2")
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.1)
        raise RuntimeError("hubd did not answer in time")

    def request(self, method: str, path: str, body: bytes | None = None, content_type: str = "") -> bytes:
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers={"Authorization": f"Bearer {self.token}"})
        if content_type:
            req.add_header("Content-Type", content_type)
        with urllib.request.urlopen(req, timeout=60) as resp:
            return bytes(resp.read())

    def pids(self) -> dict[int, str]:
        """The `hubd serve` process and its descendants (the granian workers), as pid -> role."""
        out = {self.proc.pid: "main"}
        todo = [self.proc.pid]
        while todo:
            pid = todo.pop()
            for task in Path(f"/proc/{pid}/task").glob("*/children"):
                for child in task.read_text().split():
                    out[int(child)] = "worker"
                    todo.append(int(child))
        return out

    def create_repo(self, name: str) -> str:
        self.request("POST", "/api/repos/create", json.dumps({"name": name, "type": "model"}).encode(),
                     "application/json")
        return f"{self.user}/{name}"

    def upload_href(self, repo_id: str, oid: str, size: int) -> str | None:
        """The signed PUT url of the LFS batch API, or None when the server already has the object."""
        body = {"operation": "upload", "transfers": ["basic", "multipart"], "hash_algo": "sha256",
                "objects": [{"oid": oid, "size": size}]}
        resp = json.loads(self.request("POST", f"/{repo_id}.git/info/lfs/objects/batch",
                                       json.dumps(body).encode(), "application/vnd.git-lfs+json"))
        actions = resp["objects"][0].get("actions")
        if not actions:
            return None
        if "header" in actions["upload"]:
            raise RuntimeError("the server asked for a multipart upload: raise --lfs-multipart-threshold")
        return str(actions["upload"]["href"])

    def put(self, href: str, path: Path) -> float:
        """PUT a file's bytes to a signed href with curl; return the seconds until the server answered."""
        out = curl("-T", str(path), "-H", "Expect:", "-o", "/dev/null", "-w", "%{time_total}", href)
        return float(out)

    def commit_lfs(self, repo_id: str, path_in_repo: str, oid: str, size: int) -> None:
        lines = [{"key": "header", "value": {"summary": f"add {path_in_repo}"}},
                 {"key": "lfsFile", "value": {"path": path_in_repo, "algo": "sha256", "oid": oid, "size": size}}]
        body = "".join(json.dumps(x) + "\n" for x in lines).encode()
        self.request("POST", f"/api/models/{repo_id}/commit/main", body, "application/x-ndjson")

    def object_path(self, oid: str) -> Path:
        return self.data_dir / "storage" / "lfs" / oid[:2] / oid[2:4] / oid

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own session: the server and its workers only
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def __enter__(self) -> Hubd:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def vm_rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


class RssSampler:
    """Samples VmRSS of a server's processes every `interval` seconds in a thread; keeps baseline and peak."""

    def __init__(self, server: Hubd, interval: float = 0.1) -> None:
        self.server, self.interval = server, interval
        self.pids = server.pids()
        self.baseline = {pid: vm_rss_kib(pid) for pid in self.pids}
        self.peak = dict(self.baseline)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], vm_rss_kib(pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def report(self) -> str:
        return "; ".join(f"{role} pid {pid}: peak {self.peak[pid] / 1024:.0f} MiB "
                         f"(before {self.baseline[pid] / 1024:.0f} MiB)" for pid, role in self.pids.items())


@contextlib.contextmanager
def temp_root() -> Iterator[Path]:
    """A fresh directory under /tmp, removed afterwards (data dir and test file share it, so hardlinks work)."""
    root = Path(tempfile.mkdtemp(prefix="hubd-bench-", dir="/tmp"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
