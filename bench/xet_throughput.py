"""Xet throughput of hubd with the official client: upload, download, dedup, server RSS. Prints figures.

    python bench/xet_throughput.py [--size-mib 2048] [--py-spy DIR]

Upload is compared with `sha256sum` of the same (page-cached) file, run just before and just after the upload
(their mean is the baseline), downloads with nginx serving it (sendfile on); for the plain-HTTP ratio, both
are warmed up and then read HTTP_RUNS times each, interleaved, and the medians compared. Goals (issue 15):
upload >= 0.8x sha256sum, plain-HTTP resolve >= 0.9x nginx. Client runs are subprocesses with a fresh
HF_XET_CACHE each (except dedup (a)); their time is the `upload_file` / `hf_hub_download` call alone,
interpreter start and imports excluded.

Measures: "received by hubd" is the TCP payload hubd's sockets received (tcp_info bytes_received summed
over the connections to hubd's port, polled with `ss` every 50 ms, so the last <50 ms of a connection that
closes may be missed), i.e. what the client sent: xorbs, shards, API calls. "CPU" is user+system time of
the hubd processes (/proc/PID/stat) and of the client subprocess (rusage) during the phase; both share
the machine's cores. RSS is VmRSS sampled every 100 ms. The load average is printed because other work on
the machine skews every figure. With --py-spy DIR, py-spy (on PATH or beside this Python) samples the
hubd worker's GIL holder during each hubd phase and the hottest frames are printed.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _hubd import Hubd, MiB, RssSampler, free_port, make_random_file, warm  # noqa: E402

UPLOAD = ("import sys, time\nfrom huggingface_hub import HfApi\nt = time.perf_counter()\n"
          "HfApi().upload_file(path_or_fileobj=sys.argv[1], path_in_repo=sys.argv[2], repo_id=sys.argv[3])\n"
          "print(time.perf_counter() - t)")
DOWNLOAD = ("import sys, time\nfrom huggingface_hub import hf_hub_download\nt = time.perf_counter()\n"
            "hf_hub_download(sys.argv[3], sys.argv[2], cache_dir=sys.argv[1])\nprint(time.perf_counter() - t)")
NGINX_CONF = """daemon off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{ access_log off; sendfile on; tcp_nopush on; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{ listen 127.0.0.1:{port}; root {root}; }} }}
"""
SPY_RATE = 100


class Received:
    """Bytes hubd's sockets received during the block: per-connection maximum of bytes_received, summed."""

    def __init__(self, port: int) -> None:
        self.port, self.seen, self.before = port, dict[str, int](), dict[str, int]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _poll(self) -> None:
        out = subprocess.run(["ss", "-tinH", f"( sport = :{self.port} )"], capture_output=True, text=True).stdout
        peer = ""
        for line in out.splitlines():
            if not line[:1].isspace():
                peer = line.split()[-1]
            for tok in line.split():
                if tok.startswith("bytes_received:"):
                    self.seen[peer] = max(self.seen.get(peer, 0), int(tok.partition(":")[2]))

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self._poll()

    def __enter__(self) -> Received:
        self._poll()
        self.before = dict(self.seen)  # connections already open count from here
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._poll()

    @property
    def bytes(self) -> int:
        return sum(n - self.before.get(peer, 0) for peer, n in self.seen.items())


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


@dataclass
class Phase:
    wall: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    received: int = 0
    rss: str = ""
    hot: str = ""

    def report(self) -> str:
        return (f"    CPU during {self.wall:.1f} s: hubd {self.server_cpu:.1f} s, client {self.client_cpu:.1f} s; "
                f"hubd RSS {self.rss}\n{self.hot}")


@contextmanager
def phase(hub: Hubd, spy_dir: Path | None, name: str) -> Iterator[Phase]:
    """Measure hubd and the client subprocesses during the block."""
    p, pids = Phase(), list(hub.pids())
    cpu0, kids0, t0 = cpu_seconds(pids), children_cpu(), time.perf_counter()
    with RssSampler(hub) as rss, Received(hub.port) as net, spy(hub, spy_dir, name, p):
        yield p
    p.wall, p.server_cpu = time.perf_counter() - t0, cpu_seconds(pids) - cpu0
    p.client_cpu, p.received = children_cpu() - kids0, net.bytes
    p.rss = "; ".join(f"{role} peak {rss.peak[pid] / 1024:.0f} MiB (before {rss.baseline[pid] / 1024:.0f})"
                      for pid, role in rss.pids.items())


