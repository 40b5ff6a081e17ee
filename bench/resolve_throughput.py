"""Download throughput of hubd's /resolve/ against nginx (sendfile) serving the very same file.

    .venv/bin/python bench/resolve_throughput.py [--size-mib 2048] [--runs 3]
"""

from __future__ import annotations

import argparse
import fcntl
import os
import signal
import socket
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from _hubd import HUBD, Hubd, MiB, RssSampler, curl, free_port, make_random_file, summary, temp_root, warm
from _nginx import Nginx

ACCEL = "/_hubd_storage/"
# hubd behind nginx with --accel-redirect: the nginx snippet a deployment uses (see tests/e2e/test_accel_redirect.py)
BEHIND = """\
        location /behind/ {{
            proxy_pass http://127.0.0.1:{port}/;
            proxy_buffering off;
        }}
        location {prefix} {{
            internal;
            alias {storage}/;
            etag off;
            add_header ETag $upstream_http_etag;
            add_header X-Repo-Commit $upstream_http_x_repo_commit;
            add_header X-Linked-Etag $upstream_http_x_linked_etag;
            add_header X-Linked-Size $upstream_http_x_linked_size;
        }}
"""


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


def wait_answering(url: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers (401 without a token)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


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
            accel_port = free_port()  # a second hubd over the same data dir, answering with X-Accel-Redirect
            accel = subprocess.Popen([HUBD, "serve", "--port", str(accel_port), "--data-dir", str(hubd.data_dir),
                                      "--log-level", "warning", "--accel-redirect", ACCEL],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            behind = BEHIND.format(port=accel_port, prefix=ACCEL, storage=hubd.data_dir / "storage")
            with Nginx(root, root / "www", behind) as nginx:
                wait_answering(f"http://127.0.0.1:{accel_port}/api/whoami-v2")
                urls = {"hubd": f"{hubd.url}/{repo}/resolve/main/big.bin", "nginx": f"{nginx.url}/big.bin",
                        "accel": f"{nginx.url}/behind/{repo}/resolve/main/big.bin"}
                warm(hubd.object_path(oid))
                speeds: dict[tuple[str, str], list[float]] = {}
                with RssSampler(hubd) as down_rss:
                    for client, get in CLIENTS.items():
                        for url in urls.values():  # warm-up, not counted
                            get(url, size)
                        for _ in range(args.runs):  # interleaved, so drift hits both alike
                            for server, url in urls.items():
                                speeds.setdefault((client, server), []).append(get(url, size))
            os.killpg(accel.pid, signal.SIGTERM)
            accel.wait(10)
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
        accel_s = speeds[(client, "accel")]
        print(f"  [{client}] hubd behind nginx, --accel-redirect: {summary(accel_s, 'GB/s')}; ratio to nginx "
              f"median {statistics.median(accel_s) / statistics.median(nginx_s):.2f}")
    print(f"  hubd RSS during the LFS upload: {up_rss.report()}")
    print(f"  hubd RSS during the downloads : {down_rss.report()}")


if __name__ == "__main__":
    main()
