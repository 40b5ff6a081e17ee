"""Download throughput of hubd's /resolve/ against nginx (sendfile) serving the very same file.

    .venv/bin/python bench/resolve_throughput.py [--size-mib 2048] [--runs 3]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import socket
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

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


def splice_get(url: str, size: int, byte_range: bool = False) -> float:
    """GB/s of one GET whose body is splice(2)d from the socket into /dev/null: the client copies nothing."""
    u = urlsplit(url)
    extra = "Range: bytes=0-\r\n" if byte_range else ""
    null = os.open(os.devnull, os.O_WRONLY)
    r, w = os.pipe()
    fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, MiB)
    with socket.create_connection((u.hostname, u.port)) as sock:
        t = time.perf_counter()
        sock.sendall(f"GET {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n{extra}Connection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:  # peek, then consume exactly the header
            head = sock.recv(65536, socket.MSG_PEEK)
        head = sock.recv(head.index(b"\r\n\r\n") + 4)
        status, *lines = head.decode("latin-1").split("\r\n")
        length = next(int(v) for k, _, v in (x.partition(":") for x in lines) if k.lower() == "content-length")
        if status.split()[1] not in ("200", "206") or length != size:
            raise RuntimeError(f"{url}: {status}, {length} bytes, expected {size}")
        left = length
        while left:
            n = os.splice(sock.fileno(), w, min(left, MiB))
            if not n:
                raise RuntimeError(f"{url}: connection closed with {left} bytes to go")
            left -= n
            while n:
                n -= os.splice(r, null, n)
        seconds = time.perf_counter() - t
    for fd in (r, w, null):
        os.close(fd)
    return size / seconds / 1e9


def curl_get(url: str, size: int) -> float:
    """GB/s of one GET through curl into /dev/null (curl copies every byte into user space)."""
    speed, got = curl("-o", "/dev/null", "-w", "%{speed_download} %{size_download}", url).split()
    if int(got) != size:
        raise RuntimeError(f"{url} gave {got} bytes, expected {size}")
    return float(speed) / 1e9


CLIENTS: dict[str, Callable[[str, int], float]] = {
    "splice": splice_get,
    "splice+range": lambda url, size: splice_get(url, size, byte_range=True),
    "curl": curl_get,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=2048, help="size of the random test file (default 2048)")
    ap.add_argument("--runs", type=int, default=3, help="downloads per server (default 3)")
    args = ap.parse_args()
    size = args.size_mib * MiB
    load = os.getloadavg()[0]
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
                speeds: dict[tuple[str, str], list[float]] = {}
                with RssSampler(hubd) as down_rss:
                    for client, get in CLIENTS.items():
                        for url in urls.values():  # warm-up, not counted
                            get(url, size)
                        for _ in range(args.runs):  # interleaved, so drift hits both alike
                            for server, url in urls.items():
                                speeds.setdefault((client, server), []).append(get(url, size))
    print(f"resolve throughput: {args.size_mib} MiB file, {args.runs} runs each, loopback, page cache warm, "
          f"{os.cpu_count()} cpus, load average before {load:.2f}")
    print("  clients: splice = body splice(2)d to /dev/null (no copy), +range = with 'Range: bytes=0-', "
          "curl = curl -o /dev/null")
    for client in CLIENTS:
        hubd_s, nginx_s = speeds[(client, "hubd")], speeds[(client, "nginx")]
        print(f"  [{client}] hubd  GET /resolve/main/big.bin: {summary(hubd_s, 'GB/s')}")
        print(f"  [{client}] nginx GET /big.bin (sendfile) : {summary(nginx_s, 'GB/s')}")
        print(f"  [{client}] ratio hubd/nginx: best {max(hubd_s) / max(nginx_s):.2f}, "
              f"median {statistics.median(hubd_s) / statistics.median(nginx_s):.2f}  (goal >= 0.9)")
    print(f"  hubd RSS during the LFS upload: {up_rss.report()}")
    print(f"  hubd RSS during the downloads : {down_rss.report()}")


if __name__ == "__main__":
    main()
