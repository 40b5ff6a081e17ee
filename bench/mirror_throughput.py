"""Download throughput through hubd as a pull-through mirror: the first download (filled from the upstream
while streamed), the second (served from the mirror's cache), and a direct download from the upstream hubd
in the same run, all over loopback. Then the same three with the official client and hf_xet against a file
the upstream keeps in Xet (the mirror fills its own xorbs from the upstream's CAS): each download is a
fresh interpreter with empty caches, timed around the `hf_hub_download` call alone.

    .venv/bin/python bench/mirror_throughput.py [--size-mib 1024] [--runs 3] [--xet-size-mib 512]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
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


UPLOAD = ("import sys\nfrom huggingface_hub import HfApi\n"
          "HfApi().upload_file(path_or_fileobj=sys.argv[1], path_in_repo='big.bin', repo_id=sys.argv[2])\n")
DOWNLOAD = ("import sys, time\nfrom huggingface_hub import hf_hub_download\nt = time.perf_counter()\n"
            "hf_hub_download(sys.argv[1], 'big.bin', cache_dir=sys.argv[2])\nprint(time.perf_counter() - t)")


def xet_client(hub: Hubd, code: str, *args: str) -> str:
    with tempfile.TemporaryDirectory(prefix="bench-xet-cache-") as cache:
        env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": hub.token, "HF_XET_CACHE": cache,
               "HF_HOME": cache, "HF_HUB_DISABLE_PROGRESS_BARS": "1"}
        env.pop("HF_HUB_DISABLE_XET", None)
        return subprocess.run([sys.executable, "-c", code, *args], env=env, check=True, capture_output=True,
                              text=True).stdout


def xet_download(hub: Hubd, repo: str, size: int) -> float:
    """GB/s of one hf_hub_download with hf_xet and empty caches."""
    with tempfile.TemporaryDirectory(prefix="bench-xet-hub-") as cache:
        return size / float(xet_client(hub, DOWNLOAD, repo, cache).split()[-1]) / 1e9


def xet_runs(runs: int, size: int, root: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"direct": [], "first": [], "second": []}
    (root / "xup").mkdir()
    (root / "xmirror").mkdir()
    with Hubd(root / "xup") as upstream, Hubd(root / "xmirror", "--upstream-url", upstream.url, user="carol") as mirror:
        for run in range(runs):
            src = root / "xet.bin"
            make_random_file(src, size)
            repo = upstream.create_repo(f"xet-{run}")
            xet_client(upstream, UPLOAD, str(src), repo)
            src.unlink()
            out["direct"].append(xet_download(upstream, repo, size))
            out["first"].append(xet_download(mirror, repo, size))
            out["second"].append(xet_download(mirror, repo, size))
            print(f"  xet run {run}: first {out['first'][-1]:.2f} GB/s, second {out['second'][-1]:.2f} GB/s, "
                  f"direct {out['direct'][-1]:.2f} GB/s", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=1024, help="size of the random test file (default 1024)")
    ap.add_argument("--runs", type=int, default=3, help="first/second/direct downloads, each (default 3)")
    ap.add_argument("--xet-size-mib", type=int, default=512, help="size of the Xet test file (default 512; 0: skip)")
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
        xet = xet_runs(args.runs, args.xet_size_mib * MiB, root) if args.xet_size_mib else None
    print(f"mirror throughput: {args.size_mib} MiB file, {args.runs} runs, loopback, curl -o /dev/null, "
          f"{os.cpu_count()} cpus, load average before {load:.2f}")
    print(f"  direct from the upstream hubd     : {summary(direct, 'GB/s')}")
    print(f"  first through the mirror (filling): {summary(first, 'GB/s')}")
    print(f"  second through the mirror (cached): {summary(second, 'GB/s')}")
    print(f"  cached, upstream stopped          : {offline:.2f} GB/s")
    print(f"  ratios: first/direct {max(first) / max(direct):.2f}, second/direct {max(second) / max(direct):.2f}")
    print(f"  mirror RSS: {rss.report()}")
    if xet is not None:
        print(f"xet through the mirror: {args.xet_size_mib} MiB file kept in Xet upstream, hf_hub_download with "
              "hf_xet, empty caches each time")
        print(f"  direct from the upstream hubd     : {summary(xet['direct'], 'GB/s')}")
        print(f"  first through the mirror (filling): {summary(xet['first'], 'GB/s')}")
        print(f"  second through the mirror (cached): {summary(xet['second'], 'GB/s')}")


if __name__ == "__main__":
    main()
