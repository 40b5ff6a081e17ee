"""Worker memory of hubd while one Xet file moves: peak RSS per phase and RSS after it, for several sizes.

    python bench/xet_memory.py [--sizes-gib 1,4,16]

For each size a fresh hubd (SQLite + disk, one worker) and a fresh file of random bytes (numpy's PCG64, so
incompressible like model weights). Phases, each with the official client in a subprocess:
  upload         HfApi.upload_file (hf_xet: xorbs, then the shard hubd rebuilds and sha256s the file from)
  xet download   hf_hub_download (hf_xet: reconstruction, then signed xorb range fetches)
  http resolve   curl of /resolve (hubd rebuilds the file from its xorbs and streams it)
Peak is the worker's VmHWM, reset before each phase (`5` written to /proc/PID/clear_refs); "after" is VmRSS
a second after the phase ended. Disk: the file once for the upload and the download each (deleted after its
phase) plus the stored xorbs, so about 2x the largest size at a time.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _hubd import Hubd, MiB  # noqa: E402

GiB = 1024 * MiB
UPLOAD = ("import sys\nfrom huggingface_hub import HfApi\n"
          "HfApi().upload_file(path_or_fileobj=sys.argv[1], path_in_repo='big.bin', repo_id=sys.argv[2])\n")
DOWNLOAD = ("import sys\nfrom huggingface_hub import hf_hub_download\n"
            "print(hf_hub_download(sys.argv[2], 'big.bin', local_dir=sys.argv[1]))\n")


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def worker(hub: Hubd) -> int:
    return max(pid for pid, role in hub.pids().items() if role == "worker")


def make_file(path: Path, size: int) -> str:
    """Random bytes from a fast PRNG, written in 64 MiB blocks; their sha256."""
    import numpy as np

    rng, h = np.random.default_rng(size), hashlib.sha256()
    with open(path, "wb") as f:
        left = size
        while left:
            block = rng.bytes(min(64 * MiB, left))
            h.update(block)
            f.write(block)
            left -= len(block)
    return h.hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while data := f.read(16 * MiB):
            h.update(data)
    return h.hexdigest()


def client(hub: Hubd, code: str, home: Path, *args: str) -> str:
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": hub.token, "HF_HOME": str(home),
           "HF_XET_CACHE": str(home / "xet"), "HF_HUB_DISABLE_TELEMETRY": "1", "HF_XET_CHUNK_CACHE_SIZE_BYTES": "0"}
    env.pop("HF_HUB_DISABLE_XET", None)
    return subprocess.run([sys.executable, "-c", code, *args], env=env, check=True, capture_output=True,
                          text=True).stdout


class Phase:
    """Worker RSS before, peak during (VmHWM after a reset) and one second after a block."""

    def __init__(self, pid: int, name: str) -> None:
        self.pid, self.name = pid, name

    def __enter__(self) -> Phase:
        self.before = status_kib(self.pid, "VmRSS") / 1024
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")  # VmHWM := VmRSS
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.peak = status_kib(self.pid, "VmHWM") / 1024
        time.sleep(1)
        self.after = status_kib(self.pid, "VmRSS") / 1024

    def line(self, size: int) -> str:
        return (f"  {size // GiB:3d} GiB  {self.name:13s} peak {self.peak:6.0f} MiB   before {self.before:5.0f}  "
                f"after {self.after:5.0f} MiB   ({self.seconds:6.1f} s, {size / self.seconds / 1e6:5.0f} MB/s)")


def run_size(root: Path, size: int) -> list[str]:
    data, files = root / "data", root / "files"
    data.mkdir()
    files.mkdir()
    lines = []
    with Hubd(data) as hub:
        repo = hub.create_repo("big")
        pid = worker(hub)
        lines.append(f"  {size // GiB:3d} GiB  idle          RSS {status_kib(pid, 'VmRSS') / 1024:.0f} MiB")
        src = files / "big.bin"
        sha = make_file(src, size)
        with Phase(pid, "upload") as p:
            client(hub, UPLOAD, root / "up", str(src), repo)
        lines.append(p.line(size))
        src.unlink()
        with Phase(pid, "xet download") as p:
            out = Path(client(hub, DOWNLOAD, root / "down", str(files / "dl"), repo).strip().splitlines()[-1])
        lines.append(p.line(size))
        if sha256_file(out) != sha:
            lines.append("    !! the Xet download differs from the upload")
        shutil.rmtree(files / "dl")
        with Phase(pid, "http resolve") as p:
            h = hashlib.sha256()  # hashed as it arrives: never the whole file in this process
            with subprocess.Popen(["curl", "-sS", "--fail", "-H", f"Authorization: Bearer {hub.token}",
                                   f"{hub.url}/{repo}/resolve/main/big.bin"], stdout=subprocess.PIPE) as c:
                assert c.stdout is not None
                while block := c.stdout.read(16 * MiB):
                    h.update(block)
            ok = h.hexdigest() == sha
        lines.append(p.line(size))
        if not ok:
            lines.append("    !! the /resolve download differs from the upload")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes-gib", default="1,4,16")
    args = ap.parse_args()
    print(f"worker RSS per phase; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for gib in (int(s) for s in args.sizes_gib.split(",")):
        root = Path(tempfile.mkdtemp(prefix="hubd-xet-mem-"))
        try:
            for line in run_size(root, gib * GiB):
                print(line, flush=True)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
