"""Download throughput of hubd's /resolve/ against nginx (sendfile) serving the very same file.

    .venv/bin/python bench/resolve_throughput.py [--size-mib 2048] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import time
from pathlib import Path
from types import TracebackType

from _hubd import Hubd, MiB, RssSampler, curl, free_port, make_random_file, summary, temp_root, warm

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
user root;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
    server {{ listen 127.0.0.1:{port}; root {www}; }}
}}
"""


class Nginx:
    """nginx in the foreground serving `www` on a free port, pid and logs under `root`."""

    def __init__(self, root: Path, www: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        conf = root / "nginx.conf"
        conf.write_text(NGINX_CONF.format(root=root, port=self.port, www=www))
        self.proc = subprocess.Popen(["nginx", "-e", str(root / "nginx-error.log"), "-p", str(root), "-c", str(conf)])
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.proc.kill()
                    raise RuntimeError(f"nginx did not start, see {root / 'nginx-error.log'}") from None
                time.sleep(0.1)

    def __enter__(self) -> Nginx:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def download(url: str, size: int) -> float:
    """GB/s of one GET through curl into /dev/null."""
    speed, got = curl("-o", "/dev/null", "-w", "%{speed_download} %{size_download}", url).split()
    if int(got) != size:
        raise RuntimeError(f"{url} gave {got} bytes, expected {size}")
    return float(speed) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=2048, help="size of the random test file (default 2048)")
    ap.add_argument("--runs", type=int, default=3, help="downloads per server (default 3)")
    args = ap.parse_args()
    size = args.size_mib * MiB
    with temp_root() as root:
        src = root / "big.bin"
        oid = make_random_file(src, size)
        (root / "data").mkdir()
        with Hubd(root / "data", "--lfs-multipart-threshold", str(max(size, 1))) as hubd:
            repo = hubd.create_repo("bench")
            href = hubd.upload_href(repo, oid, size)
            assert href is not None
            with RssSampler(hubd) as up_rss:
                hubd.put(href, src)
            hubd.commit_lfs(repo, "big.bin", oid, size)
            src.unlink()  # the stored LFS object is now the only copy: both servers read the same inode
            (root / "www").mkdir()
            os.link(hubd.object_path(oid), root / "www" / "big.bin")
            with Nginx(root, root / "www") as nginx:
                urls = {"hubd": f"{hubd.url}/{repo}/resolve/main/big.bin", "nginx": f"{nginx.url}/big.bin"}
                warm(hubd.object_path(oid))
                for url in urls.values():  # warm-up, not counted
                    download(url, size)
                speeds: dict[str, list[float]] = {name: [] for name in urls}
                with RssSampler(hubd) as down_rss:
                    for _ in range(args.runs):  # interleaved, so drift hits both alike
                        for name, url in urls.items():
                            speeds[name].append(download(url, size))
    best = max(speeds["hubd"]) / max(speeds["nginx"])
    median = statistics.median(speeds["hubd"]) / statistics.median(speeds["nginx"])
    print(f"resolve throughput: {args.size_mib} MiB file, {args.runs} runs each, curl -o /dev/null, loopback, "
          f"page cache warm, {os.cpu_count()} cpus")
    print(f"  hubd  GET /resolve/main/big.bin : {summary(speeds['hubd'], 'GB/s')}")
    print(f"  nginx GET /big.bin (sendfile on): {summary(speeds['nginx'], 'GB/s')}")
    print(f"  ratio hubd/nginx: best {best:.2f}, median {median:.2f}  (goal >= 0.9)")
    print(f"  hubd RSS during the LFS upload: {up_rss.report()}")
    print(f"  hubd RSS during the downloads : {down_rss.report()}")


if __name__ == "__main__":
    main()
