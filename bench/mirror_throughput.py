"""Download throughput through hubd as a pull-through mirror: the first download (filled from the upstream
while streamed), the second (served from the mirror's cache), and a direct download from the upstream hubd
in the same run, all over loopback.

    .venv/bin/python bench/mirror_throughput.py [--size-mib 1024] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path

from _hubd import HUBD, Hubd, MiB, RssSampler, curl, make_random_file, summary, temp_root


def download(url: str, size: int) -> float:
    """GB/s of one GET with curl to /dev/null (redirects followed)."""
    out = curl("-L", "-o", "/dev/null", "-w", "%{time_total} %{size_download}", url)
    seconds, got = out.split()
    assert int(got) == size, f"{url}: {got} bytes, expected {size}"
    return size / float(seconds) / 1e9


def wait_cached(mirror: Hubd, repo: str, size: int, timeout: float = 120.0) -> None:
    """Until `hubd mirror status` shows the repo's object filled (verified and published)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = subprocess.run([HUBD, "mirror", "status", "--json", "--data-dir", str(mirror.data_dir),
                              "--upstream-url", "http://unused.invalid"], capture_output=True, text=True).stdout
        if any(json.loads(line)["id"] == repo and json.loads(line)["cached_bytes"] >= size
               for line in out.splitlines()):
            return
        time.sleep(0.2)
    raise RuntimeError(f"{repo} was not cached within {timeout} s")


def upload(upstream: Hubd, name: str, path: Path, oid: str, size: int) -> str:
    repo = upstream.create_repo(name)
    href = upstream.upload_href(repo, oid, size)
    if href is not None:
        upstream.put(href, path)
    upstream.commit_lfs(repo, "big.bin", oid, size)
    return repo


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024, help="size of the random test file (default 1024)")
    ap.add_argument("--runs", type=int, default=3, help="first/second/direct downloads, each (default 3)")
    args = ap.parse_args()
    size = args.size_mib * MiB
    load = os.getloadavg()[0]
    first: list[float] = []
    second: list[float] = []
    direct: list[float] = []
    with temp_root() as root:
        src = root / "big.bin"
        (root / "up").mkdir()
        (root / "mirror").mkdir()
        threshold = str(max(size, 1))
        with Hubd(root / "up", "--lfs-multipart-threshold", threshold) as upstream, \
                Hubd(root / "mirror", "--upstream-url", upstream.url, user="carol") as mirror:
            with RssSampler(mirror) as rss:
                for run in range(args.runs):
                    # a new object per run: each first download really goes to the upstream
                    oid = make_random_file(src, size)
                    repo = upload(upstream, f"bench-{run}", src, oid, size)
                    src.unlink()
                    direct.append(download(f"{upstream.url}/{repo}/resolve/main/big.bin", size))
                    started = time.perf_counter()
                    first.append(download(f"{mirror.url}/{repo}/resolve/main/big.bin", size))
                    fill_s = time.perf_counter() - started
                    wait_cached(mirror, repo, size)  # the fill is verified and published after the last byte
                    second.append(download(f"{mirror.url}/{repo}/resolve/main/big.bin", size))
                    print(f"  run {run}: first {first[-1]:.2f} GB/s ({fill_s:.1f} s), second {second[-1]:.2f} GB/s, "
                          f"direct {direct[-1]:.2f} GB/s", flush=True)
            # the cache answers without the upstream: stop it and download once more
            upstream.stop()
            offline = download(f"{mirror.url}/{repo}/resolve/main/big.bin", size)
            with urllib.request.urlopen(f"{mirror.url}/healthz", timeout=5) as r:
                assert r.status == 200
    print(f"mirror throughput: {args.size_mib} MiB file, {args.runs} runs, loopback, curl -o /dev/null, "
          f"{os.cpu_count()} cpus, load average before {load:.2f}")
    print(f"  direct from the upstream hubd     : {summary(direct, 'GB/s')}")
    print(f"  first through the mirror (filling): {summary(first, 'GB/s')}")
    print(f"  second through the mirror (cached): {summary(second, 'GB/s')}")
    print(f"  cached, upstream stopped          : {offline:.2f} GB/s")
    print(f"  ratios: first/direct {max(first) / max(direct):.2f}, second/direct {max(second) / max(direct):.2f}")
    print(f"  mirror RSS: {rss.report()}")


if __name__ == "__main__":
    main()
