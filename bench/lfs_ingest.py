"""LFS upload ingest: PUT of a file to hubd's signed upload href against sha256sum of the same file.

    .venv/bin/python bench/lfs_ingest.py [--size-mib 2048] [--runs 3]

Each run uploads into a fresh repo after deleting the stored object file, so that every PUT is a full ingest.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import os
import statistics
import subprocess
import time
from pathlib import Path

from _hubd import Hubd, MiB, RssSampler, make_random_file, summary, temp_root, warm


def sha256sum_seconds(path: Path, oid: str) -> float:
    t = time.perf_counter()
    out = subprocess.run(["sha256sum", str(path)], check=True, capture_output=True, text=True).stdout
    seconds = time.perf_counter() - t
    assert out.split()[0] == oid
    return seconds


def hashlib_seconds(path: Path, oid: str) -> float:
    """The same loop as the server's minus the network and the write: read + OpenSSL sha256."""
    t = time.perf_counter()
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while data := f.read(MiB):
            h.update(data)
    seconds = time.perf_counter() - t
    assert h.hexdigest() == oid
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=2048, help="size of the random test file (default 2048)")
    ap.add_argument("--runs", type=int, default=3, help="repetitions (default 3)")
    args = ap.parse_args()
    size = args.size_mib * MiB
    load = os.getloadavg()[0]
    times: dict[str, list[float]] = {"sha256sum": [], "hashlib": [], "hubd": []}
    with temp_root() as root:
        src = root / "big.bin"
        oid = make_random_file(src, size)
        warm(src)
        (root / "data").mkdir()
        with Hubd(root / "data", "--lfs-multipart-threshold", str(max(size, 1))) as hubd:
            repos = (f"bench-{n}" for n in itertools.count())

            def upload() -> float:
                repo = hubd.create_repo(next(repos))  # an object not linked to it yet ...
                hubd.object_path(oid).unlink(missing_ok=True)  # ... nor on disk: a full write, fsync, rename
                href = hubd.upload_href(repo, oid, size)
                assert href is not None
                seconds = hubd.put(href, src)
                assert hubd.object_path(oid).stat().st_size == size
                return seconds

            with RssSampler(hubd) as rss:
                first = upload()  # warm-up, not counted: the first PUT is often the slowest
                for _ in range(args.runs):
                    times["sha256sum"].append(sha256sum_seconds(src, oid))
                    times["hashlib"].append(hashlib_seconds(src, oid))
                    times["hubd"].append(upload())
    mbps = {name: [size / s / 1e6 for s in ts] for name, ts in times.items()}

    def ratio(base: str) -> str:
        best = max(mbps["hubd"]) / max(mbps[base])
        return f"best {best:.2f}, median {statistics.median(mbps['hubd']) / statistics.median(mbps[base]):.2f}"

    print(f"LFS ingest: {args.size_mib} MiB file, {args.runs} runs, page cache warm, {os.cpu_count()} cpus, "
          f"load average before {load:.2f}")
    print(f"  hubd PUT to signed href (curl -T)  : {summary(mbps['hubd'], 'MB/s', '.0f')}; "
          f"warm-up run {size / first / 1e6:.0f} MB/s")
    print(f"  sha256sum of the file              : {summary(mbps['sha256sum'], 'MB/s', '.0f')}")
    print(f"  python hashlib.sha256 of the file  : {summary(mbps['hashlib'], 'MB/s', '.0f')}")
    print(f"  ratio hubd/sha256sum: {ratio('sha256sum')}  (goal >= 0.8)")
    print(f"  ratio hubd/hashlib  : {ratio('hashlib')}  (stricter: the server's own sha256 implementation)")
    print(f"  hubd RSS during the uploads: {rss.report()}")


if __name__ == "__main__":
    main()