@contextmanager
def spy(hub: Hubd, out_dir: Path | None, name: str, p: Phase) -> Iterator[None]:
    """When asked, record the hubd worker's GIL holder with py-spy into DIR/NAME.txt; summary into p.hot."""
    if out_dir is None:
        yield
        return
    worker = max(pid for pid, role in hub.pids().items() if role == "worker")
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out = out_dir / f"{name}.txt"
    proc = subprocess.Popen([exe, "record", "--pid", str(worker), "--rate", str(SPY_RATE), "--gil", "--format",
                             "raw", "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)  # attached
    t0 = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - t0
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
        p.hot = hot_spots(out, seconds)


def hot_spots(raw: Path, seconds: float, top: int = 8) -> str:
    """Self time by frame and inclusive time of hubd functions, from py-spy's collapsed stacks."""
    leaf: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines() if raw.exists() else []:
        stack, _, count = line.rpartition(" ")
        frames = [f.strip() for f in stack.split(";")]
        leaf[frames[-1] or "(no Python frame)"] += int(count)
        for f in {f.rpartition(":")[0] + ")" for f in frames if "hubd/" in f}:
            incl[f] += int(count)
    total = sum(leaf.values())
    if not total:
        return "    py-spy: no samples\n"
    lines = [f"    py-spy: GIL held by a thread {100 * total / (SPY_RATE * seconds):.0f}% of the time; "
             "of those samples, self time:"]
    lines += [f"      {100 * n / total:5.1f}%  {f}" for f, n in leaf.most_common(top)]
    lines += ["    hubd functions, inclusive:"]
    lines += [f"      {100 * n / total:5.1f}%  {f}" for f, n in incl.most_common(top)]
    return "\n".join(lines) + "\n"


def tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def client(hub: Hubd, code: str, xet_cache: Path, *args: str) -> float:
    """Run a huggingface_hub snippet against hubd; the seconds it printed."""
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": hub.token, "HF_XET_CACHE": str(xet_cache),
           "HF_HOME": str(xet_cache.parent / "hf-home"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    env.pop("HF_HUB_DISABLE_XET", None)
    out = subprocess.run([sys.executable, "-c", code, *args], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


HTTP_RUNS = 3  # plain-HTTP downloads per server


def curl_speed(url: str, *headers: str, to: str = "/dev/null") -> float:
    """Bytes/s of a GET as curl measures it."""
    out = subprocess.run(["curl", "-sS", "--fail", "-L", "-o", to, "-w", "%{speed_download}",
                          *[a for h in headers for a in ("-H", h)], url], check=True, capture_output=True, text=True)
    return float(out.stdout)


def sha256sum_seconds(path: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(["sha256sum", str(path)], check=True, capture_output=True)
    return time.perf_counter() - t0


def sha256_seconds(path: Path) -> float:
    t0 = time.perf_counter()
    h = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while data := f.read(16 * MiB):
            h.update(data)
    return time.perf_counter() - t0


@contextmanager
def nginx(root: Path, work: Path) -> Iterator[str]:
    port = free_port()
    for sub in ("body", "proxy", "fcgi", "uwsgi", "scgi"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    conf = work / "nginx.conf"
    conf.write_text(NGINX_CONF.format(d=work, port=port, root=root))
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(work)], stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(100):
            if subprocess.run(["curl", "-s", "-o", "/dev/null", url], check=False).returncode == 0:
                break
            time.sleep(0.05)
        yield url
    finally:
        proc.send_signal(signal.SIGQUIT)  # graceful stop of this master and its worker
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=2048)
    ap.add_argument("--py-spy", type=Path, default=None, metavar="DIR", help="profile the hubd worker into DIR")
    args = ap.parse_args()
    if shutil.which("nginx") is None:
        sys.exit("nginx is the baseline of the downloads: install it first (apt-get install -y nginx)")
    if args.py_spy:
        args.py_spy.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="hubd-xet-bench-"))
    try:
        run(tmp, args.size_mib * MiB, args.py_spy)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp: Path, size: int, spy_dir: Path | None) -> None:
    files = tmp / "files"
    files.mkdir()
    for d in (tmp, files):
        d.chmod(0o755)  # nginx's worker runs as nobody
    big, mods = files / "big.bin", (files / "big-mod-a.bin", files / "big-mod-b.bin")
    print(f"file: {size / MiB:.0f} MiB of random bytes; load average {os.getloadavg()[0]:.2f} on "
          f"{os.cpu_count()} CPUs")
    make_random_file(big, size)
    for mod in mods:  # each its own change, so that (b) cannot reuse what (a) stored
        shutil.copyfile(big, mod)
        with open(mod, "r+b") as f:
            f.seek(size // 2 - MiB // 2)
            f.write(os.urandom(min(MiB, size)))
    (tmp / "data").mkdir()
    caches = {name: tmp / "clients" / name / "xet" for name in ("up", "down", "fresh")}
    for c in caches.values():
        c.mkdir(parents=True)
    with Hubd(tmp / "data") as hub:
        xet = hub.data_dir / "storage" / "xet"
        repo, repo2 = hub.create_repo("bench"), hub.create_repo("bench2")

        print("\n1. Xet upload (page cache warm)")
        warm(big)
        sha_before, lib_s = sha256sum_seconds(big), sha256_seconds(big)
        with phase(hub, spy_dir, "upload") as p:
            up_s = client(hub, UPLOAD, caches["up"], str(big), "big.bin", repo)
        sha_after = sha256sum_seconds(big)
        sha_s = (sha_before + sha_after) / 2  # the baseline on either side of the upload: load drifts
        print(f"  sha256sum                  {size / sha_s / 1e6:6.0f} MB/s  ({sha_before:.2f} s before, "
              f"{sha_after:.2f} s after the upload)")
        print(f"  hashlib.sha256 (reference) {size / lib_s / 1e6:6.0f} MB/s  ({lib_s:.2f} s)")
        print(f"  hubd Xet upload            {size / up_s / 1e6:6.0f} MB/s  ({up_s:.2f} s)   "
              f"ratio hubd/sha256sum {sha_s / up_s:.2f} (goal >= 0.8), hubd/hashlib {lib_s / up_s:.2f}")
        print(f"    received by hubd {p.received / MiB:.0f} MiB, stored under storage/xet "
              f"{tree_bytes(xet) / MiB:.0f} MiB")
        print(p.report(), end="")

        print("\n2. Downloads (curl to /dev/null unless said; hf_hub_download writes the file to disk)")
        with nginx(files, tmp / "nginx") as url:
            ngx = curl_speed(f"{url}/big.bin") / 1e9
            ngx_disk = curl_speed(f"{url}/big.bin", to=str(tmp / "nginx" / "copy.bin")) / 1e9
            (tmp / "nginx" / "copy.bin").unlink()
        print(f"  nginx sendfile          {ngx:5.2f} GB/s")
        print(f"  nginx sendfile -> file  {ngx_disk:5.2f} GB/s   (curl -o a file in the same temp dir)")
        with phase(hub, spy_dir, "download-xet") as p:
            down_s = client(hub, DOWNLOAD, caches["down"], str(caches["down"].parent / "hub"), "big.bin", repo)
        gb = size / down_s / 1e9
        print(f"  hubd Xet (hf_xet)       {gb:5.2f} GB/s  ({down_s:.2f} s)   ratio to nginx {gb / ngx:.2f}, "
              f"to nginx -> file {gb / ngx_disk:.2f}")
        print(p.report(), end="")
        hub_url, auth = f"{hub.url}/{repo}/resolve/main/big.bin", f"Authorization: Bearer {hub.token}"
        with nginx(files, tmp / "nginx") as url:
            curl_speed(f"{url}/big.bin"), curl_speed(hub_url, auth)  # warm-up of both, not counted
            ngx_runs, hub_runs = [], []
            with phase(hub, spy_dir, "download-http") as p:
                for _ in range(HTTP_RUNS):  # interleaved, so load drift hits both alike
                    ngx_runs.append(curl_speed(f"{url}/big.bin") / 1e9)
                    hub_runs.append(curl_speed(hub_url, auth) / 1e9)
        gb, ngx_mean = statistics.median(hub_runs), statistics.median(ngx_runs)
        print(f"  hubd plain HTTP resolve {gb:5.2f} GB/s   ratio to nginx {gb / ngx_mean:.2f} (goal >= 0.9; medians of "
              f"{HTTP_RUNS} interleaved runs after a warm-up: hubd {', '.join(f'{x:.2f}' for x in hub_runs)}, "
              f"nginx {', '.join(f'{x:.2f}' for x in ngx_runs)} GB/s)")
        print(p.report(), end="")

        print(f"\n3. Dedup: a copy with 1 MiB changed in the middle, a different change for (a) and (b) "
              f"(% of the {size / MiB:.0f} MiB file)")
        for label, cache, target, mod in (("(a) same client cache, same repo", caches["up"], repo, mods[0]),
                                          ("(b) fresh client cache, other repo", caches["fresh"], repo2, mods[1])):
            before_store, before_xorbs = tree_bytes(xet), tree_bytes(xet / "xorbs")
            with phase(hub, None, label) as p:
                secs = client(hub, UPLOAD, cache, str(mod), "big-mod.bin", target)
            grown, xorbs = tree_bytes(xet) - before_store, tree_bytes(xet / "xorbs") - before_xorbs
            print(f"  {label}: {secs:.2f} s")
            for what, n in (("storage added", grown), ("  of which new xorbs", xorbs),
                            ("received by hubd", p.received)):
                print(f"    {what:22s} {n / MiB:10.2f} MiB  {100 * n / size:7.3f}%")
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
