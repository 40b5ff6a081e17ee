"""Issue 17: a Xet file moves through hubd with worker memory that does not grow with the file. A 3 GiB file
goes through every path (hf_xet upload, hf_xet download, plain-HTTP /resolve); the worker's peak RSS in each
phase, read from /proc, stays under a fixed bound, and RSS returns close to where the phase started."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import Hubd, make_hubd, run_client
from tests.resources import HealthProbe, rss_mib, worker_pids

MiB = 1024 * 1024
SIZE = 3 * 1024 * MiB
PEAK_MIB = 300  # the bound at every size
SETTLE_MIB = 50  # RSS after a phase, over RSS before it


@pytest.fixture(scope="module")
def server() -> Iterator[Hubd]:
    s = make_hubd("xet-memory")
    s.add_user("alice")
    s.start()
    yield s
    s.stop()


def make_file(path: Path, size: int) -> str:
    """Incompressible bytes from numpy's PCG64 (fast), 64 MiB at a time; their sha256."""
    rng, h = np.random.default_rng(17), hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(size // (64 * MiB)):
            block = rng.bytes(64 * MiB)
            h.update(block)
            f.write(block)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while data := f.read(16 * MiB):
            h.update(data)
    return h.hexdigest()


class Phase:
    """The worker's RSS before a block, its peak during it (VmHWM reset first) and its RSS after it."""

    def __init__(self, server: Hubd) -> None:
        assert server.proc is not None
        self.server_pid = server.proc.pid

    def __enter__(self) -> Phase:
        self.before = rss_mib(self.server_pid)
        for pid in worker_pids(self.server_pid):
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # VmHWM := VmRSS, so the peak is this phase's
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak = max(_kib(pid, "VmHWM") for pid in worker_pids(self.server_pid)) / 1024
        self.after = rss_mib(self.server_pid)

    def check(self, what: str) -> None:
        print(f"{what}: worker RSS {self.before:.0f} MiB before, peak {self.peak:.0f}, after {self.after:.0f}")
        assert self.peak <= PEAK_MIB, f"{what}: worker peak {self.peak:.0f} MiB"
        assert self.after <= self.before + SETTLE_MIB, f"{what}: {self.before:.0f} -> {self.after:.0f} MiB"


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


@pytest.mark.once  # the worker's memory; 3 GiB through three paths takes minutes: one pass
def test_3gib_file_moves_in_flat_memory(server: Hubd, tmp_path: Path) -> None:
    token = server.tokens["alice"]
    api_env = {"HF_ENDPOINT": server.url, "HF_XET_CACHE": str(tmp_path / "xet"), "HF_HOME": str(tmp_path / "home"),
               "HF_XET_CHUNK_CACHE_SIZE_BYTES": "0"}
    httpx.post(f"{server.url}/api/repos/create", json={"name": "big", "type": "model"},
               headers={"authorization": f"Bearer {token}"}).raise_for_status()
    src = tmp_path / "big.bin"
    sha = make_file(src, SIZE)

    with Phase(server) as up, HealthProbe(server.url) as probe:
        run_client(f"from huggingface_hub import HfApi\n"
                   f"HfApi().upload_file(path_or_fileobj={str(src)!r}, path_in_repo='big.bin', repo_id='alice/big')",
                   token, env=api_env)
    src.unlink()  # disk: the file is held once at a time (source, then downloads)
    up.check("upload")
    assert probe.slowest < 2, f"/healthz took {probe.slowest:.2f} s during the upload"

    with Phase(server) as down:
        out = run_client(f"from huggingface_hub import hf_hub_download\n"
                         f"print(hf_hub_download('alice/big', 'big.bin', local_dir={str(tmp_path / 'dl')!r}))",
                         token, env=api_env)
    path = Path(out.strip().splitlines()[-1])
    assert path.stat().st_size == SIZE and sha256_file(path) == sha
    shutil.rmtree(tmp_path / "dl")
    down.check("Xet download")

    with Phase(server) as plain:
        h, n = hashlib.sha256(), 0
        with httpx.stream("GET", f"{server.url}/alice/big/resolve/main/big.bin", timeout=120,
                          headers={"authorization": f"Bearer {token}"}) as r:
            assert r.status_code == 200 and r.headers.get("x-xet-hash")
            for block in r.iter_bytes(8 * MiB):
                h.update(block)
                n += len(block)
    assert n == SIZE and h.hexdigest() == sha
    plain.check("/resolve")
